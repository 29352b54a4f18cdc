"""`nas sweep`: sample specs from each design space of an experiment and train them as Ray
Tune trials, appending one row per finished trial to the run's results store.

Everything that can be wrong with the input is checked in planning (`nas.sweeping.plan`),
before Ray starts. The dataset is loaded once in the driver and shared with every trial
through Ray's object store (`tune.with_parameters`).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import shutil
import socket
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blocks.errors import ArgError, UserError, literal
from nas import config as cfgmod
from nas import outputs
from nas.config import Experiment
from nas.records import store
from nas.records.rows import PlanEntry, Status, TrialRow
from nas.records.weights import OWNER, trial_threads, weights_owner
from nas.sweeping import compare, interrupts, memory
from nas.sweeping.interrupts import Interrupted
from nas.sweeping.optimize import WORST_ERROR
from nas.sweeping.plan import Run, SampleRun, SearchRun, context, prepare, space_options
from nas.sweeping.plan import resume as resume_plan
from nas.sweeping.progress import Progress
from nas.sweeping.trial import TrialSetup, make_row, metrics, run_trial
from nas.sweeping.trial import config_entries as _entries
from nas.training import datasets as datamod
from nas.training.stream import usable_cpus

if TYPE_CHECKING:
    from nas.sweeping.feed import Shared


def _trainable(config: dict, plans: Shared, data: datamod.Dataset, setup: TrialSetup) -> None:
    """Ray Tune function trainable: trains each entry of its config (looked up in the sweep's
    plan, which a worker fetches once); per-epoch reports, the last epoch's in one report with
    the row."""
    import ray
    from ray import tune

    node = ray.get_runtime_context().get_node_id()
    for entry in _entries(config, plans.get()):
        last: dict[str, Any] = {}
        row = replace(
            run_trial(entry, data, setup, lambda m: tune.report(dict(m)), last.update), node_id=node
        )
        error = row.error if row.status is Status.OK else WORST_ERROR
        final = {k: last[k] for k in ("epoch", "train_error", "loss", "val_loss") if k in last}
        tune.report(
            metrics(entry, latency_ms=row.latency_ms, **final, val_error=error, row=json.dumps(row.to_dict()))
        )


def _callback(runs: list[Run], plans: dict[str, PlanEntry], exp: Experiment, progress: Progress):
    """Driver-side Tune callback: appends rows the moment they arrive, records trials that
    the scheduler stopped or whose worker died, and keeps only the best K weights. Its work
    per result is constant: the runs' rows are read once, and running trials are counted as
    they start and stop, not by scanning Tune's list of every trial."""
    from ray import tune

    by_space = {r.space: r for r in runs}
    pruned = isinstance(exp.keep_weights, int)
    recorded = {r.space: {row["trial_index"] for row in store.rows(r.dir)} for r in runs}
    # keep_weights: K ranks every row so far at each new one: they are held, not re-read per row
    held = (
        {r.space: {str(t.entry.trial_index): t for t in store.trial_rows(r.dir)} for r in runs}
        if pruned
        else {}
    )
    live: set[str] = set()  # ids of the Tune trials running now

    def record(row: TrialRow) -> None:
        space, index = row.entry.space, row.entry.trial_index
        if index in recorded[space]:
            return  # a retried trial re-ran an entry that already has its row
        recorded[space].add(index)
        run = by_space[space]
        store.append_row(run.dir, row)
        progress.finished(row)
        if pruned:
            held[space][str(index)] = row
            _prune_weights(run.dir, exp.keep_weights, held[space])

    def unrecorded(trial) -> list[PlanEntry]:
        return [e for e in _entries(trial.config, plans) if e.trial_index not in recorded[e.space]]

    def stopped(trial) -> None:
        live.discard(trial.trial_id)
        progress.left(trial.trial_id)
        progress.running(len(live))

    class StoreRows(tune.Callback):
        def on_trial_start(self, iteration, trials, trial, **info):
            live.add(trial.trial_id)

        def on_trial_recover(self, iteration, trials, trial, **info):
            stopped(trial)  # its worker died: it waits to be retried

        def on_trial_result(self, iteration, trials, trial, result, **info):
            live.add(trial.trial_id)
            entries = _entries(trial.config, plans)
            if "row" not in result:
                progress.running(len(live))
                if "epoch" in result:
                    first = entries[0]
                    label = f"{first.space} #{first.trial_index}"
                    progress.epoch(trial.trial_id, label, int(result["epoch"]), result["val_error"])
                return
            row = replace(TrialRow.from_dict(json.loads(result["row"])), retries=trial.num_failures)
            if row.entry.key == entries[-1].key:  # the trial's last entry: it stops running
                stopped(trial)
            else:
                progress.running(len(live))
            record(row)

        def on_trial_complete(self, iteration, trials, trial, **info):
            stopped(trial)
            last = trial.last_result or {}
            if "val_error" not in last:
                return
            for entry in unrecorded(trial):
                # stopped early by the scheduler: keep what it reached
                record(
                    make_row(
                        entry,
                        exp.name,
                        Status.STOPPED,
                        reason=f"stopped by ASHA after epoch {last.get('epoch')}",
                        error=last["val_error"],
                        epochs=int(last.get("epoch", 0)),
                        latency_ms=last.get("latency_ms"),
                        wall_time=float(last.get("time_total_s", 0.0)),
                        retries=trial.num_failures,
                    )
                )

        def on_trial_error(self, iteration, trials, trial, **info):
            stopped(trial)
            reason = f"worker failed {exp.resources.max_retries + 1} time(s); see {trial.path}"
            for entry in unrecorded(trial):
                record(make_row(entry, exp.name, Status.FAILED, reason=reason, retries=trial.num_failures))

    return StoreRows()


def _prune_weights(run_dir: Path, keep: int, rows: dict[str, TrialRow] | None = None) -> None:
    """Keep the `keep` kept weights files whose owner trials have the lowest errors; delete the
    others with their owner records, and claims left with no weights by a trial that has ended.
    `rows`: the run's rows by trial index, when the caller holds them (else read from the store).

    Files are ranked by the trial that produced them, not by model id: two trials of one model
    share one file, owned by the first to finish, so ranking trials would keep it for the other
    trial's error and drop another model's weights. A file whose owner has no row yet waits."""
    if rows is None:
        rows = {str(r.entry.trial_index): r for r in store.trial_rows(run_dir)}
    ranked = []
    for path in (run_dir / "weights").glob("*.pt"):
        owner = weights_owner(path)
        row = rows.get(owner or "")
        if owner is None:  # kept before owners were recorded: the model's best row ranks it
            ok = [r.error for r in rows.values() if r.status is Status.OK and r.entry.model_id == path.stem]
            ranked.append((min(ok, default=float("inf")), path))
        elif row is not None:
            ok = row.status is Status.OK and row.entry.model_id == path.stem
            ranked.append((row.error if ok else float("inf"), path))
    for _, path in sorted(ranked)[keep:]:
        path.unlink(missing_ok=True)
        path.with_suffix(OWNER).unlink(missing_ok=True)
    for claim in (run_dir / "weights").glob(f"*{OWNER}"):
        owner = weights_owner(claim.with_suffix(".pt"))
        if not claim.with_suffix(".pt").exists() and (owner == "" or owner in rows):
            claim.unlink(missing_ok=True)


# Tune settings read from the environment: the classic progress output, and no default loggers
# beside the ones the sweep adds. Set for the sweep's duration only, unless the user set them.
# Tune's own SIGINT handler is off: it would end the sweep quietly as if it had finished.
# Tune snapshots its experiment state (every trial's state: it grows with the sweep) at most
# once a minute: the sweep's record is its rows, from which a resume starts, not the snapshot.
TUNE_ENV = {
    "TUNE_GLOBAL_CHECKPOINT_S": "60",
    "RAY_AIR_NEW_OUTPUT": "0",
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "TUNE_DISABLE_SIGINT_HANDLER": "1",
}


# Tune's controller logs every failed try of a trial with the worker's whole traceback (90 lines
# for a full disk); the sweep records the failure as a row, prints one line for it, and Tune keeps
# the traceback in the trial's error.txt. Quiet for the sweep's duration only.
QUIET_LOGGERS = ("ray.tune.execution.tune_controller",)


@contextmanager
def _tune_env() -> Iterator[None]:
    """TUNE_ENV in the environment and QUIET_LOGGERS silenced inside the block; what the caller had
    comes back after."""
    added = {k: v for k, v in TUNE_ENV.items() if k not in os.environ}
    os.environ.update(added)
    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@contextmanager
def ray_held(address: str | None) -> Iterator[None]:
    """One Ray for several sweeps in a row (`nas explore`'s rounds), so each does not pay its
    start-up: started here unless one is connected already, and then shut down at the end."""
    import ray

    with _tune_env():
        started = _init_ray(address)
    try:
        yield
    finally:
        if started:
            ray.shutdown()


def _interrupted_line(out: Path) -> str:
    """How far an interrupted sweep got, and how to finish it."""
    runs = [d for d in out.iterdir() if d.is_dir() and store.is_run(d)] if out.is_dir() else []
    if not runs:
        return "interrupted before any trial was planned; nothing recorded"
    done = sum(len(store.rows(r)) for r in runs)
    total = sum(store.planned(r) for r in runs)
    return f"interrupted: {done} of {total} trials done; finish with `nas sweep --resume {out}`"


def _init_ray(address: str | None) -> bool:
    """Start a fresh local Ray (never one already running here), or connect to `address`, unless
    already connected; True when this call did it. Signals wait for it to finish."""
    import ray

    if ray.is_initialized():
        return False
    where = f"at {address}" if address else f"(local, {usable_cpus()} CPUs)"
    print(f"starting Ray {where}...", flush=True)
    start = time.perf_counter()
    with interrupts.starting_ray():
        try:
            ray.init(
                address=address or "local",
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.ERROR,
            )
        except ConnectionError as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ArgError(
                "",
                f"{{address}} {literal(address)}: cannot connect to a Ray cluster there ({literal(first)})",
                ["address"],
            ) from None
    print(f"Ray ready in {time.perf_counter() - start:.1f}s", flush=True)
    return True


def execute(exp: Experiment, runs: list[Run], data: datamod.Dataset, out: Path, address: str | None) -> None:
    """Run every pending trial of every run through Ray Tune (local Ray unless `address`)."""
    total = sum(r.todo for r in runs)
    if exp.compare and _decided(out):
        return
    if not total and exp.compare:
        compare.run_rounds(compare.read(out), out, _no_trials)  # every row is in: the looks from them
        return
    if not total:
        print("nothing to do: every trial of this sweep has a recorded row")
        return
    import ray

    if address is None and not ray.is_initialized():
        here = [_this_machine()]
        exp = _packed(exp, runs, data, here, _local_gpu_bytes)
        _refuse_unfit(exp, here, "this machine")  # before Ray starts: no wait
    _require_mlflow(exp)
    interrupts.check()
    with _tune_env():
        started = _init_ray(address)
        try:
            interrupts.check()
            nodes = _alive_nodes()
            exp = _packed(exp, runs, data, nodes, _cluster_gpu_bytes)
            _check_fits(exp, nodes)
            _fit(exp, runs, data, out, total)
        except Exception as err:
            interrupts.check()  # whatever Tune raised on its way out, a signal stopped it
            if isinstance(err.__context__, UserError):  # a full disk in a callback: Tune wraps it
                raise err.__context__ from None
            raise
        finally:
            if started:
                import ray

                ray.shutdown()


def _check_fits(exp: Experiment, nodes: list[dict[str, float]] | None = None) -> None:
    """Refuse, before any trial, a per-trial request that no node of the cluster (`nodes`, else
    its live ones now) can grant (Ray would wait for it forever)."""
    nodes = _alive_nodes() if nodes is None else nodes
    _refuse_unfit(exp, nodes, f"the largest of the cluster's {len(nodes)} node(s)")


def _alive_nodes() -> list[dict[str, float]]:
    """The resources of the cluster's live nodes, each one's memory (bytes) counting its object store."""
    import ray

    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    return [{**n, "memory": n.get("memory", 0.0) + n.get("object_store_memory", 0.0)} for n in nodes]


def _this_machine() -> dict[str, float]:
    """What a local Ray would find here: the CPUs this process may use, the CUDA devices and the memory."""
    import torch

    return {
        "CPU": float(usable_cpus()),
        "GPU": float(torch.cuda.device_count()),
        "memory": float(memory.machine()),
    }


def _refuse_unfit(exp: Experiment, nodes: list[dict[str, float]], where: str) -> None:
    """A UserError when a trial asks for more CPUs, GPUs or memory than the largest of `nodes` has."""
    res = exp.resources
    for field, key, unit in (
        ("cpus_per_trial", "CPU", 1.0),
        ("gpus_per_trial", "GPU", 1.0),
        ("memory_gb_per_trial", "memory", memory.GB),
    ):
        asked, largest = getattr(res, field), max((n.get(key, 0.0) for n in nodes), default=0.0) / unit
        if asked > largest:
            what = "GB of memory" if key == "memory" else f"{key}(s)"
            raise UserError(
                f"{exp.source}: resources.{field}: {asked:g} asked per trial, but "
                f"{where} has {largest:g} {what}; lower it or add such a node"
            )


def _packed(
    exp: Experiment,
    runs: list[Run],
    data: datamod.Dataset,
    nodes: list[dict[str, float]],
    gpu_bytes: Callable[[], int],
) -> Experiment:
    """With resources.pack_gpus, the experiment asking 1/k GPU per trial, k the trials that share
    one GPU (memory.trials_per_gpu, on the node with the most CPUs per GPU); printed. Unchanged
    without it."""
    res = exp.resources
    if not res.pack_gpus:
        return exp
    where = f"{exp.source}: resources.pack_gpus"
    gpu_nodes = [n for n in nodes if n.get("GPU", 0.0) >= 1]
    if not gpu_nodes:
        raise UserError(f"{where}: no GPU here ({len(nodes)} node(s), none with a whole GPU); set it false")
    entries = [e.complexity for r in runs if isinstance(r, SampleRun) for e in r.plan if not e.rejected]
    if not entries:
        raise UserError(f"{where}: needs sample mode's planned specs; set gpus_per_trial instead")
    need = memory.gpu_need(entries, exp.training.batch_size, memory.resident(data))
    per_gpu = max(n["CPU"] / n["GPU"] for n in gpu_nodes)
    have = gpu_bytes()
    k = memory.trials_per_gpu(need, have, per_gpu, res.cpus_per_trial)
    print(
        f"packing {k} trial(s) per GPU (gpus_per_trial {1 / k:.4g}): largest model needs about "
        f"{memory.gb(need)} of a {memory.gb(have)} GPU, {per_gpu:g} CPUs per GPU",
        flush=True,
    )
    return replace(exp, resources=replace(res, gpus_per_trial=1 / k, pack_gpus=False))


def _local_gpu_bytes() -> int:
    """Memory of this machine's first CUDA device."""
    import torch

    return torch.cuda.get_device_properties(0).total_memory


def _cluster_gpu_bytes() -> int:
    """Memory of a cluster's GPU: this machine's when it has one, else as a one-GPU Ray task finds it."""
    import ray
    import torch

    if torch.cuda.is_available():
        return _local_gpu_bytes()
    return ray.get(ray.remote(num_gpus=1, num_cpus=0)(_local_gpu_bytes).remote(), timeout=600)


def _require_mlflow(exp: Experiment) -> None:
    """Refuse, before Ray starts, an `mlflow` URI when the mlflow package is missing."""
    if exp.mlflow and importlib.util.find_spec("mlflow") is None:
        raise UserError(
            f"{exp.source}: mlflow: logging to MLflow needs the mlflow package: "
            "pip install mlflow-skinny (or the project's `mlflow` extra)"
        )


def _mlflow(exp: Experiment) -> Any:
    """Ray's MLflow logger: one MLflow run per trial, under an MLflow experiment named as the sweep's."""
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    return MLflowLoggerCallback(tracking_uri=exp.mlflow, experiment_name=exp.name, save_artifact=False)


def _fit(exp: Experiment, runs: list[Run], data: datamod.Dataset, out: Path, total: int) -> None:
    """Build the trainable and callbacks and run the Tuner(s) of the sweep."""
    from ray import tune

    from nas.sweeping.feed import Shared, pending, slots, tune_config
    from nas.sweeping.tensorboard import Board

    res = exp.resources
    keep = exp.keep_weights != "none"
    setup = TrialSetup(
        exp.name,
        exp.training,
        trial_threads(res.cpus_per_trial),
        exp.search.objectives,
        {r.space: str(r.dir.resolve()) if keep else "" for r in runs},
        memory.per_trial(res),
    )
    plans = {p.key: p for r in runs if isinstance(r, SampleRun) for p in r.plan}
    trainable = tune.with_parameters(_trainable, plans=Shared(plans), data=data, setup=setup)
    trainable = tune.with_resources(trainable, {"cpu": res.cpus_per_trial, "gpu": res.gpus_per_trial})
    progress = Progress(total, exp.training.epochs)
    callbacks = [interrupts.guard(), _callback(runs, plans, exp, progress)]
    try:
        callbacks.append(Board(plans, exp.training))
        print(f"TensorBoard: tensorboard --logdir {out / '_ray'}")
    except ImportError:
        print("tensorboardX is not installed: no TensorBoard logs for this sweep", file=sys.stderr)
    if exp.mlflow:
        callbacks.append(_mlflow(exp))
        print(f"MLflow: experiment '{exp.name}' at {exp.mlflow}")
    upto = f"up to {total} trial(s) in rounds" if exp.compare else f"{total} trial(s)"
    print(f"training {upto}; a line as each ends, running trials' epochs every few seconds", flush=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_config = dict(
        storage_path=str((out / "_ray").resolve()),
        verbose=0,
        callbacks=callbacks,
        failure_config=tune.FailureConfig(max_failures=res.max_retries),
    )
    concurrent = res.max_concurrent or None
    searched = [r for r in runs if isinstance(r, SearchRun)]
    if searched:
        _fit_search(exp, searched, data, trainable, concurrent, stamp, run_config)
    else:

        def fit_keys(keys: list[str], name: str = f"sample-{stamp}") -> None:
            with pending(slots(res.cpus_per_trial, res.gpus_per_trial, concurrent)):
                tune.Tuner(
                    trainable,
                    tune_config=tune_config(keys, res.samples_per_trial, plans, concurrent),
                    run_config=tune.RunConfig(name=name, **run_config),
                ).fit()

        if exp.compare:
            _fit_rounds(out, fit_keys, stamp, progress)
        else:
            fit_keys([f"{r.space}/{i}" for r in runs for i in r.pending])
    progress.close()


def _decided(out: Path) -> bool:
    """True, saying so, when the sweep's comparison is already decided (a resume has nothing to do)."""
    comp = compare.read(out)
    if comp is None:
        raise UserError(f"{out}: the experiment compares spaces but {compare.COMPARISON} is missing")
    if comp.decided:
        print(compare.already(comp))
    return comp.decided


def _fit_rounds(
    out: Path, fit_keys: Callable[[list[str], str], None], stamp: str, progress: Progress
) -> None:
    """Comparison: one Tuner per round, over the round's pending trials of every space; progress
    counts and estimates the round at hand (how many rounds run is not known ahead)."""

    def run_round(k: int, keys: list[str]) -> None:
        progress.upto(len(keys), f" in round {k}")
        fit_keys(keys, f"round{k}-{stamp}")

    compare.run_rounds(compare.read(out), out, run_round)


def _no_trials(k: int, keys: list[str]) -> None:
    """The round runner of a comparison whose every trial has a row: none may be missing."""
    raise UserError(f"round {k}: trials {keys[:3]} have no row, yet none is pending")


def _fit_search(
    exp: Experiment,
    runs: list[SearchRun],
    data: datamod.Dataset,
    trainable: Any,
    concurrent: int | None,
    stamp: str,
    run_config: dict[str, Any],
) -> None:
    """Optimize mode: one Tuner per run whose specs Optuna draws, then the run's Pareto front."""
    from ray import tune

    from nas.sweeping.optimize import DefineByRun, closing_line, scheduler, searcher, write_pareto
    from nas.sweeping.tensorboard import dirname

    ctx = context(exp, data)
    index = {sc.run: i for i, sc in enumerate(exp.spaces)}
    for run in runs:
        if not run.pending:
            continue
        space, options = space_options(exp, index[run.dir.name])
        define = DefineByRun(
            space.name,
            options,
            ctx,
            memory.fits(exp),
            exp.seed,
            run.pending,
            cfgmod.space_segmentation(exp, index[run.dir.name]),
            run.dir.name,
        )
        tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=searcher(define, exp, run.dir),
                scheduler=scheduler(exp),
                num_samples=len(run.pending),
                max_concurrent_trials=concurrent,
                reuse_actors=True,
                trial_dirname_creator=dirname,
            ),
            run_config=tune.RunConfig(name=f"{run.space}-{stamp}", **run_config),
        ).fit()
        front = write_pareto(run.dir, store.trial_rows(run.dir), exp.search.objectives)
        print(closing_line(run.space, run.dir, front, exp.search.objectives))


def sweep(
    path: str | None,
    out: str | None = None,
    address: str | None = None,
    resume: str | None = None,
    overrides: Sequence[str] = (),
) -> list[Run]:
    """Sample, train and record a whole experiment (`overrides`: `PATH=VALUE` settings applied to
    the file before validation), or finish a killed one with `resume`. SIGINT, SIGTERM and
    SIGHUP raise Interrupted, saying how far it got, after Ray is shut down."""
    if resume and overrides:
        raise ArgError(
            "",
            "{set} goes with a new sweep; a resumed sweep keeps its recorded experiment",
            {"set": "overrides"},
        )
    out_dir = Path(resume) if resume else None
    try:
        with interrupts.catching(), ExitStack() as held:
            with interrupts.raising():
                check_address(address)
            if resume:
                if not out_dir.is_dir():
                    raise UserError(f"{out_dir}: no such sweep folder to resume")
                held.enter_context(store.lock(out_dir))
                with interrupts.raising():
                    exp, runs = resume_plan(out_dir, path)
                    data = datamod.load(exp.dataset.name, exp.dataset.params, exp.source)
                print(f"resuming {out_dir}: finishing what has no row yet")
            else:
                with interrupts.raising():
                    exp = cfgmod.load(path, overrides)
                out_dir = Path(out) if out else _default_out(Path("runs") / exp.name)
                _check_new_out(out_dir)
                made = not out_dir.exists()
                held.enter_context(store.lock(out_dir))
                with interrupts.raising():
                    data = datamod.load(exp.dataset.name, exp.dataset.params, exp.source)
                print(
                    f"sweep '{exp.name}' ({exp.search.mode}): {len(exp.spaces)} space(s) x {exp.samples} samples "
                    f"on {data.name} {tuple(data.input_shape)}, {exp.training.epochs} epochs each -> {out_dir}"
                )
                runs = prepare(exp, out_dir, data)
            try:
                execute(exp, runs, data, out_dir, address)
            except UserError:
                if not resume:
                    _undo_unstarted(out_dir, made)
                raise
    except Interrupted as stop:
        line = _interrupted_line(out_dir) if out_dir else "interrupted before the sweep folder was known"
        raise Interrupted(stop.signum, line) from None
    return runs


def check_address(address: str | None) -> None:
    """Refuse, before anything is written, an `address` that is not a Ray address, a Ray Client
    address without Ray Client's package, or one where nothing answers."""
    if address is None or address == "auto":
        return
    legal = (
        "give auto, HOST:PORT (a cluster's head, e.g. 10.0.0.5:6379) or ray://HOST:PORT "
        "(Ray Client), or leave it out for a local Ray"
    )
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    scheme = address.partition("://")[0] if "://" in address else ""
    named = re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\]", host)
    if scheme not in ("", "ray") or not colon or not named or not port.isdigit() or not 0 < int(port) < 65536:
        raise ArgError("", f"{{address}} {literal(repr(address))}: not a Ray address; {legal}", ["address"])
    if scheme and importlib.util.find_spec("grpc") is None:
        raise ArgError(
            "",
            f"{{address}} {literal(address)}: Ray Client (ray://) needs its package: pip install 'ray[client]'; "
            "or give the head's HOST:PORT from a node of the cluster",
            ["address"],
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as err:
        why = err.strerror or type(err).__name__
        raise ArgError(
            "",
            f"{{address}} {literal(address)}: nothing answers there ({literal(why)}); is the cluster up?",
            ["address"],
        ) from None


def _default_out(base: Path) -> Path:
    """runs/NAME, or, when an earlier sweep of the name is there, runs/NAME-YYYYmmdd-HHMMSS beside
    it (as Hydra and Ray Tune make a new folder per run), said in a line."""
    if not base.is_dir() or not any(base.iterdir()):
        return base
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out, i = base.with_name(f"{base.name}-{stamp}"), 1
    while out.exists():
        i += 1
        out = base.with_name(f"{base.name}-{stamp}-{i}")
    print(
        f"{base} holds an earlier sweep (finish it with `nas sweep --resume {base}`); this one goes to {out}"
    )
    return out


def _undo_unstarted(out: Path, made: bool) -> None:
    """Remove the folder of a new sweep that was refused with no trial recorded (its resources
    do not fit, say), so the same command is not then told the folder holds runs; a folder that
    existed before, or holds a row, stays (an interrupted sweep keeps its folder to resume)."""
    runs = [d for d in out.iterdir() if d.is_dir() and store.is_run(d)] if made and out.is_dir() else []
    if made and out.is_dir() and not any(store.rows(r) for r in runs):
        shutil.rmtree(out, ignore_errors=True)


def _check_new_out(out: Path) -> None:
    """Refuse a new sweep's folder that is a file, holds runs, or holds anything else (the
    user's own files, which the sweep's files could overwrite), or a path the OS will not make."""
    outputs.folder(str(out), "out")
    if out.exists() and not out.is_dir():
        raise ArgError(
            "", f"{literal(out)}: {{out}} names a file; give a folder for the sweep (new or empty)", ["out"]
        )
    if not out.is_dir() or not [p for p in out.iterdir() if p.name != store.LOCK]:
        return
    if any(store.is_run(d) for d in out.iterdir() if d.is_dir()):
        raise ArgError(
            "",
            f"{literal(out)}: already holds runs; finish it with {{resume}} {literal(out)} or pick another {{out}}",
            ["resume", "out"],
        )
    raise ArgError(
        "",
        f"{literal(out)}: not empty and not a sweep folder; pick a new or empty folder with {{out}}",
        ["out"],
    )

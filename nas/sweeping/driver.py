"""`nas sweep`: sample specs from each design space of an experiment and train them as Ray
Tune trials, appending one row per finished trial to the run's results store.

Everything that can be wrong with the input is checked in `prepare`, before Ray starts.
The dataset is loaded once in the driver and shared with every trial through Ray's
object store (`tune.with_parameters`).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import nas
from blocks import registry
from blocks.errors import UnknownName, UserError
from blocks.spec import StemSpec, from_dict
from nas import config as cfgmod
from nas.config import Experiment, TrainingConfig
from nas.sweeping import store
from nas.sweeping.optimize import WORST_ERROR
from nas.sweeping.progress import Progress
from nas.training import datasets as datamod
from nas.training.loop import Diverged, train
from spaces import Context, Limits, Space, get, sample


@dataclass
class Run:
    """One design space of an experiment: its directory, its plan (sample mode) and what is left."""

    space: str
    dir: Path
    plan: list[dict[str, Any]]
    pending: list[int]
    remaining: int = 0  # optimize mode: trials still to run
    next_index: int = 0  # optimize mode: index of the next trial


def context(exp: Experiment, data: datamod.Dataset) -> Context:
    """The fixed parts of every spec (input, classes, stem, head), validated against the registry."""
    stem_raw = dict(exp.model.stem)
    head_raw = dict(exp.model.head)
    where = f"{exp.source}: model"
    try:
        stem = StemSpec(stem_raw.pop("type", "simple"), stem_raw.pop("width", 32), stem_raw.pop("params", {}))
    except TypeError as err:
        raise UserError(f"{where}.stem: {err}") from None
    if stem_raw:
        raise UserError(
            f"{where}.stem.{sorted(stem_raw)[0]}: unknown field; legal: ['params', 'type', 'width']"
        )
    for kind, name, params, field in (
        ("stem", stem.type, stem.params, "stem"),
        ("head", "classifier", head_raw, "head"),
    ):
        try:
            fam = registry.get(kind, name)
        except UnknownName as err:
            raise UserError(f"{where}.{field}.type: {err}") from None
        errors = fam.errors(params)
        if errors:
            raise UserError(f"{where}.{field}.params.{errors[0][0]}: {errors[0][1]}")
    return Context(data.input_shape, data.num_classes, stem, head_raw)


def space_options(exp: Experiment, index: int) -> tuple[Space, dict[str, Any]]:
    """The space of `exp.spaces[index]` and its validated options; errors name file and field."""
    sc = exp.spaces[index]
    where = "space" if len(exp.spaces) == 1 else f"spaces[{index}]"
    try:
        space = get(sc.name)
    except UserError as err:
        raise UserError(f"{exp.source}: {where}.name: {err}") from None
    return space, space.resolve(sc.options, where=f"{exp.source}: {where}.options")


def plan_space(exp: Experiment, index: int, ctx: Context) -> list[dict[str, Any]]:
    """Sample the experiment's specs for one space: one entry per trial index."""
    space, options = space_options(exp, index)
    limits = Limits(exp.constraints.flops, exp.constraints.params)
    try:
        samples = sample(space, exp.samples, exp.seed, ctx=ctx, options=options, limits=limits)
    except UserError as err:
        raise UserError(f"{exp.source}: constraints: {err}") from None
    return [
        {
            "trial_index": i,
            "space": space.name,
            "seed": exp.seed * 100_003 + i,
            "model_id": s.spec.model_id,
            "spec": s.spec.to_dict(),
            "values": s.values,
            "complexity": s.complexity.to_dict(),
        }
        for i, s in enumerate(samples)
    ]


def prepare(exp: Experiment, out: Path, data: datamod.Dataset) -> list[Run]:
    """Sample every space (sample mode) and write each run's experiment and plan files."""
    ctx = context(exp, data)
    if exp.search.mode == "optimize":
        for i in range(len(exp.spaces)):
            space_options(exp, i)  # validate now; Optuna draws later
        plans = [[] for _ in exp.spaces]
    else:
        plans = [plan_space(exp, i, ctx) for i in range(len(exp.spaces))]
    runs = []
    for sc, plan in zip(exp.spaces, plans, strict=True):
        run_dir = out / sc.name
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / store.EXPERIMENT).write_text(yaml.safe_dump(exp.to_dict(), sort_keys=False))
        with open(run_dir / store.PLAN, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(p, sort_keys=True) + "\n" for p in plan)
        runs.append(Run(sc.name, run_dir, plan, [p["trial_index"] for p in plan], exp.samples, 0))
    return runs


def resume_runs(out: Path, exp: Experiment) -> list[Run]:
    """Re-read the runs under a sweep folder: what is planned or asked and has no row yet."""
    runs = []
    for run_dir in store.find_runs([str(out)]):
        plan = store.plan(run_dir)
        rows = store.rows(run_dir)
        done = {r["trial_index"] for r in rows}
        space = plan[0]["space"] if plan else run_dir.name
        pending = [p["trial_index"] for p in plan if p["trial_index"] not in done]
        next_index = max(done, default=-1) + 1
        runs.append(Run(space, run_dir, plan, pending, max(0, exp.samples - len(rows)), next_index))
    return runs


def versions() -> dict[str, str]:
    """Versions that produced a row, so later analysis knows what it compares."""
    import ray
    import torch

    return {
        "nas": nas.__version__,
        "torch": torch.__version__,
        "ray": ray.__version__,
        "python": platform.python_version(),
    }


def make_row(entry: dict, experiment: str, status: str, **fields: Any) -> dict[str, Any]:
    """A complete trial row: everything analysis needs without re-running anything."""
    row = {
        "trial_index": entry["trial_index"],
        "space": entry["space"],
        "experiment": experiment,
        "seed": entry["seed"],
        "model_id": entry["model_id"],
        "spec": entry["spec"],
        "values": entry["values"],
        "complexity": entry["complexity"],
        "status": status,
        "reason": "",
        "error": None,
        "val_errors": [],
        "train_errors": [],
        "epochs": 0,
        "wall_time": 0.0,
        "train_time": 0.0,
        "images_per_sec": 0.0,
        "latency_ms": None,
        "retries": 0,
        "device": "",
        "host": platform.node(),
        "finished_at": time.time(),
        "versions": versions(),
    }
    row.update(fields)
    return row


@dataclass(frozen=True)
class TrialSetup:
    """What every trial of a sweep shares; travels to the workers once, through the object store."""

    experiment: str
    training: TrainingConfig
    threads: int
    objectives: tuple[str, ...]
    weight_runs: dict[str, str]  # space -> run folder whose weights/ keeps trained weights ("" for none)


def _metrics(entry: dict, **extra: Any) -> dict[str, Any]:
    cx = entry.get("complexity") or {}
    return {"flops": cx.get("flops", 0), "params": cx.get("params", 0), **extra}


def run_trial(entry: dict, data: datamod.Dataset, setup: TrialSetup, report) -> dict[str, Any]:
    """Train one entry and return its row; each epoch but the last is reported as it ends
    (the last one travels with the row). Failures become rows, not exceptions."""
    start = time.perf_counter()
    if entry.get("rejected"):
        return make_row(entry, setup.experiment, "rejected", reason=entry["rejected"])
    latency = None
    epochs = setup.training.epochs

    def on_epoch(epoch: int, metrics: dict) -> None:
        if epoch < epochs:
            report(_metrics(entry, latency_ms=latency, **metrics))

    try:
        spec = from_dict(entry["spec"], f"plan entry {entry['trial_index']}")
        if "latency" in setup.objectives:
            import torch

            from blocks.network import build
            from nas.sweeping.latency import latency_ms

            dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
            latency = latency_ms(build(spec).to(dev), spec.input_shape, dev)
        res = train(spec, data, setup.training, seed=entry["seed"], threads=setup.threads, on_epoch=on_epoch)
    except Diverged as err:
        return make_row(
            entry, setup.experiment, "diverged", reason=str(err), wall_time=time.perf_counter() - start
        )
    except Exception as err:  # recorded as a failed trial so the sweep goes on
        last = traceback.format_exception_only(type(err), err)[-1].strip()
        return make_row(entry, setup.experiment, "failed", reason=last, wall_time=time.perf_counter() - start)
    run_dir = setup.weight_runs.get(entry["space"], "")
    if run_dir:
        from nas.exporting.weights import save_weights, weights_path

        save_weights(res.model, weights_path(run_dir, entry["model_id"]))
    return make_row(
        entry,
        setup.experiment,
        "ok",
        error=res.error,
        val_errors=res.val_errors,
        train_errors=res.train_errors,
        epochs=res.epochs,
        wall_time=time.perf_counter() - start,
        train_time=res.train_time,
        images_per_sec=res.images_per_sec,
        latency_ms=latency,
        device=res.device,
    )


def _trainable(config: dict, plans: dict, data: datamod.Dataset, setup: TrialSetup):
    """Ray Tune function trainable: a chunk of planned entries (sample mode) or one entry
    drawn by Optuna (optimize mode); per-epoch reports, then one report with each row."""
    import ray
    from ray import tune

    node = ray.get_runtime_context().get_node_id()
    entries = [plans[k] for k in config["keys"]] if "keys" in config else [json.loads(config["nas_entry"])]
    for entry in entries:
        row = run_trial(entry, data, setup, lambda m: tune.report(dict(m)))
        row["node_id"] = node
        error = row["error"] if row["status"] == "ok" else WORST_ERROR
        tune.report(
            _metrics(entry, val_error=error, latency_ms=row["latency_ms"] or 0.0, row=json.dumps(row))
        )


def _callback(runs: list[Run], exp: Experiment, progress: Progress):
    """Driver-side Tune callback: appends rows the moment they arrive, records trials that
    the scheduler stopped or whose worker died, and keeps only the best K weights."""
    from ray import tune

    by_space = {r.space: r for r in runs}
    recorded = {r.space: {row["trial_index"] for row in store.rows(r.dir)} for r in runs}

    def entries_of(trial) -> list[dict]:
        cfg = trial.config
        if "keys" in cfg:
            return [
                plan_entry
                for r in runs
                for plan_entry in r.plan
                if f"{r.space}/{plan_entry['trial_index']}" in cfg["keys"]
            ]
        return [json.loads(cfg["nas_entry"])]

    def record(row: dict) -> None:
        if row["trial_index"] in recorded[row["space"]]:
            return  # a retried trial re-ran an entry that already has its row
        recorded[row["space"]].add(row["trial_index"])
        run = by_space[row["space"]]
        store.append(run.dir / store.TRIALS, row)
        progress.finished(row)
        if isinstance(exp.keep_weights, int):
            _prune_weights(run.dir, exp.keep_weights)

    class StoreRows(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            if "row" in result:
                record({**json.loads(result["row"]), "retries": trial.num_failures})
            progress.running(sum(t.status == "RUNNING" for t in trials))

        def on_trial_complete(self, iteration, trials, trial, **info):
            last = trial.last_result or {}
            for entry in entries_of(trial):
                if entry["trial_index"] in recorded[entry["space"]] or "val_error" not in last:
                    continue
                # stopped early by the scheduler: keep what it reached
                record(
                    make_row(
                        entry,
                        exp.name,
                        "stopped",
                        reason=f"stopped by ASHA after epoch {last.get('epoch')}",
                        error=last["val_error"],
                        epochs=int(last.get("epoch", 0)),
                        latency_ms=last.get("latency_ms"),
                        wall_time=float(last.get("time_total_s", 0.0)),
                        retries=trial.num_failures,
                    )
                )

        def on_trial_error(self, iteration, trials, trial, **info):
            for entry in entries_of(trial):
                if entry["trial_index"] not in recorded[entry["space"]]:
                    reason = f"worker failed {exp.resources.max_retries + 1} time(s); see {trial.path}"
                    record(make_row(entry, exp.name, "failed", reason=reason, retries=trial.num_failures))

    return StoreRows()


def _prune_weights(run_dir: Path, keep: int) -> None:
    """Delete kept weights outside the best `keep` ok trials of a run."""
    ok = sorted((r for r in store.rows(run_dir) if r["status"] == "ok"), key=lambda r: r["error"])
    best = {r["model_id"] for r in ok[:keep]}
    for path in (run_dir / "weights").glob("*.pt"):
        if path.stem not in best:
            path.unlink(missing_ok=True)


def _init_ray(address: str | None) -> bool:
    """Start (or connect to) Ray unless already connected; True when this call did it."""
    import ray

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    if ray.is_initialized():
        return False
    ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    return True


def execute(exp: Experiment, runs: list[Run], data: datamod.Dataset, out: Path, address: str | None) -> None:
    """Run every pending trial of every run through Ray Tune (local Ray unless `address`)."""
    optimize = exp.search.mode == "optimize"
    total = sum(r.remaining for r in runs) if optimize else sum(len(r.pending) for r in runs)
    if not total:
        print("nothing to do: every trial of this sweep has a recorded row")
        return
    started = _init_ray(address)
    try:
        _fit(exp, runs, data, out, total)
    finally:
        if started:
            import ray

            ray.shutdown()


def _fit(exp: Experiment, runs: list[Run], data: datamod.Dataset, out: Path, total: int) -> None:
    """Build the trainable and callbacks and run the Tuner(s) of the sweep."""
    from ray import tune

    optimize = exp.search.mode == "optimize"
    res = exp.resources
    keep = exp.keep_weights != "none"
    setup = TrialSetup(
        exp.name,
        exp.training,
        max(1, int(res.cpus_per_trial)),
        exp.search.objectives,
        {r.space: str(r.dir.resolve()) if keep else "" for r in runs},
    )
    plans = {f"{r.space}/{p['trial_index']}": p for r in runs for p in r.plan}
    trainable = tune.with_parameters(_trainable, plans=plans, data=data, setup=setup)
    trainable = tune.with_resources(trainable, {"cpu": res.cpus_per_trial, "gpu": res.gpus_per_trial})
    progress = Progress(total=total)
    callbacks = [_callback(runs, exp, progress)]
    try:
        from ray.tune.logger import TBXLoggerCallback

        callbacks.append(TBXLoggerCallback())
    except ImportError:
        print("tensorboardX is not installed: no TensorBoard logs for this sweep", file=sys.stderr)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_config = dict(
        storage_path=str((out / "_ray").resolve()),
        verbose=0,
        callbacks=callbacks,
        failure_config=tune.FailureConfig(max_failures=res.max_retries),
    )
    if optimize:
        from nas.sweeping.optimize import DefineByRun, scheduler, searcher, write_pareto

        ctx = context(exp, data)
        limits = Limits(exp.constraints.flops, exp.constraints.params)
        for i, run in enumerate(runs):
            if not run.remaining:
                continue
            space, options = space_options(exp, i)
            define = DefineByRun(space.name, options, ctx, limits, exp.seed, run.next_index)
            tune.Tuner(
                trainable,
                tune_config=tune.TuneConfig(
                    search_alg=searcher(define, exp, run.dir),
                    scheduler=scheduler(exp),
                    num_samples=run.remaining,
                    max_concurrent_trials=res.max_concurrent or None,
                    reuse_actors=True,
                ),
                run_config=tune.RunConfig(name=f"{run.space}-{stamp}", **run_config),
            ).fit()
            front = write_pareto(run.dir, store.rows(run.dir), exp.search.objectives)
            print(
                f"{run.space}: Pareto front on {list(exp.search.objectives)}: {len(front)} model(s) -> {run.dir / 'pareto.json'}"
            )
    else:
        keys = [f"{r.space}/{i}" for r in runs for i in r.pending]
        chunks = [keys[i : i + res.samples_per_trial] for i in range(0, len(keys), res.samples_per_trial)]
        tune.Tuner(
            trainable,
            param_space={"keys": tune.grid_search(chunks)},
            tune_config=tune.TuneConfig(max_concurrent_trials=res.max_concurrent or None, reuse_actors=True),
            run_config=tune.RunConfig(name=f"sample-{stamp}", **run_config),
        ).fit()
    progress.close()


def sweep(
    path: str, out: str | None = None, address: str | None = None, resume: str | None = None
) -> list[Run]:
    """Sample, train and record a whole experiment (or finish a killed one with `resume`)."""
    if resume:
        out_dir = Path(resume)
        first = store.find_runs([str(out_dir)])[0]
        exp = cfgmod.parse(store.experiment(first), str(first / store.EXPERIMENT))
        runs = resume_runs(out_dir, exp)
        data = datamod.load(exp.dataset.name, exp.dataset.params, exp.source)
        print(f"resuming {out_dir}: finishing what has no row yet")
    else:
        exp = cfgmod.load(path)
        out_dir = Path(out or Path("runs") / exp.name)
        if out_dir.exists() and any(store.is_run(d) for d in out_dir.iterdir() if d.is_dir()):
            raise UserError(
                f"{out_dir}: already holds runs; finish it with --resume {out_dir} or pick another --out"
            )
        data = datamod.load(exp.dataset.name, exp.dataset.params, exp.source)
        runs = prepare(exp, out_dir, data)
        print(
            f"sweep '{exp.name}' ({exp.search.mode}): {len(runs)} space(s) x {exp.samples} samples on {data.name} "
            f"{tuple(data.input_shape)}, {exp.training.epochs} epochs each -> {out_dir}"
        )
    execute(exp, runs, data, out_dir, address)
    return runs

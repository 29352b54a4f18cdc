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
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import nas
from blocks import registry
from nas import config as cfgmod
from nas import data as datamod
from nas import store
from nas.config import Experiment, TrainingConfig
from nas.errors import UserError
from nas.progress import Progress
from nas.spec import HeadSpec, StemSpec, from_dict
from nas.train import Diverged, train
from spaces import Context, Limits, get, sample


@dataclass
class Run:
    """One design space of an experiment: its directory and the trial indices still to train."""

    space: str
    dir: Path
    plan: list[dict[str, Any]]
    pending: list[int]


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
        except KeyError as err:
            raise UserError(f"{where}.{field}.type: {err.args[0]}") from None
        errors = fam.errors(params)
        if errors:
            raise UserError(f"{where}.{field}.params.{errors[0][0]}: {errors[0][1]}")
    HeadSpec(data.num_classes, "classifier", head_raw)
    return Context(data.input_shape, data.num_classes, stem, head_raw)


def plan_space(exp: Experiment, index: int, ctx: Context) -> list[dict[str, Any]]:
    """Sample the experiment's specs for one space: one entry per trial index."""
    sc = exp.spaces[index]
    where = "space" if len(exp.spaces) == 1 else f"spaces[{index}]"
    try:
        space = get(sc.name)
    except UserError as err:
        raise UserError(f"{exp.source}: {where}.name: {err}") from None
    options = space.resolve(sc.options, where=f"{exp.source}: {where}.options")
    limits = Limits(exp.constraints.flops, exp.constraints.params)
    try:
        samples = sample(space, exp.samples, exp.seed, ctx=ctx, options=options, limits=limits)
    except UserError as err:
        raise UserError(f"{exp.source}: constraints: {err}") from None
    return [
        {
            "trial_index": i,
            "space": sc.name,
            "seed": exp.seed * 100_003 + i,
            "model_id": s.spec.model_id,
            "spec": s.spec.to_dict(),
            "values": s.values,
            "complexity": s.complexity.to_dict(),
        }
        for i, s in enumerate(samples)
    ]


def prepare(exp: Experiment, out: Path, data: datamod.Dataset) -> list[Run]:
    """Sample every space and write each run's experiment and plan files (new sweeps)."""
    ctx = context(exp, data)
    plans = [plan_space(exp, i, ctx) for i in range(len(exp.spaces))]
    runs = []
    for sc, plan in zip(exp.spaces, plans, strict=True):
        run_dir = out / sc.name
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / store.EXPERIMENT).write_text(yaml.safe_dump(exp.to_dict(), sort_keys=False))
        with open(run_dir / store.PLAN, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(p, sort_keys=True) + "\n" for p in plan)
        runs.append(Run(sc.name, run_dir, plan, [p["trial_index"] for p in plan]))
    return runs


def resume_runs(out: Path) -> list[Run]:
    """Re-read the runs under a sweep folder; pending = planned indices without a recorded row."""
    runs = []
    for run_dir in store.find_runs([str(out)]):
        plan = store.plan(run_dir)
        done = {r["trial_index"] for r in store.rows(run_dir)}
        space = plan[0]["space"] if plan else run_dir.name
        runs.append(
            Run(space, run_dir, plan, [p["trial_index"] for p in plan if p["trial_index"] not in done])
        )
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
        "device": "",
        "host": platform.node(),
        "finished_at": time.time(),
        "versions": versions(),
    }
    row.update(fields)
    return row


def run_trial(
    entry: dict, experiment: str, data: datamod.Dataset, training: TrainingConfig, threads: int, report
):
    """Train one planned spec and return its row; failures become rows, not exceptions."""
    start = time.perf_counter()
    try:
        spec = from_dict(entry["spec"], f"plan entry {entry['trial_index']}")
        res = train(
            spec, data, training, seed=entry["seed"], threads=threads, on_epoch=lambda e, m: report(m)
        )
    except Diverged as err:
        return make_row(entry, experiment, "diverged", reason=str(err), wall_time=time.perf_counter() - start)
    except Exception as err:  # recorded as a failed trial so the sweep goes on
        last = traceback.format_exception_only(type(err), err)[-1].strip()
        return make_row(entry, experiment, "failed", reason=last, wall_time=time.perf_counter() - start)
    return make_row(
        entry,
        experiment,
        "ok",
        error=res.error,
        val_errors=res.val_errors,
        train_errors=res.train_errors,
        epochs=res.epochs,
        wall_time=time.perf_counter() - start,
        train_time=res.train_time,
        images_per_sec=res.images_per_sec,
        device=res.device,
    )


def _trainable(
    config: dict, plans: dict, data: datamod.Dataset, training: TrainingConfig, experiment: str, threads: int
):
    """Ray Tune function trainable: per-epoch reports, then the final row."""
    from ray import tune

    entry = plans[config["key"]]
    row = run_trial(entry, experiment, data, training, threads, lambda m: tune.report(dict(m)))
    tune.report(
        {"row": json.dumps(row), "val_error": row["error"] if row["error"] is not None else float("nan")}
    )


def _store_callback(dirs: dict[str, Path], progress: Progress):
    from ray import tune

    class StoreRows(tune.Callback):
        """Appends each trial's final row to its run's store the moment it arrives."""

        def on_trial_result(self, iteration, trials, trial, result, **info):
            if "row" in result:
                row = json.loads(result["row"])
                store.append(dirs[row["space"]] / store.TRIALS, row)
                progress.finished(row)
            progress.running(sum(t.status == "RUNNING" for t in trials))

    return StoreRows()


def execute(exp: Experiment, runs: list[Run], data: datamod.Dataset, out: Path, address: str | None) -> None:
    """Run every pending trial of every run through Ray Tune (local Ray unless `address`)."""
    import ray
    from ray import tune

    keys = [f"{r.space}/{i}" for r in runs for i in r.pending]
    if not keys:
        print("nothing to do: every planned trial has a recorded row")
        return
    plans = {f"{r.space}/{p['trial_index']}": p for r in runs for p in r.plan}
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    if not ray.is_initialized():
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
            configure_logging=True,
        )
    res = exp.resources
    threads = max(1, int(res.cpus_per_trial))
    trainable = tune.with_parameters(
        _trainable, plans=plans, data=data, training=exp.training, experiment=exp.name, threads=threads
    )
    trainable = tune.with_resources(trainable, {"cpu": res.cpus_per_trial, "gpu": res.gpus_per_trial})
    progress = Progress(total=len(keys))
    tuner = tune.Tuner(
        trainable,
        param_space={"key": tune.grid_search(keys)},
        tune_config=tune.TuneConfig(max_concurrent_trials=res.max_concurrent or None, reuse_actors=True),
        run_config=tune.RunConfig(
            name="tune",
            storage_path=str((out / "_ray").resolve()),
            verbose=0,
            callbacks=[_store_callback({r.space: r.dir for r in runs}, progress)],
            failure_config=tune.FailureConfig(max_failures=2),
        ),
    )
    tuner.fit()
    progress.close()


def sweep(
    path: str, out: str | None = None, address: str | None = None, resume: str | None = None
) -> list[Run]:
    """Sample, train and record a whole experiment (or finish a killed one with `resume`)."""
    if resume:
        out_dir = Path(resume)
        runs = resume_runs(out_dir)
        first = store.experiment(runs[0].dir)
        exp = cfgmod.parse(first, str(runs[0].dir / store.EXPERIMENT))
        data = datamod.load(exp.dataset.name, exp.dataset.params, exp.source)
        left = sum(len(r.pending) for r in runs)
        print(f"resuming {out_dir}: {left} of {sum(len(r.plan) for r in runs)} trials left")
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
            f"sweep '{exp.name}': {len(runs)} space(s) x {exp.samples} samples on {data.name} "
            f"{tuple(data.input_shape)}, {exp.training.epochs} epochs each -> {out_dir}"
        )
    execute(exp, runs, data, out_dir, address)
    return runs

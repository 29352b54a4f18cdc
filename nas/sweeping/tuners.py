"""Building and running a sweep's Ray Tune Tuners: the trainable, its callbacks, and one Tuner
for a sample sweep, one per comparison round, or one per optimize-mode run."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blocks.errors import UserError
from nas import config as cfgmod
from nas.config import Experiment
from nas.records import store
from nas.records.rows import PlanEntry, Status
from nas.records.weights import trial_threads
from nas.sweeping import compare, interrupts, memory
from nas.sweeping.callbacks import mlflow_logger, record_rows
from nas.sweeping.optimize import METRICS, WORST_ERROR
from nas.sweeping.plan import Run, SampleRun, SearchRun, context, space_options
from nas.sweeping.progress import Progress
from nas.sweeping.trial import TrialSetup, metrics, run_trial, tune_result
from nas.sweeping.trial import config_entries as _entries
from nas.training import datasets as datamod

if TYPE_CHECKING:
    from nas.sweeping.feed import Shared


def _trainable(config: dict, plans: Shared, data: Shared, setup: TrialSetup) -> None:
    """Ray Tune function trainable: trains each entry of its config (looked up in its Tuner's
    part of the plan) on the dataset, both fetched once per worker; per-epoch reports, the last
    epoch's in one report with the row."""
    import ray
    from ray import tune

    node = ray.get_runtime_context().get_node_id()
    dataset = data.get()
    for entry in _entries(config, plans.get()):
        last: dict[str, Any] = {}
        row = replace(
            run_trial(
                entry, dataset, setup, lambda m: tune.report(tune_result(m, setup.numbers)), last.update
            ),
            node_id=node,
        )
        error = row.error if row.status is Status.OK else WORST_ERROR
        final = {k: last[k] for k in ("epoch", "train_error", "loss", "val_loss") if k in last}
        values = metrics(entry, latency_ms=row.latency_ms, **final, val_error=error)
        tune.report({**tune_result(values, setup.numbers), "row": json.dumps(row.to_dict())})


def fit(exp: Experiment, runs: list[Run], data: datamod.Dataset, out: Path, total: int) -> None:
    """Build the trainable and callbacks and run the Tuner(s) of the sweep."""
    from ray import tune

    from nas.sweeping.feed import TUNER_TRIALS, Shared, parts, pending, slots, tune_config
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
        numbers=tuple(METRICS[o] for o in exp.search.objectives),
    )
    plans = {p.key: p for r in runs if isinstance(r, SampleRun) for p in r.plan}
    # the entries of the Tuner at hand, all its searcher, callbacks and workers look up: Tune
    # pickles the first two into each Tuner's tuner.pkl, which the whole plan made O(n) a Tuner
    current: dict[str, PlanEntry] = {}
    shared = Shared(data)

    def trainable() -> Any:
        """The trainable of the Tuner at hand: only its plan entries go to the workers."""
        part = tune.with_parameters(_trainable, plans=Shared(dict(current)), data=shared, setup=setup)
        return tune.with_resources(part, {"cpu": res.cpus_per_trial, "gpu": res.gpus_per_trial})

    progress = Progress(total, exp.training.epochs)
    callbacks = [interrupts.guard(), record_rows(runs, current, exp, progress)]
    try:
        callbacks.append(Board(current, exp.training))
        print(f"TensorBoard: tensorboard --logdir {out / '_ray'}")
    except ImportError:
        print("tensorboardX is not installed: no TensorBoard logs for this sweep", file=sys.stderr)
    if exp.mlflow:
        callbacks.append(mlflow_logger(exp))
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
        _fit_search(exp, searched, data, trainable(), concurrent, stamp, run_config)
    else:

        def fit_keys(keys: list[str], name: str = f"sample-{stamp}") -> None:
            with pending(slots(res.cpus_per_trial, res.gpus_per_trial, concurrent)):
                for k, part in enumerate(parts(keys, res.samples_per_trial, TUNER_TRIALS)):
                    interrupts.check()
                    current.clear()
                    current.update((key, plans[key]) for key in part)
                    tune.Tuner(
                        trainable(),
                        tune_config=tune_config(part, res.samples_per_trial, current, concurrent),
                        run_config=_run_config(f"{name}-{k}" if k else name, run_config),
                    ).fit()
                    forget_encoded()

        if exp.compare:
            _fit_rounds(out, fit_keys, stamp, progress)
        else:
            fit_keys([f"{r.space}/{i}" for r in runs for i in r.pending])
    progress.close()


def forget_encoded() -> None:
    """Drop what Ray's `log_once` remembers of a Tuner's trials: its JSON encoder, meeting an
    object it cannot encode in a trial's state (the trial's storage, its checkpoint manager),
    logs once per str() of it, which names the trial, and keeps each key for the process's life
    (about 1 KB a trial). Only those keys go (`ray.util.debug` offers no way but its set)."""
    from ray.util import debug

    debug._logged.difference_update([k for k in debug._logged if k.startswith("tune_func_encode:")])


def _run_config(name: str, settings: dict[str, Any]) -> Any:
    """A Tuner's RunConfig, `settings` with a copy of their callbacks: Tune appends its own
    progress callback to the list it is given, and that callback, kept for the next Tuners,
    would hold every trial of each of them (+84 KB a trial over a 10,000-trial sweep)."""
    from ray import tune

    return tune.RunConfig(name=name, **{**settings, "callbacks": list(settings["callbacks"])})


def decided(out: Path) -> bool:
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


def no_trials(k: int, keys: list[str]) -> None:
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
    """Optimize mode: per run, Tuners of at most TUNER_TRIALS trials whose specs Optuna draws
    (each continues the run's study, as a resume does: Tune holds every trial of a Tuner until
    it ends), then the run's Pareto front."""
    from ray import tune

    from nas.sweeping.feed import TUNER_TRIALS, chunks, pending, slots
    from nas.sweeping.optimize import DefineByRun, closing_line, scheduler, searcher, write_pareto
    from nas.sweeping.study import Spent
    from nas.sweeping.tensorboard import dirname

    res = exp.resources
    ctx = context(exp, data)
    index = {sc.run: i for i, sc in enumerate(exp.spaces)}
    for run in runs:
        if not run.pending:
            continue
        i = index[run.dir.name]
        space, options = space_options(exp, i)
        spent = Spent()  # the study's time over every Tuner of the run
        for k, part in enumerate(chunks(run.pending, TUNER_TRIALS)):
            interrupts.check()
            define = DefineByRun(
                space.name,
                options,
                ctx,
                memory.fits(exp),
                exp.seed,
                part,
                cfgmod.space_segmentation(exp, i),
                run.dir.name,
            )
            study = searcher(define, exp, run.dir)
            study.spent = spent
            # as many drawn trials waiting as the cluster has slots (Tune keeps one for a searcher):
            # each slot's next trial is drawn while it trains, as one per slot would be in turn
            with pending(slots(res.cpus_per_trial, res.gpus_per_trial, concurrent)):
                tune.Tuner(
                    trainable,
                    tune_config=tune.TuneConfig(
                        search_alg=study,
                        scheduler=scheduler(exp),
                        num_samples=len(part),
                        max_concurrent_trials=concurrent,
                        reuse_actors=True,
                        trial_dirname_creator=dirname,
                    ),
                    run_config=_run_config(f"{run.space}-{stamp}" + (f"-{k}" if k else ""), run_config),
                ).fit()
            forget_encoded()
        front = write_pareto(run.dir, store.trial_rows(run.dir), exp.search.objectives)
        print(closing_line(run.space, run.dir, front, exp.search.objectives))
        print(f"{run.space}: {spent.line(exp.search.algorithm)}")

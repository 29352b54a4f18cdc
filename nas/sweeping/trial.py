"""One trial: train one plan entry and turn whatever happens into one complete row."""

from __future__ import annotations

import json
import math
import platform
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nas
from blocks.spec import from_dict
from nas.records.rows import PlanEntry, Status, TrialRow
from nas.records.weights import keep, weights_path
from nas.sweeping import memory
from nas.training import datasets as datamod
from nas.training.config import TrainingConfig
from nas.training.loop import Diverged, train
from nas.training.stream import loader_workers


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


def make_row(entry: PlanEntry, experiment: str, status: Status, **fields: Any) -> TrialRow:
    """A row of `entry`, stamped with this host, the time and the versions that made it."""
    return TrialRow(
        entry,
        experiment,
        status,
        host=platform.node(),
        finished_at=time.time(),
        versions=versions(),
        **fields,
    )


def metrics(entry: PlanEntry, latency_ms: float | None = None, **extra: Any) -> dict[str, Any]:
    """What Tune is told about an entry: its flops and params (none for a rejected draw), its
    latency only when measured (TensorBoard would plot a null as 0.0), and `extra`."""
    out = {k: entry.complexity[k] for k in ("flops", "params") if k in entry.complexity}
    out.update(extra)
    if latency_ms is not None:
        out["latency_ms"] = latency_ms
    return out


RESULT_JSON = "nas"  # the key of a Tune result holding every value the trial reported, as JSON


def tune_result(values: dict[str, Any], numbers: tuple[str, ...]) -> dict[str, Any]:
    """What a trial reports to Tune: all `values` as one JSON string, and as numbers only those
    a scheduler or searcher reads (`numbers`). Tune keeps, for each number a trial reported,
    running statistics and two deques until its Tuner ends, and pickles them into each snapshot
    of the experiment (about 2.5 KB and 0.1 ms a number and trial): a JSON string it keeps as
    it is. A trial of a sample sweep reported 13 numbers, now 7 (6 of them Tune's own)."""
    out = {k: values[k] for k in numbers if k in values}
    out[RESULT_JSON] = json.dumps(values)
    return out


def reported(result: dict[str, Any]) -> dict[str, Any]:
    """A Tune result with the values the trial reported (`tune_result`) as keys of their own."""
    return {**result, **json.loads(result.get(RESULT_JSON) or "{}")}


def config_entries(config: dict[str, Any], plans: dict[str, PlanEntry]) -> list[PlanEntry]:
    """The entries a Tune trial trains: a chunk of planned keys (sample mode) or the one entry
    Optuna drew into its config (optimize mode)."""
    if "keys" in config:
        return [plans[key] for key in config["keys"]]
    return [PlanEntry.from_dict(json.loads(config["nas_entry"]))]


def run_trial(
    entry: PlanEntry,
    data: datamod.Dataset,
    setup: TrialSetup,
    report: Callable[[dict[str, Any]], None],
    last: Callable[[dict[str, Any]], None] | None = None,
) -> TrialRow:
    """Train one entry and return its row; each epoch but the last is reported as it ends,
    the last one's metrics go to `last` (they travel to Tune with the row: a report past
    ASHA's max_t would stop the trial before its row is sent). Failures become rows."""
    start = time.perf_counter()
    if entry.rejected:
        return make_row(entry, setup.experiment, Status.REJECTED, reason=entry.rejected)
    latency = None
    epochs = setup.training.epochs

    def on_epoch(epoch: int, epoch_metrics: dict) -> None:
        sink = report if epoch < epochs else last
        if sink is not None:
            sink(metrics(entry, latency_ms=latency, **epoch_metrics))

    try:
        with memory.limited(setup.memory):
            spec = from_dict(entry.spec, f"plan entry {entry.trial_index}")
            if "latency" in setup.objectives:
                import torch

                from blocks.network import build
                from nas.sweeping.latency import latency_ms

                dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
                latency = latency_ms(build(spec).to(dev), spec.input_shape, dev)
            res = train(
                spec,
                data,
                setup.training,
                seed=entry.seed,
                threads=setup.threads,
                workers=loader_workers(setup.threads),
                on_epoch=on_epoch,
            )
    except Diverged as err:
        return make_row(
            entry, setup.experiment, Status.DIVERGED, reason=str(err), wall_time=time.perf_counter() - start
        )
    except Exception as err:  # recorded as a failed trial so the sweep goes on
        return make_row(
            entry,
            setup.experiment,
            Status.FAILED,
            reason=failure(err, setup),
            wall_time=time.perf_counter() - start,
        )
    run_dir, unkept = setup.weight_runs.get(entry.space, ""), ""
    if run_dir:
        try:
            keep_weights(res.model, run_dir, entry)
        except OSError as err:  # a full disk: the model trained, its row stands without weights
            unkept = f"weights not kept: {err.strerror or err}"
    return make_row(
        entry,
        setup.experiment,
        Status.OK,
        reason=unkept,
        error=res.error,
        val_errors=res.val_errors,
        train_errors=res.train_errors,
        epochs=res.epochs,
        wall_time=time.perf_counter() - start,
        train_time=res.train_time,
        images_per_sec=res.images_per_sec,
        compile_time=res.compile_time if setup.training.compile else None,
        latency_ms=latency,
        device=res.device,
        **_scores(res.scores),
    )


def _scores(scores: dict[str, Any]) -> dict[str, Any]:
    """A result's task scores as row fields, NaN (a class seen nowhere) written as None."""

    def known(v: float) -> float | None:
        return None if math.isnan(v) else v

    return {k: [known(x) for x in v] if isinstance(v, list) else known(v) for k, v in scores.items()}


def keep_weights(model: Any, run_dir: str, entry: PlanEntry) -> bool:
    """Save a trained model as RUN_DIR/weights/<model_id>.pt unless another trial owns that file.

    The first trial of a model id to finish training claims it in <model_id>.trial (appearing
    whole, before the weights), and records there the weights' SHA-256 once they are written; a
    later trial of the same model id keeps nothing, and only a retry of the owner rewrites it. A
    failed write undoes the claim. So kept weights are always those of the trial the record names."""
    return keep(model, weights_path(run_dir, entry.model_id), entry.trial_index)


def failure(err: Exception, setup: TrialSetup) -> str:
    """A failed row's reason: running out of the trial's memory limit, or the exception's last line."""
    if setup.memory and memory.out_of_memory(err):
        return memory.reason(setup.memory)
    return traceback.format_exception_only(type(err), err)[-1].strip()


@dataclass(frozen=True)
class TrialSetup:
    """What every trial of a sweep shares; travels to the workers once, through the object store."""

    experiment: str
    training: TrainingConfig
    threads: int
    objectives: tuple[str, ...]
    weight_runs: dict[str, str]  # space -> run folder whose weights/ keeps trained weights ("" for none)
    memory: int = 0  # bytes a trial may allocate beyond what its process holds (0: no limit)
    numbers: tuple[str, ...] = ("val_error",)  # what Tune is told as numbers (`tune_result`)

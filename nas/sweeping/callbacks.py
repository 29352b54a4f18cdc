"""Driver-side Tune callbacks of a sweep: the one that records each trial's row as it arrives
(and keeps only the best weights), and Ray's MLflow logger."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from typing import Any

from blocks.errors import UserError
from nas.config import Experiment
from nas.records import store
from nas.records.rows import PlanEntry, Status, TrialRow
from nas.sweeping.plan import Run
from nas.sweeping.progress import Progress
from nas.sweeping.pruning import prune_weights
from nas.sweeping.trial import config_entries as _entries
from nas.sweeping.trial import make_row, reported


def record_rows(runs: list[Run], plans: dict[str, PlanEntry], exp: Experiment, progress: Progress):
    """Driver-side Tune callback: appends rows the moment they arrive, records trials that
    the scheduler stopped or whose worker died, and keeps only the best K weights; `plans`
    holds (at least) the entries of the Tuner it serves. Its work
    per result is constant: the runs' rows are read once, and running trials are counted as
    they start and stop, not by scanning Tune's list of every trial."""
    from ray import tune

    dirs = {
        r.space: r.dir for r in runs
    }  # not the runs: Tune pickles its callbacks, and a run holds its plan
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
        store.append_row(dirs[space], row)
        progress.finished(row)
        if pruned:
            held[space][str(index)] = row
            prune_weights(dirs[space], exp.keep_weights, held[space])

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
                values = reported(result)
                if "epoch" in values:
                    first = entries[0]
                    label = f"{first.space} #{first.trial_index}"
                    progress.epoch(trial.trial_id, label, int(values["epoch"]), values["val_error"])
                return
            row = replace(TrialRow.from_dict(json.loads(result["row"])), retries=trial.num_failures)
            # Tune keeps a trial's last result until its Tuner ends and snapshots it with the
            # experiment: the row (its spec, a few KB) is in the store now, and its key, still
            # there, tells the searcher that the trial ended with its row
            result["row"] = ""
            if row.entry.key == entries[-1].key:  # the trial's last entry: it stops running
                stopped(trial)
            else:
                progress.running(len(live))
            record(row)

        def on_trial_complete(self, iteration, trials, trial, **info):
            stopped(trial)
            last = reported(trial.last_result or {})
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


def require_mlflow(exp: Experiment) -> None:
    """Refuse, before Ray starts, an `mlflow` URI when the mlflow package is missing."""
    if exp.mlflow and importlib.util.find_spec("mlflow") is None:
        raise UserError(
            f"{exp.source}: mlflow: logging to MLflow needs the mlflow package: "
            "pip install mlflow-skinny (or the project's `mlflow` extra)"
        )


def mlflow_logger(exp: Experiment) -> Any:
    """Ray's MLflow logger: one MLflow run per trial, under an MLflow experiment named as the sweep's."""
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    class Logger(MLflowLoggerCallback):
        """Ray's, logging every value a trial reported (not only those Tune was told as numbers)
        and dropping an ended trial's run id: Ray's keeps it, and the Trial, for the callback's
        life (every Tuner of the sweep)."""

        def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
            super().log_trial_result(iteration, trial, reported(result))

        def log_trial_end(self, trial: Any, failed: bool = False) -> None:
            super().log_trial_end(trial, failed)
            self._trial_runs.pop(trial, None)

    return Logger(tracking_uri=exp.mlflow, experiment_name=exp.name, save_artifact=False)

"""The Optuna study of a guided search as optuna-dashboard and `optuna.load_study` users expect
it: objectives named, trials ASHA stopped PRUNED with their per-epoch errors as intermediate
values, draws the constraints rejected FAIL (samplers skip them) with the reason as the user
attribute `rejected`, and each trial's model id, complexity and drawn values as user attributes.

Ray's OptunaSearch tells a stopped trial COMPLETE with the error it stopped at and leaves the
study's metric names unset; this subclass changes what it tells the study, nothing else.
Its sampler is wrapped in `OnGrid`, so quantised parameters are recorded as the spec uses them.
"""

from __future__ import annotations

import json
import time
import warnings
from collections import deque
from typing import Any

import optuna
from optuna.trial import TrialState
from ray.tune.result import TRAINING_ITERATION
from ray.tune.search.optuna import OptunaSearch

from nas.records.rows import PlanEntry
from spaces.draw import snap_up


class Spent:
    """Seconds the study (Optuna's sampler and storage) took per trial, with the mean over the
    first and the last WINDOW trials: a model-based sampler's cost grows with the trials it
    learns from by design, and a sweep's report keeps it apart from the harness's own."""

    WINDOW = 100

    def __init__(self) -> None:
        self.trials, self.total, self.first = 0, 0.0, 0.0
        self.last: deque[float] = deque(maxlen=self.WINDOW)
        self.now = 0.0  # the trial at hand's seconds so far (its draw, then its results)

    def add(self, seconds: float) -> None:
        """Count `seconds` of Optuna's work towards the trial at hand."""
        self.now += seconds

    def close(self) -> None:
        """The trial at hand was drawn and told: its seconds join the tallies."""
        self.trials += 1
        self.total += self.now
        if self.trials <= self.WINDOW:
            self.first += self.now
        self.last.append(self.now)
        self.now = 0.0

    def line(self, sampler: str) -> str:
        """What the study cost: per trial overall, over the first and over the last trials."""
        if not self.trials:
            return f"{sampler} sampler and study: no trial"
        head = min(self.trials, self.WINDOW)
        return (
            f"{sampler} sampler and study: {self.trials} trials, {1e3 * self.total / self.trials:.1f} ms a "
            f"trial (first {head}: {1e3 * self.first / head:.1f} ms, last {len(self.last)}: "
            f"{1e3 * sum(self.last) / len(self.last):.1f} ms), drawing the specs not counted"
        )


class Study(OptunaSearch):
    """OptunaSearch whose study names its objectives, prunes stopped trials and labels each
    trial, timing what Optuna itself does for each trial (`spent`)."""

    def __init__(self, *args: Any, metric_names: list[str], **kwargs: Any):
        self._metric_names = metric_names
        self._reported: dict[str, int] = {}  # trial -> last step reported as an intermediate value
        self._rejected: set[str] = set()  # trials whose draw the constraints refused: never trained
        self.spent = Spent()
        super().__init__(*args, **kwargs)

    def _setup_study(self, mode: Any) -> None:
        super()._setup_study(mode)
        with warnings.catch_warnings():  # "experimental" since Optuna 3.2, and still there
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._ot_study.set_metric_names(self._metric_names)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id in self._rejected:  # it trained nothing: no intermediate value to report
            return
        start = time.perf_counter()
        super().on_trial_result(trial_id, result)
        self.spent.add(time.perf_counter() - start)
        self._reported[trial_id] = result[TRAINING_ITERATION]

    def suggest(self, trial_id: str) -> dict | None:
        start, drawing = time.perf_counter(), getattr(self._space, "seconds", 0.0)
        config = super().suggest(trial_id)
        if config and "nas_entry" in config:
            entry = PlanEntry.from_dict(json.loads(config["nas_entry"]))
            label(self._ot_trials[trial_id], entry)
            if entry.rejected:
                self._rejected.add(trial_id)
        # Optuna's ask and labels; the define-by-run draw of the spec is the sweep's own work
        self.spent.add(time.perf_counter() - start - (getattr(self._space, "seconds", 0.0) - drawing))
        return config

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        start = time.perf_counter()
        try:
            self._complete(trial_id, result, error)
        finally:
            self.spent.add(time.perf_counter() - start)
            self.spent.close()
        self._forget(trial_id)

    def _forget(self, trial_id: str) -> None:
        """Drop what is held for a told trial (only its id stays, so a second completion is
        ignored): OptunaSearch keeps every Optuna trial object it asked for, which held memory
        per trial for the run's life and went into every snapshot of Tune's experiment (Tune
        pickles the searcher's whole state): 860 bytes a trial pickled, at tiny specs."""
        if trial_id in self._completed_trials:
            self._ot_trials.pop(trial_id, None)
            self._reported.pop(trial_id, None)
            self._rejected.discard(trial_id)

    def _complete(self, trial_id: str, result: dict | None, error: bool) -> None:
        """Tell the study how the trial ended (see on_trial_complete's callers in the module doc)."""
        if trial_id in self._rejected and trial_id not in self._completed_trials:
            # Optuna's convention for a draw that has no objective value: FAIL, no values, no
            # intermediate values, so samplers and trials_dataframe() leave it out of the search
            self._ot_study.tell(self._ot_trials[trial_id], state=TrialState.FAIL)
            self._completed_trials.add(trial_id)
            return
        if result and "row" in result and isinstance(self.metric, list):
            # a failed trial has no complexity or latency: the worst there is
            result = {**{m: float("inf") for m in self.metric}, **result}
        if result and self._unreported(trial_id, result):
            # Tune hands a trial's last result (the one a scheduler stopped it on, or the one
            # with its row) to on_trial_complete only: it is an intermediate value too
            self.on_trial_result(trial_id, result)
        if error or not result or "row" in result or trial_id in self._completed_trials:
            super().on_trial_complete(trial_id, result, error)
            return
        # no row: the scheduler stopped it; PRUNED keeps its last intermediate value as its value
        self._ot_study.tell(self._ot_trials[trial_id], state=TrialState.PRUNED)
        self._completed_trials.add(trial_id)

    def _unreported(self, trial_id: str, result: dict) -> bool:
        """Whether a result of a running single-objective trial is not yet an intermediate value."""
        single = not isinstance(self.metric, list) and trial_id not in self._completed_trials
        return single and self._reported.get(trial_id) != result[TRAINING_ITERATION]


def label(trial: Any, entry: PlanEntry) -> None:
    """Attach an entry's trial index, model id, complexity and drawn values to its Optuna trial
    (the study's own params hold what the sampler drew before the space rounds it)."""
    trial.set_user_attr("trial_index", entry.trial_index)
    trial.set_user_attr("space", entry.space)
    trial.set_user_attr("values", entry.values)
    if entry.rejected:
        trial.set_user_attr("rejected", entry.rejected)
        return
    trial.set_user_attr("model_id", entry.model_id)
    for key in ("flops", "params", "acts"):
        if key in entry.complexity:
            trial.set_user_attr(key, entry.complexity[key])


class OnGrid(optuna.samplers.BaseSampler):
    """A sampler that rounds each parameter a space quantises (registered in `grid` by
    spaces.draw.keep_on_grid) up onto its grid as it is drawn: the study then records the value
    the spec was built with, where Optuna alone (no log law with a step) records the float
    before rounding. Everything else is the inner sampler's."""

    def __init__(self, inner: optuna.samplers.BaseSampler):
        self.inner, self.grid = inner, {}

    def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
        return self.inner.infer_relative_search_space(study, trial)

    def sample_relative(self, study: Any, trial: Any, search_space: dict[str, Any]) -> dict[str, Any]:
        drawn = self.inner.sample_relative(study, trial, search_space)
        return {k: self._snap(k, v, search_space[k]) for k, v in drawn.items()}

    def sample_independent(self, study: Any, trial: Any, name: str, distribution: Any) -> Any:
        return self._snap(name, self.inner.sample_independent(study, trial, name, distribution), distribution)

    def before_trial(self, study: Any, trial: Any) -> None:
        self.inner.before_trial(study, trial)

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        self.inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.inner.reseed_rng()

    def _snap(self, name: str, value: Any, distribution: Any) -> Any:
        if name not in self.grid:
            return value
        return snap_up(value, self.grid[name], distribution.high)

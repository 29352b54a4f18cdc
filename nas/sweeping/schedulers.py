"""Tune schedulers that choose the next trial to start among the live trials only.

Tune asks its scheduler for a trial to start at every step of its loop (several a trial).
Tune's FIFOScheduler, and ASHA which inherits it, walk the controller's list of every trial
of the experiment, finished ones first, looking for one waiting: each step costs as much as
the trials finished so far, and a sweep's harness cost grows with the square of its size
(0.8 ms a step averaged over a 2,000-trial sweep, several ms a step by 10,000). These pick
the same trial, the one waiting longest (a trial re-queued after its worker died goes last,
as in Tune), from the controller's live trials: the running and waiting ones, a number the
cluster's slots bound, not the sweep's size.
"""

from __future__ import annotations

import itertools
from typing import Any

from ray.tune.experiment import Trial
from ray.tune.schedulers import AsyncHyperBandScheduler, FIFOScheduler


class LiveFirst:
    """Mixin for a FIFOScheduler subclass: `choose_trial_to_run` over live trials, in the order
    Tune added (or re-queued) them."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._added: dict[str, int] = {}  # live trial id -> when Tune added it
        self._clock = itertools.count()

    def on_trial_add(self, tune_controller: Any, trial: Trial) -> None:
        super().on_trial_add(tune_controller, trial)
        self._added[trial.trial_id] = next(self._clock)

    def on_trial_error(self, tune_controller: Any, trial: Trial) -> None:
        super().on_trial_error(tune_controller, trial)
        self._added.pop(trial.trial_id, None)  # a retry is added again, last

    def on_trial_complete(self, tune_controller: Any, trial: Trial, result: dict) -> None:
        super().on_trial_complete(tune_controller, trial, result)
        self._added.pop(trial.trial_id, None)

    def on_trial_remove(self, tune_controller: Any, trial: Trial) -> None:
        super().on_trial_remove(tune_controller, trial)
        self._added.pop(trial.trial_id, None)

    def choose_trial_to_run(self, tune_controller: Any) -> Trial | None:
        """The live trial waiting longest: PENDING first, else PAUSED; None when none waits."""
        live = tune_controller.get_live_trials()
        for status in (Trial.PENDING, Trial.PAUSED):
            waiting = [t for t in live if t.status == status]
            if waiting:
                return min(waiting, key=lambda t: self._added.get(t.trial_id, -1))
        return None


class LiveFIFO(LiveFirst, FIFOScheduler):
    """Tune's first-in-first-out scheduler, choosing among live trials."""


class LiveASHA(LiveFirst, AsyncHyperBandScheduler):
    """ASHA (asynchronous successive halving), choosing among live trials."""

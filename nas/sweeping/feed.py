"""Feeding a sample-mode sweep's planned trials to Ray Tune one Tune trial at a time.

A `tune.grid_search` over the list of every trial's keys makes Tune's BasicVariantGenerator
deep-copy the whole unresolved space, list included, for each variant: time and memory grow
as the square of the sweep. `PlanFeed` is a Tune Searcher that hands out the next chunk of
`samples_per_trial` keys when Tune asks for a trial, so each Tune trial's config holds only
its own keys (and its folder's name) and creating it costs the same at 100 trials as at
100,000. A retried trial keeps its config, so it re-runs the same entries. A large sweep
runs as several Tuners (`parts`), since Tune holds every trial it ran. `pending` lets
Tune keep as many trials waiting as the cluster has slots (`slots`), and `Shared` carries the
dataset and each Tuner's part of the plan (not the whole plan: a worker's first trial waits
for it) to the workers, each unpickled once per worker process, not once per trial.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ray.tune.search import Searcher

from nas.records.rows import PlanEntry
from nas.sweeping.tensorboard import dirname, trial_name


def chunks(keys: list[str], size: int) -> list[list[str]]:
    """`keys` cut in order into lists of `size` (the last one shorter): one per Tune trial."""
    return [keys[i : i + size] for i in range(0, len(keys), size)]


TUNER_TRIALS = 10_000  # Tune trials one Tuner of a sweep runs at most; see `parts`


def parts(keys: list[str], per_trial: int, most: int) -> list[list[str]]:
    """`keys` cut in order into the keys of successive Tuners of at most `most` Tune trials of
    `per_trial` keys. Tune keeps every trial's record (the Trial, its last result, the metric
    statistics and their JSON for the experiment state: about 31 KB, see `trial.tune_result`)
    until its Tuner ends, and snapshots them all: a Tuner per part bounds the driver's memory
    (0.3 GB at 10,000) and each snapshot by the part, not the sweep. A change of Tuner idles
    every slot for 5-12 s (the old Tuner's tail, and each new worker process imports torch),
    while the trials inside a Tuner cost the same from its first to its last: at 10,000 a
    Tuner, a change adds under 1 ms a trial and slot."""
    return chunks(keys, per_trial * most)


def tune_config(keys: list[str], per_trial: int, plans: dict[str, PlanEntry], concurrent: int | None) -> Any:
    """The TuneConfig of a sample-mode Tuner training `keys`, `per_trial` of them a Tune trial."""
    from ray import tune

    from nas.sweeping.schedulers import LiveFIFO

    planned = chunks(keys, per_trial)
    return tune.TuneConfig(
        search_alg=PlanFeed(planned, plans),
        scheduler=LiveFIFO(),
        num_samples=len(planned),
        max_concurrent_trials=concurrent,
        reuse_actors=True,
        trial_dirname_creator=dirname,
    )


PENDING = "TUNE_MAX_PENDING_TRIALS_PG"  # trials Tune keeps waiting for a worker, read as a Tuner starts
NO_LIMIT = 200  # Tune's own floor of pending trials, for trials that ask for neither CPUs nor GPUs


def slots(cpus_per_trial: float, gpus_per_trial: float, concurrent: int | None) -> int:
    """Trials the connected Ray cluster can run at once now, by its CPUs and GPUs (at least
    one, at most `concurrent` when set)."""
    import ray

    have = ray.cluster_resources()
    fits = [have.get(k, 0.0) / per for k, per in (("CPU", cpus_per_trial), ("GPU", gpus_per_trial)) if per]
    n = max(1, math.floor(min(fits, default=NO_LIMIT) + 1e-9))
    return min(n, concurrent) if concurrent else n


@contextmanager
def pending(trials: int) -> Iterator[None]:
    """Inside the block, Tuners keep up to `trials` trials waiting for a worker (unless the
    user set how many): for a searcher Tune keeps one, so a cluster's slots would fill one
    trial at a time, each waiting for the one before to start."""
    if PENDING in os.environ:
        yield
        return
    os.environ[PENDING] = str(trials)
    try:
        yield
    finally:
        os.environ.pop(PENDING, None)


KEPT = 2  # Shared values a worker process keeps: the dataset and the plan of the Tuner at hand
_fetched: dict[str, Any] = {}  # this worker process's copies of the Shared values it read last


class Shared:
    """A value put once in Ray's object store and read once per worker process. Tune's
    `with_parameters` fetches (unpickles) its values anew for every trial, which for the
    dataset and a Tuner's plan is work per trial that grows with them; this holder travels
    instead (a few bytes), and a worker that runs many trials unpickles each value once."""

    def __init__(self, value: Any):
        import ray

        self.ref = ray.put(value)

    def get(self) -> Any:
        """The value, fetched on this process's first call; the oldest of more than KEPT
        values read here is dropped (a Tuner's plan replaces the last one's)."""
        key = self.ref.hex()
        if key not in _fetched:
            import ray

            _fetched[key] = ray.get(self.ref)
            while len(_fetched) > KEPT:
                del _fetched[next(iter(_fetched))]
        return _fetched[key]


class PlanFeed(Searcher):
    """Tune's searcher of a sample-mode sweep: trial i's config is chunk i's keys and its
    folder name (`tensorboard.trial_name`), in plan order, until the chunks run out. Its
    checkpoint holds only the position: the chunks come from the plan, which the sweep
    folder keeps."""

    def __init__(self, planned: list[list[str]], plans: dict[str, PlanEntry]):
        super().__init__()
        self.planned, self.plans, self.position = planned, plans, 0

    def suggest(self, trial_id: str) -> dict[str, Any] | str:
        """The next chunk's config, or FINISHED once every chunk was handed out."""
        if self.position >= len(self.planned):
            return Searcher.FINISHED
        keys = self.planned[self.position]
        self.position += 1
        return {"keys": keys, "name": trial_name([self.plans[k] for k in keys])}

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """Nothing to learn from a result: the plan was drawn before the sweep."""

    def save(self, checkpoint_path: str) -> None:
        """Write the position (a few bytes, however large the plan) to Tune's experiment state."""
        Path(checkpoint_path).write_text(json.dumps({"position": self.position}), encoding="utf-8")

    def restore(self, checkpoint_path: str) -> None:
        """Take the position back from a checkpoint `save` wrote."""
        self.position = int(json.loads(Path(checkpoint_path).read_text(encoding="utf-8"))["position"])

"""Feeding a sample-mode sweep's planned trials to Ray Tune one Tune trial at a time.

A `tune.grid_search` over the list of every trial's keys makes Tune's BasicVariantGenerator
deep-copy the whole unresolved space, list included, for each variant: time and memory grow
as the square of the sweep. `PlanFeed` is a Tune Searcher that hands out the next chunk of
`samples_per_trial` keys when Tune asks for a trial, so each Tune trial's config holds only
its own keys (and its folder's name) and creating it costs the same at 100 trials as at
100,000. A retried trial keeps its config, so it re-runs the same entries.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ray.tune.search import Searcher

from nas.sweeping.records import PlanEntry
from nas.sweeping.tensorboard import trial_name


def chunks(keys: list[str], size: int) -> list[list[str]]:
    """`keys` cut in order into lists of `size` (the last one shorter): one per Tune trial."""
    return [keys[i : i + size] for i in range(0, len(keys), size)]


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

"""The exploration loop: from a space, repeat: propose candidate refinements from its latest round,
draw fresh models of the parent and of every candidate, test each candidate's non-inferiority to
the parent on complexity-normalised EDFs, move to the best one that passes; stop when none passes,
when no candidate is left, or when the steps or the model budget are spent.

Training is the caller's: a `Runner` returns the finished models of one space for one round (a
real sweep, or the synthetic trainer). Rounds are named by step and slot (`label`) and seeded from
them, so a runner that keeps what it trained makes a rerun read the same rounds again, and steps
already recorded are taken as recorded (`recorded`), not decided again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from blocks.errors import ParamError
from nas.analysis.defaults import LEVEL, SUBSAMPLE
from nas.exploring.candidates import KINDS, Candidate, Round, check_kinds, propose
from nas.stats import noninferiority as ni

Runner = Callable[[str, Candidate, int, int], Round]  # (label, space, models, seed) -> its round
NO_CANDIDATE, NONE_PASSES, BUDGET, STEPS = "no candidate", "none passes", "budget spent", "steps spent"


@dataclass(frozen=True)
class Settings:
    """How an exploration runs: models per space per round, the non-inferiority margin (on
    P(candidate error < parent error)), the level over the whole path, the most steps (each spends
    level / steps), the most models in all (None: no cap), the allowed kinds, the best-model
    interval's subsample and confidence, the complexity bins (None: nas.stats.edf's default) and
    the seed of the first round."""

    models: int = 100
    margin: float = 0.1
    level: float = 0.05
    steps: int = 6
    budget: int | None = None
    kinds: tuple[str, ...] = KINDS
    subsample: float = SUBSAMPLE
    interval: float = LEVEL
    bins: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        ni.check_level("margin", self.margin)
        ni.step_level(self.level, self.steps)
        check_kinds(list(self.kinds))
        if int(self.models) != self.models or self.models < 4:
            raise ParamError("models", f"{self.models!r} is illegal; legal: a whole number >= 4")
        if self.budget is not None and (int(self.budget) != self.budget or self.budget < self.models):
            raise ParamError(
                "budget", f"{self.budget!r} is illegal; legal: a whole number >= models ({self.models})"
            )


@dataclass
class Step:
    """One step: the parent, each candidate with its test and whether it passed (Holm at the
    step's level), the index of the accepted one, models trained, and why the path ends here."""

    index: int
    parent: Candidate
    tests: list[dict] = field(default_factory=list)
    accepted: int | None = None
    models: int = 0
    stop: str = ""

    @property
    def chosen(self) -> Candidate | None:
        """The accepted candidate, if any."""
        return None if self.accepted is None else Candidate.from_dict(self.tests[self.accepted]["candidate"])

    def to_dict(self) -> dict:
        """JSON-safe dict."""
        return {**asdict(self), "parent": self.parent.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> Step:
        """Inverse of to_dict."""
        return cls(**{**d, "parent": Candidate.from_dict(d["parent"])})


def label(step: int, slot: int) -> str:
    """The name of a round: step 0 is the starting round; slot 0 the parent, 1.. the candidates."""
    return "start" if step == 0 else f"step{step}-{'parent' if slot == 0 else f'c{slot}'}"


def round_seed(settings: Settings, step: int, slot: int) -> int:
    """Each round its own seed, fixed by its place in the path."""
    return settings.seed + 1000 * step + slot


def _finite(r: Round) -> tuple[np.ndarray, np.ndarray]:
    """Errors and complexities of the models that finished with an error."""
    ok = np.isfinite(r.errors)
    return np.asarray(r.errors)[ok], np.asarray(r.complexity)[ok]


def explore(
    start: Candidate,
    run: Runner,
    settings: Settings,
    recorded: Sequence[Step] = (),
    record: Callable[[Step], None] | None = None,
) -> list[Step]:
    """The path from `start`: steps in `recorded` are replayed (their rounds read again through
    `run`), the rest decided and handed to `record` as each ends."""
    n = settings.models
    current, data = start, run(label(0, 0), start, n, round_seed(settings, 0, 0))
    steps, used = list(recorded), n
    for s in steps:
        used += s.models
        if s.stop:
            return steps
        current, data = (
            s.chosen,
            run(label(s.index, s.accepted + 1), s.chosen, n, round_seed(settings, s.index, s.accepted + 1)),
        )
    for k in range(len(steps) + 1, settings.steps + 1):
        step, chosen_round = _step(k, current, data, run, settings, used)
        used += step.models
        steps.append(step)
        if record:
            record(step)
        if step.stop:
            return steps
        current, data = step.chosen, chosen_round
    return steps


def _step(
    k: int, parent: Candidate, data: Round, run: Runner, settings: Settings, used: int
) -> tuple[Step, Round | None]:
    """Propose, sample, test and decide step k: the step and the accepted candidate's round."""
    n = settings.models
    cands = propose(parent, data, list(settings.kinds), settings.subsample, settings.interval)
    need = (1 + len(cands)) * n
    if not cands:
        return Step(k, parent, stop=NO_CANDIDATE), None
    if settings.budget is not None and used + need > settings.budget:
        return Step(k, parent, stop=BUDGET), None
    base = _finite(run(label(k, 0), parent, n, round_seed(settings, k, 0)))
    rounds = [run(label(k, j + 1), c, n, round_seed(settings, k, j + 1)) for j, c in enumerate(cands)]
    results = [ni.normalised_test(*_finite(r), *base, settings.margin, settings.bins) for r in rounds]
    passed = ni.holm([t.p for t in results], ni.step_level(settings.level, settings.steps))
    tests = [
        {"candidate": c.to_dict(), "test": t.to_dict(), "passed": ok}
        for c, t, ok in zip(cands, results, passed)
    ]
    winners = [j for j, ok in enumerate(passed) if ok]
    best = max(winners, key=lambda j: results[j].pi) if winners else None
    stop = NONE_PASSES if best is None else STEPS if k == settings.steps else ""
    return Step(k, parent, tests, best, need, stop), None if best is None else rounds[best]

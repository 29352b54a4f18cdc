"""A sequential comparison of design spaces (experiment field `compare`): the spaces' planned
trials run in rounds of equal size, and after each round a group-sequential KS test
(nas.stats.sequential) looks at every pair of spaces; the sweep stops once every pair is
decided. The sweep-level record SWEEP/comparison.json holds the design (computed once, when
planned), the pairs, every look so far and the decision.

A trial that did not end ok counts as 100% error, so every space keeps the same number of
models at every look. The looks are recomputed from the stored rows on resume: they are a
function of the rows, so a resumed comparison takes the same path as an uninterrupted one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blocks.errors import UserError
from nas.outputs import unlinked
from nas.records import store
from nas.records.rows import Status, TrialRow
from nas.stats import sequential

if TYPE_CHECKING:
    from nas.config import Experiment  # a type only: nas.config imports torch, analysis must not

COMPARISON = store.COMPARISON
FAILED_ERROR = 100.0  # the error a trial that did not end ok counts with, in %
RoundRunner = Callable[[int, list[str]], None]  # trains round k's (1-based) keys SPACE/INDEX


@dataclass
class Pair:
    """Two spaces compared, and the looks taken at them so far (the last one may decide)."""

    a: str
    b: str
    looks: list[sequential.Look] = field(default_factory=list)

    @property
    def decided(self) -> bool:
        """True once a look has decided the pair."""
        return bool(self.looks) and self.looks[-1].decision is not None

    @property
    def label(self) -> str:
        """The pair as 'A vs B'."""
        return f"{self.a} vs {self.b}"

    def to_dict(self) -> dict[str, Any]:
        """The pair's entry of comparison.json."""
        last = self.looks[-1] if self.decided else None
        return {
            "a": self.a,
            "b": self.b,
            "decision": last.decision if last else None,
            "better": self.name_of(last.better) if last and last.decision == sequential.SEPARATED else None,
            "looks": [lk.to_dict() for lk in self.looks],
        }

    def name_of(self, side: str | None) -> str | None:
        """The space a look's `better` ("a" or "b") names."""
        return {"a": self.a, "b": self.b}.get(side or "")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pair:
        """The pair of a comparison.json entry."""
        return cls(data["a"], data["b"], [sequential.Look.from_dict(lk) for lk in data["looks"]])


@dataclass
class Comparison:
    """The sweep's comparison: the experiment's level, the per-pair design and every pair."""

    level: float
    design: sequential.Design
    pairs: list[Pair]

    @property
    def decided(self) -> bool:
        """True once every pair is decided."""
        return all(p.decided for p in self.pairs)

    @property
    def used(self) -> int:
        """Models per space the comparison has used (the largest look taken)."""
        return max((p.looks[-1].n for p in self.pairs if p.looks), default=0)

    @property
    def rounds(self) -> int:
        """Rounds looked at so far."""
        return max((p.looks[-1].round for p in self.pairs if p.looks), default=0)

    def to_dict(self) -> dict[str, Any]:
        """The content of comparison.json."""
        d = self.design
        return {
            "level": self.level,
            "correction": f"Bonferroni: each of the {len(self.pairs)} pair(s) is tested at level "
            f"{self.level:g} / {len(self.pairs)} = {d.level:.4g}",
            "design": d.to_dict(),
            "pairs": [p.to_dict() for p in self.pairs],
            "rounds_done": self.rounds,
            "decided": self.decided,
            "models_per_space": self.used if self.decided else d.max_samples,
            "fixed_n": d.fixed_n,
            "sentence": sentence(self),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Comparison:
        """The comparison of a comparison.json mapping."""
        design = sequential.Design.from_dict(data["design"])
        return cls(float(data["level"]), design, [Pair.from_dict(p) for p in data["pairs"]])


def designed(exp: Experiment) -> Comparison:
    """The comparison `exp` asks for, before any look: every pair of its spaces, and the design
    each pair is tested with (at level / pairs, Bonferroni)."""
    c = exp.compare
    names = [s.run for s in exp.spaces]
    pairs = [Pair(a, b) for a, b in combinations(names, 2)]
    design = sequential.design(
        c.level / len(pairs), c.power, c.difference, c.round, exp.samples, seed=exp.seed
    )
    return Comparison(c.level, design, pairs)


def start(exp: Experiment, out: Path, say: Callable[[str], None] = print) -> Comparison:
    """The comparison of a new sweep: designed once, written, and said."""
    looks = -(-exp.samples // exp.compare.round)
    say(f"designing the sequential test: {looks} looks, {sequential.PATHS:,} simulated comparisons...")
    comp = designed(exp)
    write(out, comp)
    say(planned_line(comp))
    return comp


def planned_line(comp: Comparison) -> str:
    """What the comparison will do: rounds, the level of each pair, what a fixed design needs."""
    d = comp.design
    fixed = f"{d.fixed_n} per space" if d.fixed_n else f"over {sequential.CAP}x the budget"
    short = f"; {d.max_samples} per space gives power {d.attained:.2f} only" if d.short else ""
    return (
        f"comparing {len(comp.pairs)} pair(s) in up to {d.rounds} rounds of {d.round_size} models per space, "
        f"each pair at level {d.level:.3g} ({comp.level:g} / {len(comp.pairs)}, Bonferroni); stops once all "
        f"are decided; a fixed design with this level and power needs {fixed}{short}"
    )


def write(out: Path, comp: Comparison) -> None:
    """Write SWEEP/comparison.json atomically: beside it first, then renamed over it."""
    path = unlinked(out / COMPARISON)
    tmp = unlinked(out / f".{COMPARISON}.tmp")
    tmp.write_text(json.dumps(comp.to_dict(), indent=1), encoding="utf-8")
    os.replace(tmp, path)


def read(out: Path) -> Comparison | None:
    """The comparison recorded in a sweep folder, None when it has none; a corrupt one is one line."""
    path = out / COMPARISON
    if not path.is_file():
        return None
    try:
        return Comparison.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise UserError(f"{path}: unreadable comparison ({type(err).__name__}: {err})") from None


def errors(run_dir: Path, n: int) -> list[float] | None:
    """The errors of trials 0..n-1 of a run in trial-index order (not ok: FAILED_ERROR); None
    while one of them has no row."""
    return _errors(_by_index(run_dir), n)


def _by_index(run_dir: Path) -> dict[int, TrialRow]:
    """A run's rows by trial index."""
    return {r.entry.trial_index: r for r in store.trial_rows(run_dir)}


def _errors(by_index: dict[int, TrialRow], n: int) -> list[float] | None:
    """`errors` of rows already read."""
    if any(i not in by_index for i in range(n)):
        return None
    return [_error(by_index[i]) for i in range(n)]


def _error(row: TrialRow) -> float:
    """A row's error as the comparison counts it."""
    return float(row.error) if row.status == Status.OK and row.error is not None else FAILED_ERROR


def run_rounds(comp: Comparison, out: Path, runner: RoundRunner, say: Callable[[str], None] = print) -> None:
    """Look after every round, from the first: a round with rows for all its trials is looked at
    from the rows (as on resume), else its missing trials run first; stops once all is decided."""
    recorded = {p.label: list(p.looks) for p in comp.pairs}
    for p in comp.pairs:
        p.looks = []
    spaces = list(dict.fromkeys(s for p in comp.pairs for s in (p.a, p.b)))
    design = comp.design
    follow = {s: store.Follower(out / s) for s in spaces}  # each round reads only the rows it added
    rows = {s: f.latest() for s, f in follow.items()}
    for k in range(design.rounds):
        low = design.sizes[k - 1] if k else 0  # round k is trial indices [n_{k-1}, n_k)
        missing = [f"{s}/{i}" for s in spaces for i in range(low, design.sizes[k]) if i not in rows[s]]
        if missing:
            runner(k + 1, missing)
            rows = {s: f.latest() for s, f in follow.items()}
        _look(comp, k, {s: _errors(rows[s], design.sizes[k]) for s in spaces}, out)
        _check_recorded(comp, recorded, out)
        write(out, comp)
        say(round_line(comp, k) + ("" if missing else " (from the stored rows)"))
        if comp.decided:
            break
    say(sentence(comp))


def _look(comp: Comparison, k: int, got: dict[str, list[float] | None], out: Path) -> None:
    """Take look k at every undecided pair."""
    for p in comp.pairs:
        if p.decided:
            continue
        a, b = got[p.a], got[p.b]
        if a is None or b is None:
            raise UserError(f"{out}: round {k + 1} ran but trials of {p.label} still have no row")
        p.looks.append(sequential.look(comp.design, k, a, b))


def _check_recorded(comp: Comparison, recorded: dict[str, list[sequential.Look]], out: Path) -> None:
    """Refuse a recomputed look that differs from the one recorded (the rows changed under it)."""
    for p in comp.pairs:
        old = recorded.get(p.label, [])
        i = len(p.looks) - 1
        if p.looks and i < len(old) and old[i].to_dict() != p.looks[i].to_dict():
            raise UserError(
                f"{out / COMPARISON}: {p.label} round {old[i].round}: recorded {old[i].to_dict()}, "
                f"the stored rows give {p.looks[i].to_dict()}; the trials changed since it was recorded"
            )


def round_line(comp: Comparison, k: int) -> str:
    """One line per round: models per space so far, then each pair's statistic and state."""
    d = comp.design
    parts = [_pair_state(p, k) for p in comp.pairs]
    return f"round {k + 1}/{d.rounds}: {d.sizes[k]} models per space; " + "; ".join(parts)


def _pair_state(p: Pair, k: int) -> str:
    """A pair at look k: its KS distance against the boundaries, and what was decided."""
    lk = p.looks[-1]
    if lk.round != k + 1:
        return f"{p.label} decided in round {lk.round}"
    if lk.decision == sequential.SEPARATED:
        return (
            f"{p.label} KS {lk.statistic:.3f} >= {lk.efficacy:.3f}: separated, {p.name_of(lk.better)} better"
        )
    if lk.decision == sequential.NOT_SEPARATED:
        return f"{p.label} KS {lk.statistic:.3f} < {lk.futility:.3f}: not separated"
    if lk.efficacy > 1:  # an O'Brien-Fleming first look: no distance is rare enough yet
        return f"{p.label} KS {lk.statistic:.3f} >= {lk.futility:.3f}: go on (too few models to separate yet)"
    return f"{p.label} KS {lk.statistic:.3f} in [{lk.futility:.3f}, {lk.efficacy:.3f}): go on"


def sentence(comp: Comparison) -> str:
    """What was decided and why, in one sentence (or how far it got)."""
    d = comp.design
    fixed = (
        f"a fixed design needs {d.fixed_n}"
        if d.fixed_n
        else f"a fixed design needs more than {sequential.CAP}x the budget"
    )
    budget = f"{comp.used} of at most {d.max_samples} models per space ({fixed})"
    where = f"level {comp.level:g}" + (f", {d.level:.3g} per pair" if len(comp.pairs) > 1 else "")
    if not comp.decided:
        return f"comparison undecided after {comp.rounds} of {d.rounds} rounds: {budget}"
    verdicts = "; ".join(_verdict(p, d) for p in comp.pairs)
    return f"comparison decided after {comp.rounds} of {d.rounds} rounds, {budget}, at {where}: {verdicts}"


def _verdict(p: Pair, d: sequential.Design) -> str:
    """A decided pair, and why: the statistic against the boundary it crossed."""
    lk = p.looks[-1]
    if lk.decision == sequential.SEPARATED:
        why = f"KS {lk.statistic:.3f} >= {lk.efficacy:.3f} after {lk.n} models"
        return f"{p.name_of(lk.better)} better than {p.name_of('b' if lk.better == 'a' else 'a')} ({why})"
    why = f"KS {lk.statistic:.3f} < {lk.futility:.3f} after {lk.n} models"
    return (
        f"{p.label} not separated: no KS difference of {d.difference:g} or more at power {d.power:g} ({why})"
    )


def already(comp: Comparison) -> str:
    """What a resume of a decided comparison says."""
    return f"already decided: {sentence(comp)}; nothing to do"

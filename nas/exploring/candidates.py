"""Candidate refinements of a design space, proposed from one round of its models: the RegNet
paper's moves (Radosavovic et al. 2020, sections 3.2-3.3).

- `narrow`: one option group narrowed to the best-model intervals of the parameters it governs
  (what `nas refine` does), one candidate per group (depths, widths, b, g), tried only when it
  leaves out at least MIN_CUT of the parent's models (1024 -> 1016 is not worth a test);
- the structural constraints, which the AnyNet spaces express as the chain A -> B -> C -> D -> E:
  `shared_b` (A -> B), `shared_g` (B -> C), `nondecreasing_widths` (C -> D) and
  `nondecreasing_depths` (D -> E). Each is offered only from the space just before it, as the
  paper imposed them in that order; a space off the chain (not AnyNet) offers none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from blocks.errors import ParamError
from nas.config import KINDS

# KINDS (declared in nas.config for the explore section): narrow, then one step each along the chain
STRUCTURAL = dict(zip(KINDS[1:], (("a", "b"), ("b", "c"), ("c", "d"), ("d", "e")), strict=True))
GROUPS = ("d", "w", "b", "g")  # one narrowing candidate per group of drawn values
MIN_CUT = 0.1  # a narrowing must leave out at least this share of the parent's round to be tried


@dataclass(frozen=True)
class Candidate:
    """A space the exploration may move to: its name and options, the kind of move that made it
    and the change in words."""

    space: str
    options: dict[str, Any]
    kind: str = "start"
    change: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"space": self.space, "options": self.options, "kind": self.kind, "change": self.change}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Candidate:
        """Inverse of to_dict."""
        return cls(d["space"], dict(d["options"]), d["kind"], d["change"])


@dataclass
class Round:
    """The finished models of one space in one step: errors, complexities, drawn values by name."""

    errors: np.ndarray
    complexity: np.ndarray
    params: dict[str, np.ndarray] = field(default_factory=dict)


def variant(space: str) -> str:
    """The AnyNet letter of a space name (anynet_x_c -> c), or '' off the AnyNet chain."""
    m = re.fullmatch(r"anynet_[xy]_([a-e])", space)
    return m[1] if m else ""


def check_kinds(kinds: list[str], where: str = "explore.kinds") -> list[str]:
    """Refuse an unknown or repeated kind, naming the legal ones."""
    for k in kinds:
        if k not in KINDS:
            raise ParamError(where, f"unknown kind {k!r}; legal: {list(KINDS)}")
    if len(set(kinds)) != len(kinds) or not kinds:
        raise ParamError(where, f"{kinds} must name each kind once, at least one; legal: {list(KINDS)}")
    return list(kinds)


def structural(parent: Candidate, kinds: list[str]) -> list[Candidate]:
    """The structural constraint next on the AnyNet chain, if its kind is allowed."""
    letter = variant(parent.space)
    out = []
    for kind, (before, after) in STRUCTURAL.items():
        if kind in kinds and letter == before:
            space = parent.space[:-1] + after
            out.append(Candidate(space, dict(parent.options), kind, f"{parent.space} -> {space}"))
    return out


def narrowed(parent: Candidate, data: Round, subsample: float, level: float) -> list[Candidate]:
    """One candidate per group of drawn values whose best-model intervals narrow an option."""
    from nas.analysis.refine import inside, narrow
    from spaces import get

    space = get(parent.space)
    finite = np.isfinite(data.errors)
    params = {k: np.asarray(v, dtype=float)[finite] for k, v in data.params.items()}
    out = []
    for group in GROUPS:
        chosen = [n for n in params if re.fullmatch(rf"{group}\d*", n)]
        if not chosen or finite.sum() < 2:
            continue
        ref = narrow(space, parent.options, params, data.errors[finite], chosen, subsample, level)
        moved = [c for c in ref.changes if c["after"] != c["before"]]
        if moved and inside(ref, params).mean() <= 1 - MIN_CUT:
            words = "; ".join(f"{c['option']}: {c['before']} -> {c['after']}" for c in moved)
            out.append(Candidate(parent.space, ref.options, "narrow", words))
    return out


def propose(
    parent: Candidate, data: Round, kinds: list[str], subsample: float, level: float
) -> list[Candidate]:
    """Every candidate of the allowed kinds from the parent's round, narrowing first."""
    out = narrowed(parent, data, subsample, level) if "narrow" in kinds else []
    return out + structural(parent, kinds)

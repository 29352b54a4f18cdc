"""Candidate refinements of a design space, proposed from one round of its models: the RegNet
paper's moves (Radosavovic et al. 2020, sections 3.2-3.3).

- `narrow`: one option group narrowed to the best-model intervals of the parameters it governs
  (what `nas refine` does), one candidate per group (depths, widths, b, g), tried only when it
  leaves out at least MIN_CUT of the parent's models (1024 -> 1016 is not worth a test);
- the structural constraints, which the AnyNet spaces express as the chain A -> B -> C -> D -> E:
  `shared_b` (A -> B), `shared_g` (B -> C), `nondecreasing_widths` (C -> D) and
  `nondecreasing_depths` (D -> E). Each is offered only from the space just before it, as the
  paper imposed them in that order; a space off the chain (not AnyNet) offers none;
- `linear_widths` (E -> RegNet, section 3.3): the quantised linear width law, which no AnyNet space
  can express, as a move to `regnet_x` / `regnet_y` whose w_0, w_a, w_m and depth ranges span the
  good models' fitted ones (nas.analysis.linearfit) and whose b and g keep the parent's ranges;
  offered only when the good models fit the law well (median e_fit <= E_FIT_MAX).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from blocks.errors import ParamError
from nas.analysis.defaults import SUBSAMPLE
from nas.config import KINDS

if TYPE_CHECKING:
    from nas.analysis.linearfit import LinearFit

# KINDS (declared in nas.config for the explore section): narrow, one step each along the chain,
# then the linear width law
STRUCTURAL = dict(zip(KINDS[1:5], (("a", "b"), ("b", "c"), ("c", "d"), ("d", "e")), strict=True))
LINEAR = KINDS[5]
GROUPS = ("d", "w", "b", "g")  # one narrowing candidate per group of drawn values
MIN_CUT = 0.1  # a narrowing must leave out at least this share of the parent's round to be tried
# The paper (section 3.3, Fig. 9 bottom) finds the best AnyNetX_E models in a narrow band of e_fit
# near 0 and gives no number; 0.1 (widths within about 10% of the law on average) is half the
# median of random AnyNetX_E models (0.21, the default 4-stage space) and ten times the RegNet
# space's own (< 0.01, tests/test_linearfit.py)
E_FIT_MAX = 0.1
GOOD = SUBSAMPLE  # the good models: this share of the round, best first (the best-model share)
FITTED = 30  # at most this many good models fitted (about 10 ms each)


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


def good_fits(data: Round) -> list[tuple[int, LinearFit]]:
    """The quantised linear fits (nas.analysis.linearfit) of the round's good models, with their
    total depths: (depth, fit) for the best GOOD share of the finished models, at most FITTED."""
    from nas.analysis.linearfit import fit

    stages = sorted(int(k[1:]) for k in data.params if re.fullmatch(r"d\d+", k))
    if not stages or any(f"w{i}" not in data.params for i in stages):
        return []
    d = np.stack([np.asarray(data.params[f"d{i}"], dtype=float) for i in stages], axis=1)
    w = np.stack([np.asarray(data.params[f"w{i}"], dtype=float) for i in stages], axis=1)
    ok = np.flatnonzero(np.isfinite(data.errors) & np.isfinite(d).all(axis=1) & np.isfinite(w).all(axis=1))
    best = ok[np.argsort(data.errors[ok], kind="stable")][: min(FITTED, max(1, round(GOOD * len(ok))))]
    return [(int(d[i].sum()), fit(d[i].astype(int), w[i].astype(int))) for i in best]


def linear(parent: Candidate, data: Round, kinds: list[str]) -> list[Candidate]:
    """The move from AnyNet{X,Y}_E to RegNet{X,Y} when the good models fit the linear law well:
    depth, w_0, w_a and w_m ranges spanning their fits, the parent's b and g ranges, stages and
    strides (and Y's SE ratio)."""
    from spaces import get

    fits = good_fits(data) if LINEAR in kinds and variant(parent.space) == "e" else []
    if len(fits) < 2 or np.median([f.e_fit for _, f in fits]) > E_FIT_MAX:
        return []
    opt, block = get(parent.space).resolve(parent.options), parent.space[len("anynet_")]
    w0, wa, wm = (np.array([getattr(f, k) for _, f in fits]) for k in ("w_0", "w_a", "w_m"))
    depths = [d for d, _ in fits]
    step = get(f"regnet_{block}").resolve({})["wa_step"]
    options = {
        "depth": [min(depths), max(depths)],
        "w0": [int(w0.min()), int(w0.max())],
        "wa": [round(max(step, float(wa.min())), 2), round(max(step, float(wa.max())), 2)],
        "wm": [round(float(wm.min()), 3), round(float(wm.max()), 3)],
        "group_width": [min(opt["group_widths"]), max(opt["group_widths"])],
        "bottleneck_ratio": [min(opt["bottleneck_ratios"]), max(opt["bottleneck_ratios"])],
        "stages": [opt["stages"], opt["stages"]],
        "strides": list(opt["strides"]),
        **({"se_ratio": opt["se_ratio"]} if "se_ratio" in opt else {}),
    }
    median = float(np.median([f.e_fit for _, f in fits]))
    change = f"{parent.space} -> regnet_{block} (good models' median e_fit {median:.3f} <= {E_FIT_MAX})"
    return [Candidate(f"regnet_{block}", options, LINEAR, change)]


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
    return out + structural(parent, kinds) + linear(parent, data, kinds)

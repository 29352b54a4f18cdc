"""Refine a design space: narrow its options to where a run's best models lie (RegNet paper,
the step repeated to go from AnyNetX_A to RegNet) and write the next experiment file.

Each chosen parameter's range becomes the (95%) interval of the best-model bootstrap. The space
declares which option governs which parameters (`Space.refine`, a tuple of `Rule`). Options are
not always per parameter: AnyNet shares max_depth, min_width/max_width and the legal b and g
across stages, so such an option is set to cover the intervals of every stage it governs, and a
bound no option controls (AnyNet's lower depth) is reported as unmapped. A refinement records how
many models its intervals came from; under `MIN_MODELS` it is indicative only, and says so.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from blocks.errors import ArgError, UserError
from nas.analysis import frame
from nas.analysis.bootstrap import best_value
from nas.analysis.defaults import LEVEL, SUBSAMPLE
from nas.analysis.result import few, few_note
from nas.records import store
from nas.records.rows import Status


@dataclass
class Refinement:
    """Narrowed options, what changed, which chosen parameters map to no option, and how many
    models the intervals came from."""

    space: str
    options: dict[str, Any]
    models: int = 0
    changes: list[dict[str, Any]] = field(default_factory=list)
    unmapped: list[dict[str, str]] = field(default_factory=list)

    @property
    def caveat(self) -> str:
        """What its intervals are worth when they come from too few models ("" otherwise)."""
        return f"intervals {few_note(self.models)}" if few(self.models) else ""


def select(names: list[str], wanted: list[str]) -> list[str]:
    """Parameters named in `wanted`; a name also selects its numbered stages (d -> d1..d4)."""
    picked = [n for n in names if any(n == w or re.fullmatch(rf"{re.escape(w)}\d+", n) for w in wanted)]
    missing = [w for w in wanted if not any(n == w or re.fullmatch(rf"{re.escape(w)}\d+", n) for n in names)]
    if missing:
        raise ArgError("params", f"no parameter {missing[0]!r} in this run; legal: {sorted(names)}")
    return picked


def _outward(value: float, up: bool) -> float:
    """Round to 4 significant digits away from the interval's inside."""
    if value == 0:
        return 0.0
    exponent = math.floor(math.log10(abs(value))) - 3
    digits = (math.ceil if up else math.floor)(value / 10**exponent)
    return float(f"{digits}e{exponent}")  # parsed, not multiplied: 1535e-3 is 1.535, not 1.5350000000000001


def narrow(
    space,
    options: dict[str, Any],
    params: dict[str, np.ndarray],
    errors: np.ndarray,
    chosen: list[str],
    fraction: float = SUBSAMPLE,
    level: float = LEVEL,
) -> Refinement:
    """Options of `space` narrowed to the best-model intervals of the `chosen` parameters."""
    resolved = space.resolve(options)
    numeric = {k: v for k, v in params.items() if v.dtype.kind == "f"}
    ref = Refinement(space.name, dict(options), len(errors))
    intervals: dict[str, dict[str, Any]] = {}
    ends: dict[str, set[str]] = {}
    for rule in space.refine:
        option, kind = rule.option, rule.kind
        governed = [n for n in numeric if re.fullmatch(rule.params, n)]
        if not any(n in chosen for n in governed):
            continue
        for n in governed:
            if n not in intervals:
                intervals[n] = best_value(numeric[n], errors, fraction, level)
        spans = [intervals[n] for n in governed if intervals[n].get("n")]
        if not spans:
            continue
        lo, hi = min(s["lo"] for s in spans), max(s["hi"] for s in spans)
        before = resolved[option]
        after = _narrowed(space.options[option], before, kind, lo, hi)
        ref.options[option] = after
        ref.changes.append(
            {"option": option, "kind": kind, "params": governed, "before": before, "after": after}
        )
        for n in governed:
            ends.setdefault(n, set()).update({"low", "high"} if kind in ("range", "choices") else {kind})
    for n in chosen:
        got = ends.get(n, set())
        if not got:
            ref.unmapped.append({"param": n, "why": f"no option of space '{space.name}' sets it"})
        elif len(got) == 1:
            missing = "lower" if "high" in got else "upper"
            ref.unmapped.append({"param": n, "why": f"only one end maps; no option sets its {missing} bound"})
    return ref


def _narrowed(param, before: Any, kind: str, lo: float, hi: float) -> Any:
    """An option's new value: its range clipped to [lo, hi] or its choices kept inside [lo, hi]."""
    if kind == "choices":
        return [c for c in before if lo <= c <= hi] or list(before)
    if kind == "low":
        return param.type(max(before, lo) if param.type is int else max(before, _outward(lo, False)))
    if kind == "high":
        return param.type(min(before, hi) if param.type is int else min(before, _outward(hi, True)))
    if param.type is int:
        return [int(max(before[0], lo)), int(min(before[1], hi))]
    return [max(float(before[0]), _outward(lo, False)), min(float(before[1]), _outward(hi, True))]


def inside(ref: Refinement, params: dict[str, np.ndarray]) -> np.ndarray:
    """Which models a refined space could still draw (missing values do not count against them)."""
    n = len(next(iter(params.values()))) if params else 0
    ok = np.ones(n, dtype=bool)
    for change in ref.changes:
        after, kind = change["after"], change["kind"]
        for name in change["params"]:
            x = params[name]
            if kind == "choices":
                hit = np.isin(x, np.asarray(after, dtype=float))
            elif kind == "low":
                hit = x >= after
            elif kind == "high":
                hit = x <= after
            else:
                hit = (x >= after[0]) & (x <= after[1])
            ok &= hit | np.isnan(x)
    return ok


def refine_data(
    d: frame.RunData,
    mask: np.ndarray,
    errors: np.ndarray,
    wanted: list[str] | None = None,
    fraction: float = SUBSAMPLE,
    level: float = LEVEL,
) -> tuple[dict[str, Any], Refinement]:
    """The refined experiment mapping of a run from the trials in `mask`: the run's experiment with
    one space, the run's, its options narrowed (every other field kept as the run had it)."""
    from spaces import get

    raw = d.experiment
    if not raw:
        raise UserError(f"{d.dir}: no {store.EXPERIMENT}; refine needs the experiment the run came from")
    entries = [{"name": e} if isinstance(e, str) else e for e in raw.get("spaces") or [raw.get("space")] if e]
    entry = next((e for e in entries if isinstance(e, dict) and _runs_as(e, d)), None)
    if entry is None:
        raise UserError(f"{d.dir}: its space '{d.space}' is not in {store.EXPERIMENT}")
    if mask.sum() < 2:
        raise UserError(f"{d.dir}: {int(mask.sum())} finished trials with an error; refine needs at least 2")
    params = {k: v[mask] for k, v in d.params.items()}
    chosen = select(list(params), wanted) if wanted else [n for n in d.drawn if n in params]
    options = dict(entry.get("options") or {})
    ref = narrow(get(d.space), options, params, errors[mask], chosen, fraction, level)
    out = {k: v for k, v in raw.items() if k != "space"}
    out["name"] = f"{raw.get('name') or d.space}_refined"
    out["spaces"] = [{**entry, "name": d.space, "options": ref.options}]  # its label, its segmentation
    return out, ref


def _runs_as(entry: dict[str, Any], d: frame.RunData) -> bool:
    """Whether the experiment's space `entry` is the one run `d` trained: by label, else by name."""
    label = entry.get("label")
    return label == d.dir.name if label else entry.get("name") == d.space


def refine_run(
    run: Path, wanted: list[str] | None = None, fraction: float = SUBSAMPLE, level: float = LEVEL
) -> tuple[dict[str, Any], Refinement]:
    """`refine_data` over the trials of a run that finished ok."""
    d = frame.load(run)
    ok = (d.status == Status.OK) & np.isfinite(d.error)
    return refine_data(d, ok, d.error, wanted, fraction, level)


def write(experiment: dict[str, Any], ref: Refinement, run: Path, path: Path) -> None:
    """Write the refined experiment YAML, headed by what was narrowed and from which run; it must
    validate and resolve as a sweep would, or nothing is written."""
    from nas import config
    from spaces import get

    try:
        exp = config.parse(experiment, str(path))
        get(ref.space).resolve(exp.spaces[0].options, where=f"{path}: spaces[0].options")
    except UserError as err:
        raise UserError(f"{run}: the refined experiment does not validate, not written: {err}") from None
    lines = [f"# refined by `nas refine` from {run} ({ref.space}), {ref.models} models"]
    if few(ref.models):
        lines.append(f"#   intervals {few_note(ref.models)}")
    for c in ref.changes:
        lines.append(f"#   {c['option']}: {c['before']} -> {c['after']}  (from {', '.join(c['params'])})")
    for u in ref.unmapped:
        lines.append(f"#   not mapped: {u['param']}: {u['why']}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n" + yaml.safe_dump(experiment, sort_keys=False))

"""Which of a file's trial rows may fail the store's per-row checks, found a field at a time across all
of them: a set of each field's value types, then a few comparisons over whole columns. Checking each row
on its own took longer than decoding its JSON; this screen is what lets 100,000 rows be read in seconds.

The screen may name a row that turns out fine, never miss one that is not: the store asks its per-row
check about every row named here, so what a bad row is told (file, line, field) is that check's words.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from nas.records.rows import Status, row_fields

_STATUSES = frozenset(s.value for s in Status)
_NONE = type(None)


def suspects(rows: Sequence[dict[str, Any]], planned: int | None) -> set[int]:
    """Positions in `rows` the per-row check could object to; `planned` as that check takes it."""
    shapes = [(tuple(r), tuple(map(type, r.values()))) for r in rows]  # few distinct: checked once each
    wrong = {shape for shape in set(shapes) if not _fields_fine(dict(zip(*shape)))}
    bad = {i for i, shape in enumerate(shapes) if shape in wrong} if wrong else set()
    keep = [i for i in range(len(rows)) if i not in bad]
    typed = [rows[i] for i in keep]
    for found in (_statuses(typed), _complexities(typed), _numbers(typed, planned), _specs(typed)):
        bad.update(keep[k] for k in found)
    return bad


def _fields_fine(types: dict[str, type]) -> bool:
    """Whether a row whose fields have these value types passes every field's type check (exact
    types: a JSON bool is no int here; a missing field reads None)."""
    for name, (allowed, required) in row_fields().items():
        kind = types.get(name, _NONE)
        if kind not in allowed and (required or kind is not _NONE):
            return False
    return True


def _where(values: Sequence[Any], fine: Callable[[Any], bool]) -> list[int]:
    """Positions of the values that are not fine."""
    return [k for k, v in enumerate(values) if not fine(v)]


def _statuses(rows: Sequence[dict[str, Any]]) -> list[int]:
    statuses = [r["status"] for r in rows]
    return [] if set(statuses) <= _STATUSES else _where(statuses, _STATUSES.__contains__)


def _finite_from_zero(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and 0 <= value < math.inf


def _complexities(rows: Sequence[dict[str, Any]]) -> list[int]:
    """Rows whose complexity holds anything but finite numbers from 0."""
    values = [v for r in rows for v in (r.get("complexity") or {}).values()]
    if set(map(type, values)) <= {int, float} and _all_finite_from_zero(values):
        return []
    return [
        k for k, r in enumerate(rows) if not all(map(_finite_from_zero, (r.get("complexity") or {}).values()))
    ]


def _all_finite_from_zero(values: list[int | float]) -> bool:
    """Whether every number is in [0, inf): min and max suffice without NaN, which no comparison passes."""
    if not values:
        return True
    if any(v != v for v in values):
        return False
    return min(values) >= 0 and max(values) < math.inf


def _numbers(rows: Sequence[dict[str, Any]], planned: int | None) -> list[int]:
    """Rows whose trial index, error, wall time or epochs is out of its range."""
    bad: set[int] = set()
    index = [r["trial_index"] for r in rows]
    if index and (min(index) < 0 or (planned is not None and max(index) >= planned)):
        bad.update(_where(index, lambda i: i >= 0 and (planned is None or i < planned)))
    errors = [r.get("error") for r in rows]
    bad.update(k for k, (e, r) in enumerate(zip(errors, rows)) if e is None and r["status"] == Status.OK)
    given = [e for e in errors if e is not None]
    if not (_all_finite_from_zero(given) and max(given, default=0) <= 100):
        bad.update(k for k, e in enumerate(errors) if e is not None and not 0 <= e <= 100)
    for name in ("wall_time", "epochs"):
        values = [v for v in (r.get(name) for r in rows) if v is not None]
        if not _all_finite_from_zero(values):
            bad.update(
                k for k, r in enumerate(rows) if r.get(name) is not None and not 0 <= r[name] < math.inf
            )
    return sorted(bad)


def _specs(rows: Sequence[dict[str, Any]]) -> list[int]:
    """Rows whose spec is not the shape analysis reads: its stages, their fields, its stem and head."""
    specs = [r.get("spec") or {} for r in rows]
    stages = [s.get("stages", []) for s in specs]
    parts = [s.get(part, {}) for s in specs for part in ("stem", "head")]
    if set(map(type, stages)) <= {list} and set(map(type, parts)) <= {dict}:
        flat = [st for ss in stages for st in ss]
        if set(map(type, flat)) <= {dict} and _stages_fine(flat):
            return []
    return [k for k, (s, ss) in enumerate(zip(specs, stages)) if not _spec_fine(s, ss)]


def _stages_fine(stages: list[dict[str, Any]]) -> bool:
    """Whether every stage has a block name, positive int depth and width, and mapping params."""
    if not set(type(st.get("block")) for st in stages) <= {str}:
        return False
    if not set(type(st.get("params", {})) for st in stages) <= {dict}:
        return False
    for key in ("depth", "width"):
        values = [st.get(key) for st in stages]
        if not set(map(type, values)) <= {int} or min(values, default=1) < 1:
            return False
    return True


def _spec_fine(spec: dict[str, Any], stages: Any) -> bool:
    """One row's spec, checked as `_specs` checks them all."""
    if not isinstance(stages, list) or not all(
        isinstance(p, dict) for p in (spec.get("stem", {}), spec.get("head", {}))
    ):
        return False
    return all(isinstance(st, dict) for st in stages) and _stages_fine(stages)

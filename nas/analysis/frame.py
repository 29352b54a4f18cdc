"""A run's trial rows as numpy columns: what analysis reads, parsed once and quickly.

Rows are the store's JSON lines (last row per trial index wins, a line that is not a row is skipped).
Design parameters come from each row's drawn `values` and from its spec: per stage the depth,
width, block family and block parameters, plus the total depth and the number of stages.
"""

from __future__ import annotations

import contextlib
import gc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nas.records import store
from nas.records.rows import TrialRow

COMPLEXITY = ("flops", "params", "acts")


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector: building 10^5 row dicts and their columns otherwise
    triggers collections that rescan the whole growing heap and double or triple the time.
    Rows hold no reference cycles, so nothing is left for the collector to find."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_rows(run: Path) -> list[TrialRow]:
    """The trial rows of a run, as `store.trial_rows` returns them (a line that is not a row is named and skipped)."""
    return store.trial_rows(run)


def column(items: list[Any]) -> np.ndarray:
    """Numbers as float (NaN where missing), anything else as an object array of str (None kept)."""
    if set(map(type, items)) <= {int, float, type(None)}:
        return np.array(items, dtype=float)  # numpy reads None as NaN
    return np.array([None if v is None else str(v) for v in items], dtype=object)


def spec_params(stages: list[list[dict[str, Any]]]) -> dict[str, np.ndarray]:
    """Per-stage depth, width, block and block parameters, total depth and number of stages."""
    out: dict[str, np.ndarray] = {}
    counts = np.array(list(map(len, stages)), dtype=float)
    total = np.zeros(len(stages))
    for i in range(int(counts.max(initial=0))):
        at = [ss[i] if len(ss) > i else {} for ss in stages]
        for key in ("depth", "width", "block"):
            out[f"stage{i + 1}.{key}"] = column([st.get(key) for st in at])
        total += np.nan_to_num(out[f"stage{i + 1}.depth"])
        params = [st.get("params") or {} for st in at]
        for key in dict.fromkeys(k for p in params for k in p):
            out[f"stage{i + 1}.{key}"] = column([p.get(key) for p in params])
    out["total_depth"] = total
    out["num_stages"] = counts
    return out


def design_params(values: list[dict[str, Any]], stages: list[list[dict[str, Any]]]) -> dict[str, np.ndarray]:
    """Drawn values then spec-derived parameters; constant ones and derived copies of drawn ones dropped."""
    names: dict[str, None] = {}
    for v in values:
        names.update(dict.fromkeys(v))
    cols = {k: column([v.get(k) for v in values]) for k in names}
    for name, col in spec_params(stages).items():
        if not any(_same(col, c) for c in cols.values()):
            cols[name] = col
    return {k: c for k, c in cols.items() if _varies(c)}


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype != b.dtype:
        return False
    return bool(np.array_equal(a, b, equal_nan=True)) if a.dtype.kind == "f" else bool(np.all(a == b))


def _varies(col: np.ndarray) -> bool:
    present = col[~np.isnan(col)] if col.dtype.kind == "f" else np.array([v for v in col if v is not None])
    return len(np.unique(present)) > 1


@dataclass
class RunData:
    """One run's trials as columns, aligned by position."""

    label: str
    dir: Path
    space: str
    planned: int
    index: np.ndarray
    model_id: np.ndarray
    status: np.ndarray
    reason: np.ndarray
    error: np.ndarray
    complexity: dict[str, np.ndarray]
    params: dict[str, np.ndarray] = field(default_factory=dict)
    drawn: list[str] = field(default_factory=list)
    experiment: dict[str, Any] = field(default_factory=dict)  # the mapping the run was started with

    @property
    def mode(self) -> str:
        """How the run chose its models: "sample" (random draws) or "optimize" (guided search)."""
        return self.experiment.get("search", {}).get("mode", "sample")


def load(run: Path, label: str | None = None) -> RunData:
    """Read a run directory into columns."""
    with gc_paused():
        return _columns(run, read_rows(run), label)


def load_runs(runs: list[Path]) -> list[RunData]:
    """Each run's columns, labelled by space (and folder where two runs share a space)."""
    out, seen = [], set()
    for run in runs:
        d = load(run)
        if d.label in seen:
            d.label = f"{d.label} ({run})"
        seen.add(d.label)
        out.append(d)
    return out


def _columns(run: Path, rows: list[TrialRow], label: str | None) -> RunData:
    plan_path = run / store.PLAN
    planned = (
        sum(1 for line in plan_path.read_bytes().splitlines() if line.strip()) if plan_path.exists() else 0
    )
    entries = [r.entry for r in rows]
    space = next((e.space for e in entries if e.space), "") or run.name
    cx = [e.complexity for e in entries]
    values = [e.values for e in entries]
    params = design_params(values, [e.spec.get("stages") or [] for e in entries])
    drawn = {k for v in values for k in v}
    return RunData(
        label=label or space,
        dir=run,
        space=space,
        planned=max(store.within_comparison(run, planned), len(rows)),
        index=np.array([e.trial_index for e in entries], dtype=int),
        model_id=np.array([e.model_id for e in entries], dtype=object),
        status=np.array([r.status.value for r in rows], dtype=object),
        reason=np.array([r.reason or "" for r in rows], dtype=object),
        error=np.array([np.nan if r.error is None else r.error for r in rows], dtype=float),
        complexity={k: np.array([c.get(k, np.nan) for c in cx], dtype=float) for k in COMPLEXITY},
        params=params,
        drawn=[k for k in params if k in drawn],
        experiment=store.experiment(run),
    )

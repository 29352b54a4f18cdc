"""A run's trial rows as numpy columns: what analysis reads, parsed once and quickly.

Rows are the store's JSON lines (last row per trial index wins, a line that is not a row is skipped).
Design parameters come from each row's drawn `values` and from its spec: per stage the depth,
width, block family and block parameters, plus the total depth and the number of stages.

The rows are the store's checked mappings, read into columns as they are (no `TrialRow` built per
row; a field missing or null reads as `TrialRow.from_dict` reads it), each stage field for all models
at once. Still, a first read is mostly JSON decoding of every row and its spec, seconds per 100,000
rows on a 2-core machine, more than all the statistics. So the columns are kept beside the rows, in
`CACHE` (numpy's own format, no pickles), keyed by the trials file's size and modification time and
by `FORMAT`; a run read again unchanged is read from there in a few milliseconds. A run folder that
cannot be written is parsed every time.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from nas.records import store

COMPLEXITY = ("flops", "params", "acts")
CACHE = ".nas-columns.npz"
FORMAT = 2  # raised whenever what a cached column holds changes
EPOCH_TIME = "epoch_time"  # seconds of training per epoch: a complexity measure where rows carry it
# estimated bytes to train a model at the run's batch size (nas.sweeping.footprint, what planning
# holds against the memory budget): computed from params and acts when a run is read, so rows
# written before it are measured too
MEMORY = "memory"


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


def column(items: list[Any]) -> np.ndarray:
    """Numbers as float (NaN where missing), anything else as an object array of str (None kept)."""
    kinds = set(map(type, items))
    if kinds <= {int, float, type(None)}:
        return np.array(items, dtype=float)  # numpy reads None as NaN
    out = np.empty(len(items), dtype=object)
    out[:] = items if kinds <= {str, type(None)} else [None if v is None else str(v) for v in items]
    return out


def spec_params(
    stages: list[list[dict[str, Any]]], depths: np.ndarray, widths: np.ndarray
) -> dict[str, np.ndarray]:
    """Per-stage depth, width, block and block parameters, total depth and number of stages (depths
    and widths: the (models, stages) matrices `per_stage` makes of the same stages)."""
    out: dict[str, np.ndarray] = {}
    count = depths.shape[1]
    blank = [{}] * count  # stage i of every model is [i::count] of the padded sequence
    flat = [st for ss in stages for st in (ss if len(ss) == count else ss + blank[len(ss) :])]
    blocks = [st.get("block") for st in flat]
    params = [st.get("params") or {} for st in flat]
    for i in range(count):
        out[f"stage{i + 1}.depth"] = depths[:, i].copy()
        out[f"stage{i + 1}.width"] = widths[:, i].copy()
        out[f"stage{i + 1}.block"] = column(blocks[i::count])
        for key, items in _by_key(params[i::count]).items():
            out[f"stage{i + 1}.{key}"] = column(items)
    out["total_depth"] = np.nan_to_num(depths).sum(axis=1)
    out["num_stages"] = np.array(list(map(len, stages)), dtype=float)
    return out


def design_params(values: list[dict[str, Any]], spec: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Drawn values then spec-derived parameters (`spec_params`); constant ones and derived copies
    of drawn ones dropped."""
    cols = {k: column(items) for k, items in _by_key(values).items()}
    for name, col in spec.items():
        if not any(_same(col, c) for c in cols.values()):
            cols[name] = col
    return {k: c for k, c in cols.items() if _varies(c)}


def _by_key(mappings: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Each key's values across the mappings, keys in the order first seen, None where one lacks it."""
    return {k: [m.get(k) for m in mappings] for k in dict.fromkeys(chain.from_iterable(mappings))}


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype != b.dtype:
        return False
    return bool(np.array_equal(a, b, equal_nan=True)) if a.dtype.kind == "f" else bool(np.all(a == b))


def _varies(col: np.ndarray) -> bool:
    """Whether a column holds two different values (NaN and None aside)."""
    if col.dtype.kind == "f":
        present = col[~np.isnan(col)]
        return bool(len(present) and (present != present[0]).any())
    return len(set(col.tolist()) - {None}) > 1


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
    stage_depths: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (models, stages), NaN padded
    stage_widths: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    @property
    def mode(self) -> str:
        """How the run chose its models: "sample" (random draws) or "optimize" (guided search)."""
        return self.experiment.get("search", {}).get("mode", "sample")

    @property
    def task(self) -> str:
        """What the run's networks learned (nas.training.tasks), so what its errors measure."""
        return self.experiment.get("task", "classification")


def load(run: Path, label: str | None = None) -> RunData:
    """Read a run directory into columns (from its cache when the trials file has not changed)."""
    key = _key(run)
    cached = _read_cache(run, key)
    if cached is not None:
        return _assemble(run, cached, label)
    with gc_paused():
        cols = _columns(store.rows(run))
    plan = run / store.PLAN
    lines = plan.read_bytes().splitlines() if plan.exists() else []
    cols["planned"] = np.array([sum(1 for line in lines if line.strip())])
    _write_cache(run, key, cols)
    return _assemble(run, cols, label)


def _key(run: Path) -> np.ndarray:
    """What identifies the content read: FORMAT, then the size and modification time (ns) of the
    trials file and of the plan (-1 for one that is missing)."""
    out = [FORMAT]
    for name in (store.TRIALS, store.PLAN):
        try:
            st = (run / name).stat()
            out += [st.st_size, st.st_mtime_ns]
        except OSError:
            out += [-1, -1]
    return np.array(out, dtype=np.int64)


def _read_cache(run: Path, key: np.ndarray) -> dict[str, Any] | None:
    """The cached columns of a run, or None when there are none for this key (or they cannot be read)."""
    try:
        with np.load(run / CACHE, allow_pickle=False) as z:
            if not np.array_equal(z["key"], key):
                return None
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError, EOFError):
        return None
    out: dict[str, Any] = {"complexity": {}, "params": {}, "drawn": [str(v) for v in arrays["drawn"]]}
    for name, arr in arrays.items():
        group, _, col = name.partition("/")
        if group in ("complexity", "params"):
            out[group][col] = _revive(arr, arrays.get(f"none/{col}") if group == "params" else None)
        elif group not in ("key", "drawn", "none"):
            out[group] = _revive(arr, None)
    return out


def _revive(arr: np.ndarray, none: np.ndarray | None) -> np.ndarray:
    """A column as analysis uses it: numbers as they were, strings as objects with None restored."""
    if arr.dtype.kind != "U":
        return arr
    out = arr.astype(object)
    if none is not None:
        out[none] = None
    return out


def _write_cache(run: Path, key: np.ndarray, cols: dict[str, Any]) -> None:
    """Keep the columns beside the rows; a folder that cannot be written just goes without."""
    if key[1] < 0:
        return
    arrays: dict[str, np.ndarray] = {"key": key, "drawn": np.array(cols["drawn"], dtype=str)}
    for name in (
        "space",
        "planned",
        "index",
        "model_id",
        "status",
        "reason",
        "error",
        "stage_depths",
        "stage_widths",
    ):
        arrays[name] = _storable(cols[name])
    for k, v in cols["complexity"].items():
        arrays[f"complexity/{k}"] = v
    for k, v in cols["params"].items():
        arrays[f"params/{k}"] = _storable(v)
        if v.dtype == object:
            arrays[f"none/{k}"] = np.array([x is None for x in v], dtype=bool)
    tmp = run / f"{CACHE}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, run / CACHE)
    except OSError:
        tmp.unlink(missing_ok=True)


def _storable(col: np.ndarray) -> np.ndarray:
    """Object columns (str or None) as fixed-width strings, None as "" (a mask keeps which)."""
    return np.array(["" if v is None else v for v in col], dtype=str) if col.dtype == object else col


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


def _columns(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The columns of a run's rows (the store's checked row mappings, read as `TrialRow.from_dict`
    reads them: a field missing or null takes its default): what the cache keeps."""
    cx = [r.get("complexity") or {} for r in rows]
    values = [r.get("values") or {} for r in rows]
    stages = [(r.get("spec") or {}).get("stages") or [] for r in rows]
    depths, widths = per_stage(stages, "depth"), per_stage(stages, "width")
    params = design_params(values, spec_params(stages, depths, widths))
    drawn = {k for v in values for k in v}
    complexity = {k: np.array([c.get(k, np.nan) for c in cx], dtype=float) for k in COMPLEXITY}
    epoch = _epoch_times(rows)
    if np.isfinite(epoch).any():
        complexity[EPOCH_TIME] = epoch
    return {
        "stage_depths": depths,
        "stage_widths": widths,
        "space": np.array([next((r["space"] for r in rows if r.get("space")), "")], dtype=object),
        "index": np.array([r["trial_index"] for r in rows], dtype=int),
        "model_id": np.array([r.get("model_id") or "" for r in rows], dtype=object),
        "status": np.array([r["status"] for r in rows], dtype=object),
        "reason": np.array([r.get("reason") or "" for r in rows], dtype=object),
        "error": np.array([r.get("error") for r in rows], dtype=float),  # None reads NaN
        "complexity": complexity,
        "params": params,
        "drawn": [k for k in params if k in drawn],
    }


def _epoch_times(rows: list[dict[str, Any]]) -> np.ndarray:
    """Seconds of training per epoch of each row (NaN where it did not train or did not time it)."""
    train = np.array([r.get("train_time") or 0.0 for r in rows], dtype=float)
    epochs = np.array([r.get("epochs") or 0 for r in rows], dtype=float)
    timed = (train > 0) & (epochs > 0)
    return np.divide(train, epochs, out=np.full(len(rows), math.nan), where=timed)


def per_stage(stages: list[list[dict[str, Any]]], key: str) -> np.ndarray:
    """(models, most stages) matrix of one stage field that the store checked is a positive int
    (depth, width), NaN where a model has fewer stages."""
    lengths = np.array(list(map(len, stages)), dtype=int)
    out = np.full((len(stages), int(lengths.max(initial=0))), np.nan)
    values = [st[key] for ss in stages for st in ss]
    if values:
        starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
        out[np.repeat(np.arange(len(stages)), lengths), np.arange(len(values)) - starts] = values
    return out


def memory(cx: dict[str, np.ndarray], experiment: dict[str, Any]) -> np.ndarray:
    """Each model's estimated training memory in bytes at the run's batch size (its recorded
    training.batch_size), NaN where params or acts are missing or the run records no batch size."""
    from nas.sweeping.footprint import training_bytes

    training = experiment.get("training")
    batch = training.get("batch_size") if isinstance(training, dict) else None
    if not isinstance(batch, int) or batch < 1:
        return np.full(len(cx["params"]), np.nan)
    return np.asarray(training_bytes(cx["params"], cx["acts"], batch), dtype=float)


def _assemble(run: Path, cols: dict[str, Any], label: str | None) -> RunData:
    """A run's columns with what is read fresh each time: its comparison budget and experiment."""
    planned = int(cols["planned"][0])
    recorded = str(cols["space"][0]) or run.name  # the run's name: its label, else its space's
    experiment = store.experiment(run)
    complexity = {**cols["complexity"], MEMORY: memory(cols["complexity"], experiment)}
    return RunData(
        label=label or recorded,
        dir=run,
        space=store.design_space(experiment, recorded),
        planned=max(store.within_comparison(run, planned), len(cols["status"])),
        index=cols["index"],
        model_id=cols["model_id"],
        status=cols["status"],
        reason=cols["reason"],
        error=cols["error"],
        complexity=complexity,
        params=cols["params"],
        drawn=cols["drawn"],
        experiment=experiment,
        stage_depths=cols["stage_depths"],
        stage_widths=cols["stage_widths"],
    )

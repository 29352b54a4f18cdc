"""A run's or a sweep's trial rows as one table: the columns `nas results --csv` writes and
`nas.results(..., frame=True)` returns, each row flattened (complexity unpacked, drawn values
and per-epoch validation errors as columns of their own)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from blocks.errors import ArgError
from nas.records import store
from nas.records.rows import ENTRY, Status, TrialRow, columns

SORTS = ["error", "flops", "params", "trial_index"]
MEASURES = ("flops", "params", "acts")  # a row's complexity, one column each
MEASURES_RANK = 6  # where the measures stand among the declared columns (nas.records.rows.column)


def _columns(optional: bool) -> list[str]:
    """The declared columns (and the measures) in rank order: the fixed ones, or the optional ones."""
    ranked = [(rank, name) for name, (rank, opt) in columns().items() if opt == optional]
    if not optional:
        ranked += [(MEASURES_RANK + i / 10, m) for i, m in enumerate(MEASURES)]
    return [name for _, name in sorted(ranked)]


COLUMNS = ["run", *_columns(optional=False)]
SCORES = _columns(optional=True)  # columns only where rows hold them (a segmentation row's scores)


def flat(row: TrialRow, run: str = "") -> dict[str, Any]:
    """The main columns of a row, complexity unpacked (None where a row lacks a measure)."""
    out: dict[str, Any] = {"run": run}
    for name in COLUMNS[1:]:
        if name in MEASURES:
            out[name] = row.entry.complexity.get(name)
        else:
            value = getattr(row.entry if name in ENTRY else row, name)
            out[name] = value.value if isinstance(value, Status) else value
    return out


def wide(row: TrialRow, run: str) -> dict[str, Any]:
    """A row as one table line: the main columns, a segmentation row's scores (each class's IoU as
    iou.CLASS), each drawn value and each epoch's validation error."""
    out = flat(row, run)
    out.update((k, getattr(row, k)) for k in SCORES if getattr(row, k) is not None)
    out.update((f"iou.{i}", v) for i, v in enumerate(row.class_iou or []))
    out.update((f"value.{k}", v) for k, v in row.entry.values.items())
    out.update((f"val_error.{i}", e) for i, e in enumerate(row.val_errors, 1))
    return out


def table(runs: dict[str, list[TrialRow]]) -> tuple[list[str], list[dict[str, Any]]]:
    """One table of every run's rows: its columns (main, segmentation scores where rows have them,
    iou.* in class order, value.*, then val_error.* in epoch order) and its lines; a cell a row lacks
    is missing from its line."""
    lines = [wide(r, name) for name, rows in runs.items() for r in rows]
    extra = dict.fromkeys(k for line in lines for k in line if k not in COLUMNS)
    scores = [k for k in SCORES if k in extra]
    ious = sorted((k for k in extra if k.startswith("iou.")), key=lambda k: int(k.split(".")[1]))
    values = [k for k in extra if k.startswith("value.")]
    epochs = sorted((k for k in extra if k.startswith("val_error.")), key=lambda k: int(k.split(".")[1]))
    return [*COLUMNS, *scores, *ious, *values, *epochs], lines


def class_names(run_dir: str | Path) -> list[str]:
    """The class names a run's preprocessing record lists ([] where it has none or cannot be read)."""
    import json

    from nas.training.loaders import PREPROCESSING

    try:
        names = json.loads((Path(run_dir) / PREPROCESSING).read_text()).get("class_names")
    except (OSError, ValueError, AttributeError):
        return []
    return [str(n) for n in names] if isinstance(names, list) else []


def read(path: str | Path, sort: str = "trial_index") -> tuple[bool, dict[str, list[dict[str, Any]]]]:
    """Whether `path` is a single run, and each of its runs' rows (by folder name, as the lines of
    its file) sorted by `sort`, one of SORTS."""
    if sort not in SORTS:
        raise ArgError("sort", f"expected one of {SORTS}, got {sort!r}")
    runs = {d.name: store.rows(d) for d in store.find_runs([str(path)])}
    for rows in runs.values():
        rows.sort(key=lambda r: ((v := flat(TrialRow.from_dict(r))[sort]) is None, v or 0))
    return store.is_run(Path(path)), runs


def typed(runs: dict[str, list[dict[str, Any]]]) -> dict[str, list[TrialRow]]:
    """Each run's rows (lines of its file) as records."""
    return {name: [TrialRow.from_dict(r) for r in rows] for name, rows in runs.items()}

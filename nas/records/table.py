"""A run's or a sweep's trial rows as one table: the columns `nas results --csv` writes and
`nas.results(..., frame=True)` returns, each row flattened (complexity unpacked, drawn values
and per-epoch validation errors as columns of their own)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nas.records import store

SORTS = ["error", "flops", "params", "trial_index"]
COLUMNS = [
    "run",
    "space",
    "trial_index",
    "model_id",
    "status",
    "error",
    "flops",
    "params",
    "acts",
    "epochs",
    "wall_time",
    "seed",
    "train_time",
    "images_per_sec",
    "finished_at",
    "reason",
]


def flat(row: dict[str, Any], run: str = "") -> dict[str, Any]:
    """The main columns of a row, complexity unpacked (None where a row lacks one)."""
    cx = row.get("complexity") or {}
    return {
        "run": run,
        "space": row.get("space"),
        "trial_index": row.get("trial_index"),
        "model_id": row.get("model_id"),
        "status": row.get("status"),
        "error": row.get("error"),
        "flops": cx.get("flops"),
        "params": cx.get("params"),
        "acts": cx.get("acts"),
        "epochs": row.get("epochs"),
        "wall_time": row.get("wall_time"),
        "seed": row.get("seed"),
        "train_time": row.get("train_time"),
        "images_per_sec": row.get("images_per_sec"),
        "finished_at": row.get("finished_at"),
        "reason": row.get("reason") or "",
    }


SEGMENTATION = ("miou", "pixel_accuracy", "dice")  # a segmentation row's scores, columns where rows have them


def wide(row: dict[str, Any], run: str) -> dict[str, Any]:
    """A row as one table line: the main columns, a segmentation row's scores (each class's IoU as
    iou.CLASS), each drawn value and each epoch's validation error."""
    out = flat(row, run)
    out.update((k, row[k]) for k in SEGMENTATION if row.get(k) is not None)
    out.update((f"iou.{i}", v) for i, v in enumerate(row.get("class_iou") or []))
    out.update((f"value.{k}", v) for k, v in (row.get("values") or {}).items())
    out.update((f"val_error.{i}", e) for i, e in enumerate(row.get("val_errors") or [], 1))
    return out


def table(runs: dict[str, list[dict[str, Any]]]) -> tuple[list[str], list[dict[str, Any]]]:
    """One table of every run's rows: its columns (main, segmentation scores where rows have them,
    iou.* in class order, value.*, then val_error.* in epoch order) and its lines; a cell a row lacks
    is missing from its line."""
    lines = [wide(r, name) for name, rows in runs.items() for r in rows]
    extra = dict.fromkeys(k for line in lines for k in line if k not in COLUMNS)
    scores = [k for k in SEGMENTATION if k in extra]
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
    """Whether `path` is a single run, and each of its runs' rows (by folder name) sorted by `sort`."""
    runs = {d.name: store.rows(d) for d in store.find_runs([str(path)])}
    for rows in runs.values():
        rows.sort(key=lambda r: ((v := flat(r)[sort]) is None, v or 0))
    return store.is_run(Path(path)), runs

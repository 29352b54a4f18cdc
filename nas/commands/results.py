"""`nas results RUN_DIR`: a run's trial rows as a table, JSON, JSON lines or CSV (readable mid-sweep).

A sweep folder gives one document (`--json`: {run: rows}) or one table (`--csv`, a `run` column
first), so `json.load` and `pandas.read_csv` read it whole; `table` is also what `nas.results(...,
frame=True)` turns into a DataFrame."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

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


def add_parser(sub) -> None:
    p = sub.add_parser("results", help="list a run's trial rows (or a sweep folder's) as a table or as data")
    p.add_argument("run_dir", help="run directory (or sweep folder)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument(
        "--json", action="store_true", help="one JSON document: a list of full rows ({run: rows} for a sweep)"
    )
    fmt.add_argument(
        "--jsonl",
        action="store_true",
        help="one JSON object per line, full detail and its `run` (folder name)",
    )
    fmt.add_argument(
        "--csv",
        action="store_true",
        help="one CSV table (one header for a whole sweep): main columns, value.NAME, val_error.EPOCH",
    )
    p.add_argument(
        "--sort", choices=SORTS, default="trial_index", help="order of each run's rows (trial_index)"
    )
    p.set_defaults(run=run)


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


def wide(row: dict[str, Any], run: str) -> dict[str, Any]:
    """A row as one table line: the main columns, each drawn value and each epoch's validation error."""
    out = flat(row, run)
    out.update((f"value.{k}", v) for k, v in (row.get("values") or {}).items())
    out.update((f"val_error.{i}", e) for i, e in enumerate(row.get("val_errors") or [], 1))
    return out


def table(runs: dict[str, list[dict[str, Any]]]) -> tuple[list[str], list[dict[str, Any]]]:
    """One table of every run's rows: its columns (main, then value.*, then val_error.* in epoch
    order) and its lines; a cell a row lacks is missing from its line."""
    lines = [wide(r, name) for name, rows in runs.items() for r in rows]
    extra = dict.fromkeys(k for line in lines for k in line if k not in COLUMNS)
    values = [k for k in extra if k.startswith("value.")]
    epochs = sorted((k for k in extra if k.startswith("val_error.")), key=lambda k: int(k.split(".")[1]))
    return [*COLUMNS, *values, *epochs], lines


def read(path: str | Path, sort: str = "trial_index") -> tuple[bool, dict[str, list[dict[str, Any]]]]:
    """Whether `path` is a single run, and each of its runs' rows (by folder name) sorted by `sort`."""
    from nas.sweeping import store

    runs = {d.name: store.rows(d) for d in store.find_runs([str(path)])}
    for rows in runs.values():
        rows.sort(key=lambda r: ((v := flat(r)[sort]) is None, v or 0))
    return store.is_run(Path(path)), runs


def _cell(value: Any) -> Any:
    """A CSV cell: lists and mappings as JSON, so each stays in one cell."""
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def write_csv(runs: dict[str, list[dict[str, Any]]]) -> None:
    """Every run's rows as one CSV table on stdout."""
    columns, lines = table(runs)
    writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in line.items()} for line in lines)


def _num(value, spec: str) -> str:
    """A number as `spec` formats it, '-' when missing."""
    return "-" if value is None else format(value, spec)


def _table_line(f: dict) -> str:
    """One row of the text table."""
    return (
        f"{f['trial_index']:>5} {f['model_id'] or '-':<12} {f['status']:<9} {_num(f['error'], '.2f'):>7} "
        f"{_num(f['flops'] and f['flops'] / 1e6, '.2f'):>9} {_num(f['params'], ','):>10} "
        f"{_num(f['epochs'], 'd'):>3} {f['wall_time'] or 0.0:>6.1f}s {f['reason'][:50]}"
    )


def write_text(path: str | Path, runs: dict[str, list[dict[str, Any]]]) -> None:
    """Each run's rows as a text table, headed by how many of its trials are recorded."""
    from nas.sweeping import store

    for run_dir in store.find_runs([str(path)]):
        rows = runs[run_dir.name]
        print(f"{run_dir}: {len(rows)} of {store.planned(run_dir)} trials recorded")
        print(
            f"{'#':>5} {'model_id':<12} {'status':<9} {'error':>7} {'MFLOPs':>9} {'params':>10} {'ep':>3} {'time':>7}"
        )
        for r in rows:
            print(_table_line(flat(r)))


def run(args) -> int:
    single, runs = read(args.run_dir, args.sort)
    if args.json:
        print(json.dumps(next(iter(runs.values())) if single else runs, sort_keys=True, indent=1))
    elif args.jsonl:
        for name, rows in runs.items():
            for r in rows:
                print(json.dumps({"run": name, **r}, sort_keys=True))
    elif args.csv:
        write_csv(runs)
    else:
        write_text(args.run_dir, runs)
    return 0

"""`nas results RUN_DIR`: a run's trial rows as a table, JSON, JSON lines or CSV (readable mid-sweep).

A sweep folder gives one document (`--json`: {run: rows}) or one table (`--csv`, a `run` column
first), so `json.load` and `pandas.read_csv` read it whole (nas.records.table, which
`nas.results(..., frame=True)` also turns into a DataFrame)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

from nas.records.table import SORTS, class_names, flat, read, table


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


def _table_line(f: dict, scores: str = "") -> str:
    """One row of the text table (`scores`: a segmentation row's, before the reason)."""
    return (
        f"{f['trial_index']:>5} {f['model_id'] or '-':<12} {f['status']:<9} {_num(f['error'], '.2f'):>7} "
        f"{_num(f['flops'] and f['flops'] / 1e6, '.2f'):>9} {_num(f['params'], ','):>10} "
        f"{_num(f['epochs'], 'd'):>3} {f['wall_time'] or 0.0:>6.1f}s{scores} {f['reason'][:50]}"
    )


def _scores_line(r: dict) -> str:
    """A segmentation row's scores: mIoU, pixel accuracy, Dice where binary, each class's IoU."""
    ious = " ".join(_num(v, ".1f") for v in r.get("class_iou") or [])
    return f"{_num(r.get('miou'), '.2f'):>6} {_num(r.get('pixel_accuracy'), '.2f'):>6} {_num(r.get('dice'), '.2f'):>6}  {ious}"


def _named(run_dir: Path) -> str:
    """The run's class names in parentheses, for the per-class IoU header ('' when unknown)."""
    names = class_names(run_dir)
    return f" ({' '.join(names)})" if names else ""


def write_text(path: str | Path, runs: dict[str, list[dict[str, Any]]]) -> None:
    """Each run's rows as a text table, headed by how many of its trials are recorded; a
    segmentation run's rows go on with their mIoU, pixel accuracy, Dice and per-class IoU (%)."""
    from nas.records import store

    for run_dir in store.find_runs([str(path)]):
        rows = runs[run_dir.name]
        dense = any(r.get("miou") is not None for r in rows)
        print(f"{run_dir}: {len(rows)} of {store.planned(run_dir)} trials recorded")
        print(
            f"{'#':>5} {'model_id':<12} {'status':<9} {'error':>7} {'MFLOPs':>9} {'params':>10} {'ep':>3} {'time':>7}"
            + (
                f" {'mIoU':>6} {'pixAcc':>6} {'Dice':>6}  IoU per class{_named(run_dir)}, reason"
                if dense
                else ""
            )
        )
        for r in rows:
            print(_table_line(flat(r), " " + _scores_line(r) if dense else ""))


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

"""`nas results RUN_DIR`: a run's trial rows as a table, JSON, JSON lines or CSV (readable mid-sweep).

A sweep folder gives one document (`--json`: {run: rows}) or one table (`--csv`, a `run` column
first), so `json.load` and `pandas.read_csv` read it whole (nas.records.table, which
`nas.results(..., frame=True)` also turns into a DataFrame)."""

from __future__ import annotations

import csv
import json
import sys
from typing import Any

from nas.api import SORTS


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


def write_csv(results) -> None:
    """Every run's rows as one CSV table on stdout."""
    columns, lines = results.table()
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


def _scores_line(line: dict) -> str:
    """A segmentation row's scores: mIoU, pixel accuracy, Dice where binary, each class's IoU."""
    ious = sorted((k for k in line if k.startswith("iou.")), key=lambda k: int(k[4:]))
    shown = " ".join(_num(line[k], ".1f") for k in ious)
    return (
        f"{_num(line.get('miou'), '.2f'):>6} {_num(line.get('pixel_accuracy'), '.2f'):>6} "
        f"{_num(line.get('dice'), '.2f'):>6}  {shown}"
    )


def write_text(results) -> None:
    """Each run's rows as a text table, headed by how many of its trials are recorded; a
    segmentation run's rows go on with their mIoU, pixel accuracy, Dice and per-class IoU (%),
    headed by the class names the run's preprocessing record lists."""
    _, lines = results.table()
    for name, run_dir in results.dirs.items():
        mine = [line for line in lines if line["run"] == name]
        dense = any(line.get("miou") is not None for line in mine)
        names = results.class_names(name)
        named = f" ({' '.join(names)})" if names else ""
        print(f"{run_dir}: {len(results.runs[name])} of {results.planned[name]} trials recorded")
        print(
            f"{'#':>5} {'model_id':<12} {'status':<9} {'error':>7} {'MFLOPs':>9} {'params':>10} {'ep':>3} {'time':>7}"
            + (f" {'mIoU':>6} {'pixAcc':>6} {'Dice':>6}  IoU per class{named}, reason" if dense else "")
        )
        for line in mine:
            print(_table_line(line, " " + _scores_line(line) if dense else ""))


def run(args) -> int:
    from nas import api

    results = api.results_table(args.run_dir, sort=args.sort)
    runs: dict[str, list[dict[str, Any]]] = results.runs
    if args.json:
        print(json.dumps(next(iter(runs.values())) if results.single else runs, sort_keys=True, indent=1))
    elif args.jsonl:
        for name, rows in runs.items():
            for r in rows:
                print(json.dumps({"run": name, **r}, sort_keys=True))
    elif args.csv:
        write_csv(results)
    else:
        write_text(results)
    return 0

"""`nas results RUN_DIR`: a run's trial rows as a table, JSON or CSV (readable mid-sweep)."""

from __future__ import annotations

import csv
import json
import sys

COLUMNS = [
    "trial_index",
    "model_id",
    "status",
    "error",
    "flops",
    "params",
    "acts",
    "epochs",
    "wall_time",
    "reason",
]


def add_parser(sub) -> None:
    p = sub.add_parser("results", help="list a run's trial rows")
    p.add_argument("run_dir", help="run directory (or sweep folder)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON object per row, full detail")
    fmt.add_argument("--csv", action="store_true", help="CSV with the main columns")
    p.add_argument("--sort", choices=["error", "flops", "params", "trial_index"], default="trial_index")
    p.set_defaults(run=run)


def flat(row: dict) -> dict:
    """The main columns of a row, complexity unpacked (None where a row lacks one)."""
    cx = row.get("complexity") or {}
    return {
        "trial_index": row.get("trial_index"),
        "model_id": row.get("model_id"),
        "status": row.get("status"),
        "error": row.get("error"),
        "flops": cx.get("flops"),
        "params": cx.get("params"),
        "acts": cx.get("acts"),
        "epochs": row.get("epochs"),
        "wall_time": round(row.get("wall_time") or 0.0, 2),
        "reason": row.get("reason") or "",
    }


def _num(value, spec: str) -> str:
    """A number as `spec` formats it, '-' when missing."""
    return "-" if value is None else format(value, spec)


def _table_line(f: dict) -> str:
    """One row of the table."""
    return (
        f"{f['trial_index']:>5} {f['model_id'] or '-':<12} {f['status']:<9} {_num(f['error'], '.2f'):>7} "
        f"{_num(f['flops'] and f['flops'] / 1e6, '.2f'):>9} {_num(f['params'], ','):>10} "
        f"{_num(f['epochs'], 'd'):>3} {f['wall_time']:>6.1f}s {f['reason'][:50]}"
    )


def run(args) -> int:
    from nas.sweeping import store

    for run_dir in store.find_runs([args.run_dir]):
        rows = store.rows(run_dir)
        rows.sort(key=lambda r: ((v := flat(r)[args.sort]) is None, v or 0))
        if args.json:
            for r in rows:
                print(json.dumps(r, sort_keys=True))
            continue
        if args.csv:
            writer = csv.DictWriter(sys.stdout, fieldnames=["space", *COLUMNS])
            writer.writeheader()
            for r in rows:
                writer.writerow({"space": r.get("space"), **flat(r)})
            continue
        planned = store.planned(run_dir)
        print(f"{run_dir}: {len(rows)} of {planned} trials recorded")
        print(
            f"{'#':>5} {'model_id':<12} {'status':<9} {'error':>7} {'MFLOPs':>9} {'params':>10} {'ep':>3} {'time':>7}"
        )
        for r in rows:
            print(_table_line(flat(r)))
    return 0

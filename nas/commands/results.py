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
    """The main columns of a row, complexity unpacked."""
    cx = row.get("complexity", {})
    return {
        "trial_index": row.get("trial_index"),
        "model_id": row.get("model_id"),
        "status": row.get("status"),
        "error": row.get("error"),
        "flops": cx.get("flops"),
        "params": cx.get("params"),
        "acts": cx.get("acts"),
        "epochs": row.get("epochs"),
        "wall_time": round(row.get("wall_time", 0.0), 2),
        "reason": row.get("reason", ""),
    }


def run(args) -> int:
    from nas.sweeping import store

    for run_dir in store.find_runs([args.run_dir]):
        rows = store.rows(run_dir)
        key = args.sort
        if key in ("flops", "params"):
            rows.sort(key=lambda r: r["complexity"][key])
        else:
            rows.sort(key=lambda r: (r.get(key) is None, r.get(key) or 0))
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
            f = flat(r)
            err = "-" if f["error"] is None else f"{f['error']:.2f}"
            print(
                f"{f['trial_index']:>5} {f['model_id']:<12} {f['status']:<9} {err:>7} {f['flops'] / 1e6:>9.2f} "
                f"{f['params']:>10,} {f['epochs']:>3} {f['wall_time']:>6.1f}s {f['reason'][:50]}"
            )
    return 0

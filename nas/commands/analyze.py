"""`nas analyze RUN_DIR [RUN_DIR ...]`: EDF figure and statistics comparing runs."""

from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("analyze", help="compare runs (design spaces) by their error distribution functions")
    p.add_argument("runs", nargs="+", help="run directories, or sweep folders holding runs")
    p.add_argument("--figure", help="EDF PNG path (default: edf.png in the first run)")
    p.add_argument("--log", action="store_true", help="log-scale error axis")
    p.add_argument("--json", action="store_true", help="print the statistics as JSON")
    p.set_defaults(run=run)


def run(args) -> int:
    from nas import store
    from nas.analyze import analyze, format_report

    runs = store.find_runs(args.runs)
    result = analyze(runs, Path(args.figure) if args.figure else None, log=args.log)
    print(json.dumps(result, indent=2) if args.json else format_report(result))
    return 0

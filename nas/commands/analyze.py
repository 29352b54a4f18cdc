"""`nas analyze RUN_DIR [RUN_DIR ...]`: EDFs, statistics, figures and a report comparing runs."""

from __future__ import annotations

import argparse
import json

from nas.api import FIGURE_FORMATS, LEVEL, MEASURES, SUBSAMPLE


def add_parser(sub) -> None:
    p = sub.add_parser("analyze", help="compare runs (design spaces) by their error distribution functions")
    p.add_argument("runs", nargs="+", help="run directories, or sweep folders holding runs")
    p.add_argument(
        "--figure",
        help="write the main EDF to this file, and no other figure beside it (with --report the "
        "others go there, in its format); default: edf.png in --report, else every figure in "
        "analysis/ of the sweep folder, where `nas sweep` writes",
    )
    p.add_argument(
        "--format",
        choices=FIGURE_FORMATS,
        help="format of every figure (default png, or --figure's suffix)",
    )
    p.add_argument(
        "--report",
        metavar="DIR",
        help="write index.html (self-contained), the figures and CSV tables into DIR: a new or "
        "empty folder, or one an earlier --report wrote (files it did not write are never replaced)",
    )
    p.add_argument(
        "--figures",
        action=argparse.BooleanOptionalAction,
        help="write the figures (default: yes, except with --json unless --figure, --format or --report)",
    )
    p.add_argument("--log", action="store_true", help="log-scale error axis")
    p.add_argument(
        "--json", action="store_true", help="print every statistic as JSON (no figures unless asked)"
    )
    p.add_argument(
        "--normalize",
        default="flops",
        metavar="{" + ",".join(MEASURES) + "}",
        help="complexity measure of the normalised EDFs and weighted KS (default flops)",
    )
    p.add_argument(
        "--bins", type=int, help="log complexity bins (default: about 5 models per bin, at most 10)"
    )
    p.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        metavar="B",
        help="resamples per EDF band and per power estimate (1000)",
    )
    p.add_argument(
        "--failed-as-error",
        type=float,
        metavar="X",
        help="enter failed and diverged trials into the EDFs at error X (e.g. 100); default: leave them out",
    )
    p.add_argument("--top", type=int, default=10, help="best models listed per run (10)")
    p.add_argument(
        "--subsample",
        type=float,
        default=SUBSAMPLE,
        help=f"share of models per best-model bootstrap draw ({SUBSAMPLE:g})",
    )
    p.add_argument(
        "--level",
        type=float,
        default=LEVEL,
        help=f"confidence of bands and intervals ({LEVEL:g}); the KS tests' significance is 1 - level",
    )
    p.add_argument(
        "--power",
        type=float,
        default=0.8,
        help="target power of the models-per-space estimate for each pair of runs (0.8)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap bands and plotted subsets")
    p.set_defaults(run=run)


def run(args) -> int:
    from nas import api

    result = api.analyze(
        args.runs,
        figure=args.figure,
        format=args.format,
        report=args.report,
        figures=args.figures if args.figures is not None else (None if args.json else True),
        log=args.log,
        normalize=args.normalize,
        bins=args.bins,
        bootstrap=args.bootstrap,
        failed_as_error=args.failed_as_error,
        top=args.top,
        subsample=args.subsample,
        level=args.level,
        power=args.power,
        seed=args.seed,
    )
    print(json.dumps(result.to_dict(), indent=2) if args.json else api.analysis_text(result))
    return 0

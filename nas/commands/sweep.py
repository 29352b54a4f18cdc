"""`nas sweep EXPERIMENT.yaml`: sample and train a design-space sweep through Ray Tune."""

from __future__ import annotations

import sys
from pathlib import Path

from blocks.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "sweep", help="sample specs from the experiment's spaces and train them through Ray Tune"
    )
    p.add_argument("experiment", nargs="?", help="experiment YAML file (see experiments/)")
    p.add_argument("--out", help="sweep folder (default runs/<experiment name>); one run per space inside")
    p.add_argument("--address", help="Ray cluster address (auto or ray://HOST:PORT); default a local Ray")
    p.add_argument(
        "--resume",
        metavar="DIR",
        help="finish the pending trials of a killed or interrupted sweep folder (an experiment file "
        "given too must match the recorded one but for resources)",
    )
    p.add_argument("--no-analyze", action="store_true", help="skip the EDF analysis at the end")
    p.set_defaults(run=run)


def run(args) -> int:
    from nas.analysis.analyze import analyze
    from nas.analysis.text import format_report
    from nas.sweeping.driver import Interrupted, sweep

    if not args.experiment and not args.resume:
        raise UserError("give an experiment file, or --resume DIR")
    if args.resume and args.out:
        raise UserError("--out and --resume: a resumed sweep stays in its folder; give only --resume DIR")
    try:
        runs = sweep(args.experiment, out=args.out, address=args.address, resume=args.resume)
    except Interrupted as stop:  # Ray is down by now; the partial run is not analysed
        print(f"nas sweep: {stop.message}", file=sys.stderr)
        return stop.exit_code
    sweep_dir = runs[0].dir.parent
    print(f"results: {', '.join(str(r.dir / 'trials.jsonl') for r in runs)}")
    if not args.no_analyze:
        result = analyze([r.dir for r in runs], figure=Path(sweep_dir) / "edf.png")
        print(format_report(result))
    print(f"next: nas analyze {sweep_dir}   |   nas results {runs[0].dir}")
    return 0

"""`nas hdc`: gridding analysis of a dilation schedule, or hole-free schedules to choose from.

The first positional is either a schedule (`nas hdc 1,2,5`) or the word `suggest`
(`nas hdc suggest --layers 3`); one parser serves both so either reads naturally.
"""

from __future__ import annotations

import argparse
import json

from blocks.dilation import MAX_SEARCH_LAYERS, MAX_SPAN
from blocks.errors import UserError
from nas import hdc, outputs

_SUGGEST_ONLY = ("layers", "max_rate", "top")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `nas hdc`."""
    p = sub.add_parser(
        "hdc",
        help="check a dilation schedule for gridding holes (HDC), or suggest hole-free ones",
        description="Exit status 0 when the schedule has no holes, 1 when it has, 2 on bad input. "
        "`nas hdc suggest --layers N` lists hole-free schedules, widest receptive field first.",
    )
    p.add_argument(
        "schedule", metavar="SCHEDULE|suggest", help="comma-separated rates, e.g. 1,2,5; or the word suggest"
    )
    p.add_argument("--kernel", type=int, default=3, help="odd kernel size (default 3)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="draw the path-count map with holes marked")
    p.add_argument("--layers", type=int, help="suggest: number of layers (required)")
    p.add_argument("--max-rate", type=int, help="suggest: largest rate considered (default 20)")
    p.add_argument("--top", type=int, help="suggest: how many schedules to list (default 10)")
    p.set_defaults(run=run)


def parse_schedule(text: str) -> list[int]:
    """'1,2,5' -> [1, 2, 5], or UserError naming the argument and what is legal."""
    parts = [t.strip() for t in text.split(",")]
    if not all(t.isascii() and t.isdigit() for t in parts):
        raise UserError(
            f"SCHEDULE: '{text}' is not a comma-separated list of integers >= 1 (e.g. 1,2,5) "
            "nor the word 'suggest'"
        )
    rates = [int(t) for t in parts]
    for i, r in enumerate(rates, 1):
        if r < 1:
            raise UserError(f"SCHEDULE: rate {r} at position {i} is illegal; rates are integers >= 1")
    return rates


def run(args: argparse.Namespace) -> int:
    if args.kernel < 1 or args.kernel % 2 == 0:
        raise UserError(f"--kernel: expected an odd integer >= 1, got {args.kernel}")
    if args.schedule == "suggest":
        return _suggest(args)
    used = [f"--{n.replace('_', '-')}" for n in _SUGGEST_ONLY if getattr(args, n) is not None]
    if used:
        raise UserError(f"{', '.join(used)}: only apply to `nas hdc suggest`")
    rates = parse_schedule(args.schedule)
    span = (args.kernel - 1) * sum(rates) + 1
    if span > MAX_SPAN:
        raise UserError(f"SCHEDULE: receptive field {span} px wide; the analysis holds at most {MAX_SPAN}")
    plot = outputs.figure_file(args.plot, "--plot") if args.plot else None
    rep = hdc.report(rates, args.kernel)
    if plot:
        with outputs.writing("--plot"):
            hdc.plot(rates, args.kernel, plot)
    print(json.dumps(rep) if args.json else hdc.format_report(rep))
    if args.plot and not args.json:
        print(f"plot written to {args.plot}")
    return 0 if rep["hole_free"] else 1


def _suggest(args: argparse.Namespace) -> int:
    if args.plot:
        raise UserError("--plot: applies to a schedule, not to `nas hdc suggest`")
    if args.layers is None:
        raise UserError("--layers: `nas hdc suggest` needs the number of layers, an integer >= 1")
    if args.kernel == 1:
        raise UserError("--kernel: suggest needs an odd kernel >= 3; a 1x1 kernel has no holes to avoid")
    for flag, value in (("--layers", args.layers), ("--max-rate", args.max_rate), ("--top", args.top)):
        if value is not None and value < 1:
            raise UserError(f"{flag}: expected an integer >= 1, got {value}")
    layers, max_rate, top = args.layers, args.max_rate or 20, args.top or 10
    if layers > MAX_SEARCH_LAYERS:
        raise UserError(f"--layers: expected an integer in [1, {MAX_SEARCH_LAYERS}], got {layers}")
    if (args.kernel - 1) * layers * max_rate + 1 > MAX_SPAN:
        raise UserError(
            f"--max-rate: {layers} layers of rate up to {max_rate} may span more than the {MAX_SPAN} px "
            "the analysis holds; lower --max-rate or --layers"
        )
    rows = hdc.suggest(layers, args.kernel, max_rate, top)
    print(json.dumps(rows) if args.json else hdc.format_suggestions(rows, layers, args.kernel, max_rate))
    return 0

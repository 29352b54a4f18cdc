"""`nas hdc`: gridding analysis of a dilation schedule, or hole-free schedules to choose from.

The first positional is either a schedule (`nas hdc 1,2,5`) or the word `suggest`
(`nas hdc suggest --layers 3`); one parser serves both so either reads naturally.
"""

from __future__ import annotations

import argparse
import json

from nas import api

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
    """'1,2,5' -> [1, 2, 5], or ArgError when the text is not a list of integers (the rates
    themselves are checked by the library)."""
    parts = [t.strip() for t in text.split(",")]
    if not all(t.isascii() and t.isdigit() for t in parts):
        raise api.ArgError(
            "schedule",
            f"'{text}' is not a comma-separated list of integers >= 1 (e.g. 1,2,5) nor the word 'suggest'",
        )
    return [int(t) for t in parts]


def run(args: argparse.Namespace) -> int:
    if args.schedule == "suggest":
        return _suggest(args)
    used = [n for n in _SUGGEST_ONLY if getattr(args, n) is not None]
    if used:
        names = ", ".join(f"{{{n}}}" for n in used)
        raise api.ArgError("", f"{names}: only apply to `nas hdc suggest`", used)
    rep = api.check_schedule(parse_schedule(args.schedule), args.kernel, plot=args.plot)
    print(json.dumps(rep) if args.json else api.schedule_text(rep))
    if args.plot and not args.json:
        print(f"plot written to {args.plot}")
    return 0 if rep["hole_free"] else 1


def _suggest(args: argparse.Namespace) -> int:
    if args.plot:
        raise api.ArgError("plot", "applies to a schedule, not to `nas hdc suggest`")
    if args.layers is None:
        raise api.ArgError("layers", "`nas hdc suggest` needs the number of layers, an integer >= 1")
    max_rate = 20 if args.max_rate is None else args.max_rate
    rows = api.suggest(args.layers, args.kernel, max_rate=max_rate, top=10 if args.top is None else args.top)
    print(json.dumps(rows) if args.json else api.suggest_text(rows, args.layers, args.kernel, max_rate))
    return 0

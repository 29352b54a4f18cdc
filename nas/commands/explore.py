"""`nas explore EXPERIMENT.yaml`: refine the experiment's space step by step, as the RegNet paper did by hand."""

from __future__ import annotations

import sys

from nas.commands.sweep import add_overrides


def add_parser(sub) -> None:
    p = sub.add_parser(
        "explore",
        help="refine a space step by step: sweep candidates, keep the best one shown no worse, repeat",
    )
    p.add_argument(
        "experiment", nargs="?", help="experiment YAML with one space (an explore: section optional)"
    )
    p.add_argument("--out", help="exploration folder (default runs/<experiment name>_explore)")
    p.add_argument("--address", help="Ray cluster address (auto or ray://HOST:PORT); default a local Ray")
    p.add_argument(
        "--resume", metavar="DIR", help="go on with a killed exploration folder from the step it was in"
    )
    add_overrides(
        p, "set a field of the experiment file, e.g. explore.models=20 (validated like the file); repeatable"
    )
    p.set_defaults(run=run)


def run(args) -> int:
    from nas.api import Interrupted, explore

    try:
        done = explore(
            args.experiment, overrides=args.overrides, out=args.out, address=args.address, resume=args.resume
        )
    except Interrupted as stop:  # Ray is down by now; the steps decided so far are recorded
        print(f"nas explore: {stop.message}", file=sys.stderr)
        return stop.exit_code
    print(f"\nexploration path ({done.folder}):")
    print(f"{'step':>4}  {'parent':<12} {'kind':<21} {'pi':>6} {'p':>9}  decision / change")
    for r in done.table():
        pi = f"{r['pi']:.3f}" if r["pi"] != "" else ""
        p = f"{r['p']:.3g}" if r["p"] != "" else ""
        print(
            f"{r['step']:>4}  {r['parent']:<12} {r['kind']:<21} {pi:>6} {p:>9}  {r['decision']}  {r['change']}"
        )
    print(f"final space: {done.final.space} {done.final.options}")
    for path in done.written:
        print(f"wrote {path}")
    print(f"nas analyze {done.folder}  draws one EDF per accepted space")
    return 0

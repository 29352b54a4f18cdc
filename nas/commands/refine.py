"""`nas refine RUN_DIR --out NEW.yaml`: the next experiment, its space narrowed to the best models."""

from __future__ import annotations

from pathlib import Path

from nas.api import LEVEL, SUBSAMPLE


def add_parser(sub) -> None:
    p = sub.add_parser(
        "refine", help="write an experiment whose space is narrowed to where a run's best models lie"
    )
    p.add_argument("run_dir", help="run directory (one design space)")
    p.add_argument("--out", required=True, help="path of the refined experiment YAML")
    p.add_argument(
        "--params",
        help="comma-separated parameters to narrow (d also selects d1..d4); default: every drawn one",
    )
    p.add_argument(
        "--subsample",
        type=float,
        default=SUBSAMPLE,
        help=f"share of models per best-model bootstrap draw ({SUBSAMPLE:g})",
    )
    p.add_argument("--level", type=float, default=LEVEL, help=f"confidence of the intervals ({LEVEL:g})")
    p.add_argument(
        "--force",
        action="store_true",
        help="write the refinement even from fewer than 10 finished models (labelled indicative only)",
    )
    p.set_defaults(run=run)


def run(args) -> int:
    from nas import api

    wanted = [p.strip() for p in args.params.split(",") if p.strip()] if args.params else None
    _, ref = api.refine(
        args.run_dir, args.out, params=wanted, subsample=args.subsample, level=args.level, force=args.force
    )
    for c in ref.changes:
        to = "unchanged" if c["after"] == c["before"] else f"-> {c['after']}"
        print(f"{c['option']}: {c['before']} {to}   (from {', '.join(c['params'])})")
    for u in ref.unmapped:
        print(f"not mapped: {u['param']}: {u['why']}")
    if ref.caveat:
        print(f"warning: {ref.caveat}")
    out = Path(args.out)  # as the library names the file it writes
    if api.narrows(ref):
        print(f"wrote {out}; next: nas sweep {out}")
    elif ref.changes:
        print(
            f"nothing to narrow: the best models' intervals cover every option's whole range, so {out} "
            "would repeat the run's space and is not written (more models may narrow it)"
        )
    else:
        print(
            f"nothing to narrow: no chosen parameter maps to an option of {ref.space}, so {out} is not written"
        )
    return 0

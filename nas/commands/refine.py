"""`nas refine RUN_DIR --out NEW.yaml`: the next experiment, its space narrowed to the best models."""

from __future__ import annotations

from blocks.errors import UserError
from nas.analysis.defaults import LEVEL, SUBSAMPLE


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
    from nas import outputs
    from nas.analysis.refine import refine_run, write
    from nas.analysis.result import MIN_MODELS, few, few_note
    from nas.api import narrows
    from nas.records import store

    if not 0 < args.subsample <= 1:
        raise UserError(f"--subsample: expected a share in (0, 1], got {args.subsample}")
    if not 0 < args.level < 1:
        raise UserError(f"--level: expected a confidence in (0, 1), got {args.level}")
    out = outputs.file(args.out, "--out", example="refined.yaml")
    runs = store.find_runs([args.run_dir])
    if len(runs) != 1:
        raise UserError(
            f"{args.run_dir}: holds {len(runs)} runs; refine one of them: {[str(r) for r in runs]}"
        )
    wanted = [p.strip() for p in args.params.split(",") if p.strip()] if args.params else None
    experiment, ref = refine_run(runs[0], wanted, args.subsample, args.level)
    if few(ref.models) and not args.force:
        raise UserError(
            f"{runs[0]}: {ref.models} finished models; intervals from fewer than {MIN_MODELS} are mostly "
            "noise, so no refined experiment is written (--force writes it, labelled indicative only)"
        )
    if narrows(ref):
        write(experiment, ref, runs[0], out)
    for c in ref.changes:
        to = "unchanged" if c["after"] == c["before"] else f"-> {c['after']}"
        print(f"{c['option']}: {c['before']} {to}   (from {', '.join(c['params'])})")
    for u in ref.unmapped:
        print(f"not mapped: {u['param']}: {u['why']}")
    if few(ref.models):
        print(f"warning: intervals {few_note(ref.models)}")
    if narrows(ref):
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

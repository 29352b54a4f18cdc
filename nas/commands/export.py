"""`nas export RUN_DIR --top K`: write the best models of a run as files other tools load (spec,
weights, TorchScript, torch.export, ONNX), each loaded back and checked against the eager model."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="export the best models of a run (spec, weights, TorchScript, ONNX)")
    p.add_argument("source", help="run directory or sweep folder; or a spec file / zoo name (with --weights)")
    p.add_argument("--top", type=int, metavar="K", help="the K best models (by --by)")
    p.add_argument("--id", action="append", default=[], metavar="MODEL_ID", help="one model; repeatable")
    p.add_argument(
        "--by",
        default="error",
        metavar="{error,pareto}",
        help="error: lowest error first; pareto: the error-FLOPs front (default error)",
    )
    p.add_argument(
        "--format",
        metavar="LIST",
        help="comma-separated from spec,weights,torchscript,exported,onnx (default: spec, plus "
        "weights,torchscript,exported where trained weights were kept, and onnx where onnx, "
        "onnxscript and onnxruntime are installed)",
    )
    p.add_argument(
        "--weights", metavar="FILE", help="weights file for a spec source (e.g. from `nas retrain`)"
    )
    p.add_argument(
        "--random-init",
        action="store_true",
        help="export graphs of untrained models when no weights were kept",
    )
    p.add_argument(
        "--raw-input",
        action="store_true",
        help="graphs take raw pixels: the training split's per-channel (x - mean) / std is built in "
        "(spec.yaml records the numbers either way)",
    )
    p.add_argument(
        "--tolerance",
        type=float,
        default=1e-4,
        metavar="T",
        help="largest |eager - loaded| allowed, times max(1, largest |eager output|) (default 1e-4)",
    )
    p.add_argument("--out", default="exported", metavar="DIR", help="output folder (default ./exported)")
    p.set_defaults(run=run)


def _line(check) -> str:
    how = f" ({check.note})" if check.format == "onnx" and check.status == "verified" else ""
    return f"{check.format} {check.describe()}{how}"


def _report(rank: int, e) -> None:
    from nas import api

    cx = api.complexity(e.spec)
    error = e.record.get("error")
    err = "" if error is None else f"  error {error:.2f}%"
    if e.record.get("trial_error") is not None:
        err += f"  (trial {e.record.get('trial_index')}: error {e.record['trial_error']:.2f}%, not these weights)"
    where = e.record.get("space") or e.record.get("source") or ""
    print(
        f"[{rank}] {e.model_id}  {where}{err}  {cx.flops / 1e6:.2f} MFLOPs  {cx.params:,} params  "
        f"weights: {e.weights}  -> {e.dir}"
    )
    print("    " + " | ".join(_line(c) for c in e.checks))
    if e.record.get("weights_note"):
        print(f"    {e.record['weights_note']}")
    if e.weights == "none":
        run = e.record.get("run")
        fix = f"nas retrain {e.model_id} --run {run} --epochs N" if run else "nas retrain SPEC --epochs N"
        print(
            f"    no trained weights were kept, so only the spec; train them with `{fix}`, or use --random-init"
        )


def run(args) -> int:
    from nas import api

    done = api.export(
        args.source,
        args.out,
        top=args.top,
        by=args.by,
        id=args.id,
        format=args.format,
        weights=args.weights,
        random_init=args.random_init,
        raw_input=args.raw_input,
        tolerance=args.tolerance,
        on_done=_report,
    )
    largest: dict[str, float] = {}
    for c in (c for e in done for c in e.checks if c.diff is not None):
        largest[c.format] = max(largest.get(c.format, 0.0), c.diff)
    if largest:
        diffs = ", ".join(f"{f} {d:.1e}" for f, d in largest.items())
        print(
            f"largest |eager - loaded| per format: {diffs} (allowed: {args.tolerance:.0e} x max(1, largest |output|))"
        )
    if args.top is not None and len(done) < args.top:
        print(f"note: --top {args.top} asked, but {args.source} has {len(done)} ok model(s); exported all")
    bad = [e.model_id for e in done if not e.ok]
    unverified = sum(c.status == "unverified" for e in done for c in e.checks)
    notes = [f"{unverified} file(s) written but not verified"] if unverified else []
    notes += [f"checks FAILED for {', '.join(bad)}"] if bad else []
    print(
        f"wrote {len(done)} model(s), listed in {Path(args.out) / 'index.csv'}"
        + "".join(f"; {n}" for n in notes)
    )
    return 1 if bad else 0

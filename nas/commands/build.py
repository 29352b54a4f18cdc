"""`nas build SPEC`: rebuild a network from a spec file, zoo name or a run's model id and summarise
it per stage."""

from __future__ import annotations

LOUD_CHECK_BLOCKS = 100  # above this, --check says what it is doing before it starts


def add_parser(sub) -> None:
    p = sub.add_parser("build", help="build a spec file or zoo network and print a per-stage summary")
    p.add_argument(
        "spec", nargs="?", help="spec YAML/JSON file, zoo name (see --list), or a model id of --run"
    )
    p.add_argument(
        "--run", dest="run_dir", metavar="RUN_DIR", help="run directory (or sweep folder) of a model id"
    )
    p.add_argument("--list", action="store_true", help="list the zoo's networks")
    p.add_argument("--check", action="store_true", help="also build the module and measure it with PyTorch")
    p.set_defaults(run=run)


def run(args) -> int:
    from nas import api

    if args.list or not args.spec:
        if not args.list:
            raise api.ArgError(
                "",
                "give a spec file, a zoo name or a model id with {run} RUN_DIR, or {list}",
                ["run", "list"],
            )
        if args.run_dir:
            raise api.ArgError(
                "run", "names the run of a model id; {list} shows the zoo, which needs none", ["list"]
            )
        for name, spec in api.zoo().items():
            cx = api.complexity(spec)
            print(f"{name:<18} {cx.params:>12,} params  {cx.flops / 1e9:6.2f} GF")
        return 0
    summary = api.summary(args.spec, run=args.run_dir, check=args.check)
    spec, total = summary.spec, summary.total
    print(f"{spec.name or args.spec}  model_id {spec.model_id}  input {tuple(spec.input_shape)}")
    print(f"{'part':<34} {'output':>16} {'params':>14} {'MFLOPs':>11} {'M acts':>8}")
    for p in summary.parts:
        shape = "x".join(str(v) for v in p.shape)
        print(f"{p.name:<34} {shape:>16} {p.params:>14,} {p.flops / 1e6:>11.2f} {p.acts / 1e6:>8.3f}")
    print(f"{'total':<34} {'':>16} {total.params:>14,} {total.flops / 1e6:>11.2f} {total.acts / 1e6:>8.3f}")
    print(f"parameters: {total.params}")
    if args.check:
        if summary.blocks > LOUD_CHECK_BLOCKS:
            print(
                f"building and measuring {summary.blocks:,} blocks with PyTorch (about a second per 30 on one core)...",
                flush=True,
            )
        measured = api.measure(spec, args.spec)
        same = "equal" if measured == total else "DIFFERENT"
        print(f"measured by PyTorch: {measured.params:,} params, {measured.flops / 1e6:.2f} MFLOPs ({same})")
        return 0 if measured == total else 1
    return 0

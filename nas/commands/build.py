"""`nas build SPEC`: rebuild a network from a spec file, zoo name or a run's model id and summarise
it per stage."""

from __future__ import annotations

from typing import TYPE_CHECKING

MAX_CHECK_BLOCKS = 2_000  # --check of 1,000 blocks takes half a minute of CPU; more is refused
LOUD_CHECK_BLOCKS = 100  # above this, --check says what it is doing before it starts

if TYPE_CHECKING:
    from blocks.complexity import Complexity
    from blocks.spec import ArchSpec


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
    from blocks.complexity import breakdown, complexity
    from blocks.errors import UserError
    from nas import zoo
    from nas.api import find_spec

    if args.list or not args.spec:
        if not args.list:
            raise UserError("give a spec file, a zoo name or a model id with --run RUN_DIR, or --list")
        if args.run_dir:
            raise UserError("--run: names the run of a model id; --list shows the zoo, which needs none")
        for name in zoo.names():
            cx = complexity(zoo.get(name))
            print(f"{name:<18} {cx.params:>12,} params  {cx.flops / 1e9:6.2f} GF")
        return 0
    spec = find_spec(args.spec, args.run_dir)
    blocks = sum(st.depth for st in spec.stages)
    if args.check and blocks > MAX_CHECK_BLOCKS:
        raise UserError(
            f"{args.spec}: --check builds and runs every block through PyTorch's counter, minutes for "
            f"{blocks:,} blocks; it measures at most {MAX_CHECK_BLOCKS:,} (leave out --check for the analytic summary)"
        )
    parts = breakdown(spec)
    print(f"{spec.name or args.spec}  model_id {spec.model_id}  input {tuple(spec.input_shape)}")
    print(f"{'part':<34} {'output':>16} {'params':>14} {'MFLOPs':>11} {'M acts':>8}")
    for p in parts:
        shape = "x".join(str(v) for v in p.shape)
        print(f"{p.name:<34} {shape:>16} {p.params:>14,} {p.flops / 1e6:>11.2f} {p.acts / 1e6:>8.3f}")
    total = complexity(spec)
    print(f"{'total':<34} {'':>16} {total.params:>14,} {total.flops / 1e6:>11.2f} {total.acts / 1e6:>8.3f}")
    print(f"parameters: {total.params}")
    if args.check:
        if blocks > LOUD_CHECK_BLOCKS:
            print(
                f"building and measuring {blocks:,} blocks with PyTorch (about a second per 30 on one core)...",
                flush=True,
            )
        measured = _measure(spec, args.spec, total)
        same = "equal" if measured == total else "DIFFERENT"
        print(f"measured by PyTorch: {measured.params:,} params, {measured.flops / 1e6:.2f} MFLOPs ({same})")
        return 0 if measured == total else 1
    return 0


def _measure(spec: ArchSpec, name: str, total: Complexity) -> Complexity:
    """What PyTorch measures on the built spec, refused or stopped with one line when it cannot fit."""
    from blocks.complexity import measure
    from blocks.errors import UserError
    from blocks.network import build
    from nas.sweeping import memory

    have = memory.check_build(name, total)
    try:
        with memory.limited(have):
            return measure(build(spec), spec.input_shape)
    except (MemoryError, RuntimeError) as err:
        if not memory.out_of_memory(err):
            raise
        raise UserError(
            f"{name}: out of memory building and measuring it ({memory.gb(have)} available)"
        ) from None

"""`nas sample SPACE -n N --seed S`: draw specs from a space and print them with their complexity
(and, with --json, the drawn values that `ReplayDraw` rebuilds them from)."""

from __future__ import annotations

import json


def add_parser(sub) -> None:
    p = sub.add_parser("sample", help="draw specs from a design space and print their complexity")
    p.add_argument("space", help="design space name (see `nas spaces`)")
    p.add_argument("-n", type=int, default=5, help="number of samples (default 5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    p.add_argument(
        "--input-shape",
        "--input",
        default="3,224,224",
        metavar="C,H,W",
        help="input shape (default 3,224,224)",
    )
    p.add_argument("--classes", type=int, default=1000, help="classes of the head (default 1000)")
    p.add_argument("--flops", help="FLOPs range LO,HI in multiply-adds (e.g. 3e8,5e8; empty side open)")
    p.add_argument("--params", help="parameter range LO,HI")
    p.add_argument("--acts", help="activation range LO,HI (outputs of every layer for one image)")
    p.add_argument(
        "--dedupe", action="store_true", help="draw again instead of repeating a spec (as pycls' sweeps)"
    )
    p.add_argument(
        "--options",
        "--option",
        action="append",
        default=[],
        metavar="KEY=YAML",
        help="a space option, KEY=YAML; repeatable",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print each sample as a JSON line: model id, drawn values, complexity, full spec",
    )
    p.set_defaults(run=run)


def _range(text: str | None, name: str) -> tuple[float | None, float | None]:
    """A LO,HI flag as numbers, either side None when left empty."""
    from nas.api import ArgError

    if not text:
        return (None, None)
    parts = text.split(",")
    try:
        lo, hi = (float(x) if x.strip() else None for x in parts)
    except ValueError:
        raise ArgError(name, f"expected LO,HI numbers (either may be empty), got {text!r}") from None
    return (lo, hi)


def run(args) -> int:
    from nas import api

    ranges = {k: _range(getattr(args, k), k) for k in ("flops", "params", "acts")}
    samples = api.sample(
        args.space,
        args.n,
        seed=args.seed,
        input_shape=args.input_shape,
        classes=args.classes,
        options=api.options(args.options),
        dedupe=args.dedupe,
        **ranges,
    )
    for i, s in enumerate(samples):
        if args.json:
            print(
                json.dumps(
                    {
                        "model_id": s.spec.model_id,
                        "values": s.values,
                        "complexity": s.complexity.to_dict(),
                        "spec": s.spec.to_dict(),
                    }
                )
            )
            continue
        cx = s.complexity
        stages = " ".join(
            f"[{st.block} d={st.depth} w={st.width}"
            + "".join(f" {k[0]}={v}" for k, v in st.params.items() if k != "se_ratio")
            + "]"
            for st in s.spec.stages
        )
        print(
            f"{i:>3} {s.spec.model_id}  {cx.flops / 1e6:9.1f} MF  {cx.params / 1e6:7.3f} M params  {cx.acts / 1e6:6.2f} M acts  {stages}"
        )
    return 0

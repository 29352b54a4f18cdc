"""`nas blocks`: registered stems, stage families and heads with their parameter schemas."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("blocks", help="list block families (stems, stages, heads) and their parameters")
    p.add_argument("name", nargs="?", help="show one family only")
    p.set_defaults(run=run)


def run(args) -> int:
    from blocks import library, registry
    from blocks.errors import UnknownName

    shown = 0
    for kind in registry.KINDS:
        for fam in library.families(kind):
            if args.name and fam.name != args.name:
                continue
            shown += 1
            print(f"{kind:<5} {fam.name:<18} {fam.doc}")
            for key, param in fam.schema.items():
                print(f"      {key:<18} default {param.default!r:<16} {param.legal()}  {param.doc}")
    if args.name and not shown:
        legal = [f.name for k in registry.KINDS for f in library.families(k)]
        raise UnknownName("block", args.name, legal)
    return 0

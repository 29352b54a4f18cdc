"""`nas spaces`: the registered design spaces and their options."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("spaces", help="list design spaces and their options")
    p.add_argument("name", nargs="?", help="show one space's options in detail")
    p.set_defaults(run=run)


def run(args) -> int:
    from nas import api

    chosen = api.design_spaces(args.name)
    column = max(len(space.name) for space in chosen)  # the longest name sets the column
    for space in chosen:
        print(f"{space.name:<{column}}  {space.doc}")
        if args.name:
            for key, param in space.options.items():
                if isinstance(param.default, dict) and param.default:  # one line per entry
                    print(f"    {key:<18} {param.legal()}  {param.doc}; default:")
                    for entry, value in param.default.items():
                        print(f"        {entry:<34} {value!r}")
                else:
                    print(f"    {key:<18} default {param.default!r:<28} {param.legal()}  {param.doc}")
            if space.laws:
                print("  drawn:")
            for law in space.laws:
                source = f"  ({law.source})" if law.source else ""
                print(f"    {law.quantity:<18} {law.law:<28} {law.range}{source}")
            if space.caveat:
                print(f"  caveat: {space.caveat}")
    return 0

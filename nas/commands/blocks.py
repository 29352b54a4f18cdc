"""`nas blocks`: registered stems, stage families and heads with their parameter schemas."""

from __future__ import annotations

import re
import textwrap

INDENT = 25  # where descriptions start: after the kind and the family name
WIDTH = 100


def add_parser(sub) -> None:
    p = sub.add_parser("blocks", help="list block families (stems, stages, heads) and their parameters")
    p.add_argument("name", nargs="?", help="show one family only")
    p.set_defaults(run=run)


def first_sentence(doc: str) -> str:
    """The first sentence of a docstring, whole even when it runs over several lines."""
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    match = re.search(r"(?<=[.!?])\s", paragraph)
    return paragraph[: match.start()] if match else paragraph


def described(head: str, doc: str) -> str:
    """`head` then the description wrapped under itself."""
    return textwrap.fill(
        doc, WIDTH, initial_indent=f"{head:<{INDENT}}", subsequent_indent=" " * INDENT, break_on_hyphens=False
    )


def run(args) -> int:
    from blocks import library, registry
    from blocks.errors import UnknownName

    shown = 0
    for kind in registry.KINDS:
        for fam in library.families(kind):
            if args.name and fam.name != args.name:
                continue
            shown += 1
            # the space keeps a name longer than the column apart from its description
            print(described(f"{kind:<5} {fam.name} ", first_sentence(fam.module.__doc__ or fam.doc)))
            for key, param in fam.schema.items():
                print(f"      {key:<18} default {param.default!r:<16} {param.legal()}  {param.doc}")
    if args.name and not shown:
        legal = [f.name for k in registry.KINDS for f in library.families(k)]
        raise UnknownName("block", args.name, legal)
    return 0

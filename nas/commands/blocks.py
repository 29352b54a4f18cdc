"""`nas blocks`: registered stems, stage families and heads with their parameter schemas."""

from __future__ import annotations

import re
import textwrap

INDENT = 25  # where descriptions start: after the kind and the family name
WIDTH = 100


def add_parser(sub) -> None:
    p = sub.add_parser(
        "blocks", help="list block families (stems, stages, heads, decoders) and their parameters"
    )
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
    from nas import api

    for fam in api.block_families(args.name):
        # the space keeps a name longer than the column apart from its description
        print(described(f"{fam.kind:<5} {fam.name} ", first_sentence(fam.module.__doc__ or fam.doc)))
        for key, param in fam.schema.items():
            print(f"      {key:<18} default {param.default!r:<16} {param.legal()}  {param.doc}")
    return 0

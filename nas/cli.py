"""The `nas` command: one sub-command module per verb under `nas/commands/`."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from blocks.errors import UserError

COMMANDS = [
    "sweep",
    "analyze",
    "refine",
    "results",
    "spaces",
    "blocks",
    "sample",
    "build",
    "hdc",
    "export",
    "retrain",
]


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like every other bad input."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}; see `{self.prog} --help`\n")


def parser() -> argparse.ArgumentParser:
    """The full argument parser; each command module adds its own sub-parser."""
    top = Parser(prog="nas", description="Design-space explorer for vision networks.")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"nas.commands.{name}").add_parser(sub)
    return top


def one_line(err: BaseException) -> str:
    """An error's message on one line, so a parser's multi-line report (YAML marks) stays one."""
    return "; ".join(line.strip() for line in str(err).splitlines() if line.strip())


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the chosen command, turning user errors into one-line messages."""
    args = parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except UserError as err:  # SpecError, ParamError and UnknownName too
        print(f"nas {args.command}: error: {one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"nas {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

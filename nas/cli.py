"""The `nas` command: one sub-command module per verb under `nas/commands/`."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Iterable
from typing import NoReturn

from nas import __version__
from nas.api import ArgError, UserError

COMMANDS = [
    "sweep",
    "analyze",
    "refine",
    "explore",
    "results",
    "spaces",
    "blocks",
    "sample",
    "build",
    "hdc",
    "export",
    "retrain",
    "predict",
]


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like every other bad input."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}; see `{self.prog} --help`\n")


def parser() -> argparse.ArgumentParser:
    """The full argument parser; each command module adds its own sub-parser."""
    top = Parser(prog="nas", description="Design-space explorer for vision networks.")
    top.add_argument("--version", action="version", version=f"nas {__version__}", help="print the version")
    sub = top.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="`nas COMMAND --help` for its options"
    )
    for name in COMMANDS:
        importlib.import_module(f"nas.commands.{name}").add_parser(sub)
    return top


def flag_namer(command: str, typed: Iterable[str] = ()) -> Callable[[str], str]:
    """How `nas COMMAND` shows a library argument: as its flag (`max_rate` as `--max-rate`, `n`
    as `-n`; a flag with another spelling as the one `typed` on the command line, `--set` for
    `overrides`), a positional in capitals (`schedule` as SCHEDULE); a name it lacks as a flag."""
    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    said = {token.partition("=")[0] for token in typed if token.startswith("-")}
    shown: dict[str, str] = {}
    for action in sub._actions:
        if not action.option_strings:
            shown.setdefault(action.dest, action.dest.upper())
            continue
        for option in action.option_strings:  # --max-rate as max_rate, --no-figures as no_figures
            shown.setdefault(option.lstrip("-").replace("-", "_"), option)
        own = f"--{action.dest.replace('_', '-')}"
        spelled = [option for option in action.option_strings if option in said]
        if spelled:  # as the user wrote it: --set, though its name is --overrides
            shown[action.dest] = spelled[0]
        else:
            shown.setdefault(
                action.dest, own if own in action.option_strings else max(action.option_strings, key=len)
            )
    return lambda name: shown.get(name, f"--{name.replace('_', '-')}")


def one_line(err: BaseException) -> str:
    """An error's message on one line, so a parser's multi-line report (YAML marks) stays one."""
    return "; ".join(line.strip() for line in str(err).splitlines() if line.strip())


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the chosen command, turning user errors into one-line messages."""
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    try:
        code = int(args.run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except ArgError as err:  # a library argument: the flag of the same name set it
        print(
            f"nas {args.command}: error: {one_line(err.shown(flag_namer(args.command, argv)))}",
            file=sys.stderr,
        )
        return 2
    except UserError as err:  # SpecError, ParamError and UnknownName too
        print(f"nas {args.command}: error: {one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"nas {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader (`| head`) has gone: stop quietly, as `cat` does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so exit's flush is quiet
        return 141  # 128 + SIGPIPE, the status of a tool stopped by a closed pipe


if __name__ == "__main__":
    sys.exit(main())

"""One error hierarchy for the whole project, at the bottom so every layer can raise it.

`NasError` is the base. `UserError` and its subclasses are bad input: the CLI prints their
message alone (one line naming the file, the field and what is legal), never a traceback.
"""

from __future__ import annotations


class NasError(Exception):
    """Base of every error this project raises on purpose."""


class UserError(NasError):
    """Bad input from the user; the message names the file, the field and what is legal."""


class SpecError(UserError):
    """An ArchSpec that cannot be built or run; the message names the field and what is legal."""


class ParamError(UserError):
    """An illegal parameter value; `field` names the parameter, the message what is legal."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


class ArgError(ParamError):
    """An illegal argument of a library call, named as the call takes it; the CLI, whose flags
    bear the same names, shows it as its flag (`bootstrap` as `--bootstrap`)."""


class UnknownName(UserError):
    """A name no registry holds (block family, design space, zoo network, dataset)."""

    def __init__(self, what: str, name: str, legal: list[str]):
        super().__init__(f"unknown {what} '{name}'; legal: {legal}")
        self.what, self.name, self.legal = what, name, legal

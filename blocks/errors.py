"""One error hierarchy for the whole project, at the bottom so every layer can raise it.

`NasError` is the base. `UserError` and its subclasses are bad input: the CLI prints their
message alone (one line naming the file, the field and what is legal), never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping


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
    bear the same names, shows it as its flag (`bootstrap` as `--bootstrap`). A message that
    speaks of other arguments names them as `{name}`: `names` lists them, or maps each to how a
    Python caller reads it ({"no_figures": "figures=False"}), so each reader sees its own words;
    `field` may be "" when the message names its arguments itself."""

    def __init__(self, field: str, message: str, names: Iterable[str] | Mapping[str, str] = ()):
        self.template = message
        self.names = dict(names) if isinstance(names, Mapping) else {n: n for n in names}
        super().__init__(field, message.format_map(self.names) if self.names else message)

    def shown(self, name: Callable[[str], str]) -> str:
        """The message with every argument (the field first) named as `name` calls it."""
        text = self.template.format_map({n: name(n) for n in self.names}) if self.names else self.message
        return f"{name(self.field)}: {text}" if self.field else text


def literal(value: object) -> str:
    """A value as it reads inside an ArgError's message, which names arguments as `{name}`."""
    return str(value).replace("{", "{{").replace("}", "}}")


class UnknownName(UserError):
    """A name no registry holds (block family, design space, zoo network, dataset)."""

    def __init__(self, what: str, name: str, legal: list[str]):
        super().__init__(f"unknown {what} '{name}'; legal: {legal}")
        self.what, self.name, self.legal = what, name, legal

"""The registry of design spaces by name; the `spaces` package imports every space module,
so lookups through `spaces.get` / `spaces.names` see them all."""

from __future__ import annotations

from blocks.errors import UnknownName

_SPACES: dict = {}


def register(space) -> None:
    """Add a Space under its name."""
    if space.name in _SPACES:
        raise ValueError(f"space '{space.name}' is registered twice")
    _SPACES[space.name] = space


def get(name: str):
    """The Space called `name`; UnknownName lists the legal names."""
    if name not in _SPACES:
        raise UnknownName("design space", name, sorted(_SPACES))
    return _SPACES[name]


def names() -> list[str]:
    """Sorted names of every registered space."""
    return sorted(_SPACES)

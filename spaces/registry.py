"""The registry of design spaces by name."""

from __future__ import annotations

import importlib

from blocks.errors import UnknownName

_SPACES: dict = {}
_MODULES = ["anynet", "regnet", "hdc", "mixed"]


def register(space) -> None:
    """Add a Space under its name."""
    if space.name in _SPACES:
        raise ValueError(f"space '{space.name}' is registered twice")
    _SPACES[space.name] = space


def _load() -> None:
    for mod in _MODULES:
        importlib.import_module(f"spaces.{mod}")


def get(name: str):
    """The Space called `name`; UnknownName lists the legal names."""
    _load()
    if name not in _SPACES:
        raise UnknownName("design space", name, sorted(_SPACES))
    return _SPACES[name]


def names() -> list[str]:
    """Sorted names of every registered space."""
    _load()
    return sorted(_SPACES)

"""The registry of design spaces by name. Each space module registers its spaces when imported;
`get` imports them on demand, the lightest first, until the name is found, so looking up an
AnyNet or RegNet space loads no block family (and no PyTorch); `names` imports them all."""

from __future__ import annotations

import importlib

from blocks.errors import UnknownName

MODULES = ("spaces.anynet", "spaces.regnet", "spaces.nds", "spaces.hdc", "spaces.mixed")  # lightest first
_SPACES: dict = {}


def register(space) -> None:
    """Add a Space under its name."""
    if space.name in _SPACES:
        raise ValueError(f"space '{space.name}' is registered twice")
    _SPACES[space.name] = space


def get(name: str):
    """The Space called `name`; UnknownName lists the legal names."""
    for module in MODULES:
        if name in _SPACES:
            break
        importlib.import_module(module)
    if name not in _SPACES:
        raise UnknownName("design space", name, sorted(_SPACES))
    return _SPACES[name]


def names() -> list[str]:
    """Sorted names of every registered space."""
    for module in MODULES:
        importlib.import_module(module)
    return sorted(_SPACES)

"""Canonical networks as ArchSpecs, by name: `nas build resnet50` rebuilds them from data alone.

Each module registers builder functions returning ArchSpecs at 224x224 for 1000 classes
(unless the builder's arguments say otherwise).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from blocks.errors import UnknownName
from blocks.spec import ArchSpec

_ZOO: dict[str, Callable[[], ArchSpec]] = {}
_MODULES = ["resnet", "regnet", "mobile", "dense", "inception", "transformers"]


def register(name: str):
    """Decorator: register a zero-argument builder returning an ArchSpec under `name`."""

    def wrap(fn: Callable[[], ArchSpec]) -> Callable[[], ArchSpec]:
        if name in _ZOO:
            raise ValueError(f"zoo network '{name}' is registered twice")
        _ZOO[name] = fn
        return fn

    return wrap


def _load() -> None:
    for mod in _MODULES:
        importlib.import_module(f"nas.zoo.{mod}")


def names() -> list[str]:
    """Sorted names of the zoo's networks."""
    _load()
    return sorted(_ZOO)


def get(name: str) -> ArchSpec:
    """The ArchSpec of a zoo network; UnknownName lists the legal names."""
    _load()
    if name not in _ZOO:
        raise UnknownName("zoo network", name, sorted(_ZOO))
    spec = _ZOO[name]()
    return spec

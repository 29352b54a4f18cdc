"""The zoo's registry: canonical networks' builders by name, and `load_spec`, which also
reads a spec file. The `nas.zoo` package imports every builder module."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from blocks.errors import UnknownName, UserError
from blocks.spec import ArchSpec, load

_ZOO: dict[str, Callable[[], ArchSpec]] = {}


def register(name: str):
    """Decorator: register a zero-argument builder returning an ArchSpec under `name`."""

    def wrap(fn: Callable[[], ArchSpec]) -> Callable[[], ArchSpec]:
        if name in _ZOO:
            raise ValueError(f"zoo network '{name}' is registered twice")
        _ZOO[name] = fn
        return fn

    return wrap


def names() -> list[str]:
    """Sorted names of the zoo's networks."""
    return sorted(_ZOO)


def get(name: str) -> ArchSpec:
    """The ArchSpec of a zoo network; UnknownName lists the legal names."""
    if name not in _ZOO:
        raise UnknownName("zoo network", name, sorted(_ZOO))
    return _ZOO[name]()


def load_spec(source: str | Path) -> ArchSpec:
    """A spec from a YAML/JSON file (an exported spec.yaml too) or a zoo network's name."""
    if Path(source).is_file():
        return load(source)
    try:
        return get(str(source))
    except UnknownName as err:
        raise UserError(f"{source}: neither a spec file nor a zoo network; {err}") from None

"""One registry for stems, stage families and heads, with their parameter schemas.

A family registers an `nn.Module` class whose constructor takes the structural
arguments plus its schema's parameters, and whose static `complexity` updates a `Cx`
exactly as `forward` computes. Design spaces see families only through this registry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from blocks.errors import UnknownName
from blocks.schema import Param, Schema

KINDS = ("stem", "stage", "head")


@dataclass(frozen=True)
class Family:
    """A registered stem, stage or head: module class, schema and extra validation."""

    name: str
    kind: str
    module: type
    schema: Schema
    doc: str
    validate: Callable[..., list[str]] | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    def complexity(self, cx, *args, **params):
        """Forward to the module's own analytic complexity."""
        return self.module.complexity(cx, *args, **self.resolve(params))

    def build(self, *args, **params):
        """Instantiate the module with schema defaults filled in."""
        return self.module(*args, **self.resolve(params))

    def resolve(self, params: dict[str, Any]) -> dict[str, Any]:
        """Fill schema defaults; list parameters become tuples so modules can hash them."""
        full = {k: p.default for k, p in self.schema.items()}
        full.update(params)
        return {k: tuple(v) if isinstance(v, list) else v for k, v in full.items()}

    def errors(self, params: dict[str, Any], **structure: Any) -> list[tuple[str, str]]:
        """(field, message) pairs for unknown or illegal parameters and family rules."""
        out = []
        for key, value in params.items():
            if key not in self.schema:
                legal = sorted(self.schema) or "none"
                out.append((key, f"unknown parameter for '{self.name}'; legal: {legal}"))
                continue
            why = self.schema[key].check(value)
            if why:
                out.append((key, why))
        if not out and self.validate is not None:
            out += [("", msg) for msg in self.validate(**structure, **self.resolve(params))]
        return out


_REGISTRY: dict[str, dict[str, Family]] = {kind: {} for kind in KINDS}


def register(
    kind: str,
    name: str,
    *,
    schema: dict[str, Param] | None = None,
    validate: Callable[..., list[str]] | None = None,
    tags: Sequence[str] = (),
):
    """Class decorator that registers a stem, stage family or head under `name`."""

    def wrap(cls):
        if name in _REGISTRY[kind]:
            raise ValueError(f"{kind} '{name}' is registered twice")
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        _REGISTRY[kind][name] = Family(name, kind, cls, Schema(schema), doc, validate, tuple(tags))
        return cls

    return wrap


def get(kind: str, name: str) -> Family:
    """Look up a registered family; UnknownName lists the legal names."""
    _load_all()
    if name not in _REGISTRY[kind]:
        raise UnknownName(kind, name, sorted(_REGISTRY[kind]))
    return _REGISTRY[kind][name]


def names(kind: str) -> list[str]:
    """Sorted names registered for a kind."""
    _load_all()
    return sorted(_REGISTRY[kind])


def families(kind: str) -> list[Family]:
    """Every family registered for a kind, sorted by name."""
    return [get(kind, n) for n in names(kind)]


def _load_all() -> None:
    """Import the modules that register families (import side effects fill the registry)."""
    import blocks.library  # noqa: F401

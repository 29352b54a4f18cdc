"""One registry for stems, stage families and heads, with their parameter schemas.

A family registers an `nn.Module` class whose constructor takes the structural
arguments plus its schema's parameters, and whose static `complexity` updates a `Cx`
exactly as `forward` computes. Design spaces see families only through this registry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

KINDS = ("stem", "stage", "head")


@dataclass(frozen=True)
class Param:
    """One block parameter: its type, default and legal values (choices or a range)."""

    type: type
    default: Any
    doc: str = ""
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    is_list: bool = False
    length: int | None = None

    def legal(self) -> str:
        """Human-readable legal values, used in error messages and `nas blocks`."""
        kind = f"list of {self.type.__name__}" if self.is_list else self.type.__name__
        if self.length == 2:
            kind = f"[low, high] of {self.type.__name__}"
        elif self.length:
            kind = f"list of {self.length} {self.type.__name__}"
        if self.choices is not None:
            return f"{kind} in {list(self.choices)}"
        if self.low is not None or self.high is not None:
            lo = "-inf" if self.low is None else self.low
            hi = "inf" if self.high is None else self.high
            return f"{kind} in [{lo}, {hi}]"
        return kind

    def check(self, value: Any) -> str | None:
        """Return why `value` is illegal, or None when it is legal."""
        values = value if self.is_list else [value]
        if self.is_list and not isinstance(value, (list, tuple)):
            return f"expected {self.legal()}, got {value!r}"
        if self.is_list and self.length is not None and len(value) != self.length:
            return f"expected {self.legal()}, got {value!r}"
        if self.is_list and self.length == 2 and value[0] > value[1]:
            return f"empty range {list(value)}: low > high"
        for v in values:
            ok_type = isinstance(v, self.type) and not (self.type is not bool and isinstance(v, bool))
            if self.type is float and isinstance(v, int) and not isinstance(v, bool):
                ok_type = True
            if not ok_type:
                return f"expected {self.legal()}, got {value!r}"
            if self.choices is not None and v not in self.choices:
                return f"expected {self.legal()}, got {value!r}"
            if (self.low is not None and v < self.low) or (self.high is not None and v > self.high):
                return f"expected {self.legal()}, got {value!r}"
        return None


@dataclass(frozen=True)
class Family:
    """A registered stem, stage or head: module class, schema and extra validation."""

    name: str
    kind: str
    module: type
    schema: dict[str, Param]
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
        _REGISTRY[kind][name] = Family(name, kind, cls, dict(schema or {}), doc, validate, tuple(tags))
        return cls

    return wrap


def get(kind: str, name: str) -> Family:
    """Look up a registered family, failing with the list of legal names."""
    _load_all()
    try:
        return _REGISTRY[kind][name]
    except KeyError:
        raise KeyError(f"unknown {kind} '{name}'; legal: {sorted(_REGISTRY[kind])}") from None


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

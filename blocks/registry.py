"""One registry for stems, stage families, heads and decoders: each family's one declaration.

A family registers its `nn.Module` class with its parameter schema (defaults, legal values,
sampling grids), its cross-parameter rules and, for a parameter whose grid must be computed,
a sampler. The class's constructor and its `complexity` classmethod take the structural
arguments plus `**params` and resolve them through `cls.family`, so a default lives only in
the schema, and building the class directly equals building it through the registry.
Lookups go through `blocks.library`, which imports every family first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from blocks.errors import UnknownName
from blocks.schema import Param, Schema

if TYPE_CHECKING:
    from torch import nn

    from blocks.cx import Cx

KINDS = ("stem", "stage", "head", "decoder")


@dataclass(frozen=True)
class Site:
    """Where a part sits in its spec, for rules that look beyond the part's own parameters.

    `last`: no stage comes after the part. `before`: family name and resolved parameters of
    the part feeding this one; None when the part is checked alone or that part is invalid.
    `size`: the map the part takes; None when the part is checked alone.
    """

    last: bool = True
    before: tuple[str, dict[str, Any]] | None = None
    size: tuple[int, int] | None = None  # the map the part takes, at the spec's input shape


# A rule gets the structural arguments (stage: w_in, w_out, stride, depth; stem: c_in, w_out;
# head: w_in, num_classes; decoder: widths, strides, num_classes), the resolved parameters and `site`, all as keywords, and returns
# (parameter or "", message) pairs.
Rule = Callable[..., list[tuple[str, str]]]
# A sampler draws one parameter: (draw, stage tag, the family's sampling options) -> value.
Sampler = Callable[[Any, str, Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Family:
    """A registered stem, stage or head: its module class and its one declaration."""

    name: str
    kind: str
    module: type
    schema: Schema
    doc: str
    rules: tuple[Rule, ...] = ()
    tags: tuple[str, ...] = ()
    samplers: Mapping[str, Sampler] = field(default_factory=dict)
    sampling: Schema = field(default_factory=Schema)  # options the samplers read

    @property
    def owner(self) -> str:
        """How error messages name the family: "stage 'vit'"."""
        return f"{self.kind} '{self.name}'"

    def resolve(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with `params`; ParamError names an unknown or illegal one."""
        return self.schema.resolve(params, self.owner)

    def build(self, *args: Any, **params: Any) -> nn.Module:
        """Instantiate the module (it resolves its parameters itself)."""
        return self.module(*args, **params)

    def complexity(self, cx: Cx, *args: Any, **params: Any) -> Cx:
        """The module's own analytic complexity, added to `cx`."""
        return self.module.complexity(cx, *args, **params)

    def errors(
        self, params: Mapping[str, Any], site: Site = Site(), **structure: Any
    ) -> list[tuple[str, str]]:
        """(parameter or "", message) for unknown or illegal parameters, else the family's rules."""
        out = self.schema.errors(params, self.owner)
        if out:
            return out
        full = self.schema.filled(params)
        return [e for rule in self.rules for e in rule(**structure, **full, site=site)]


_REGISTRY: dict[str, dict[str, Family]] = {kind: {} for kind in KINDS}


def register(
    kind: str,
    name: str,
    *,
    schema: Mapping[str, Param] | None = None,
    rules: Sequence[Rule] = (),
    tags: Sequence[str] = (),
    samplers: Mapping[str, Sampler] | None = None,
    sampling: Mapping[str, Param] | None = None,
) -> Callable[[type], type]:
    """Class decorator that registers a stem, stage family or head under `name` and gives the
    class its `family`, through which it resolves its parameters."""

    def wrap(cls: type) -> type:
        if name in _REGISTRY[kind]:
            raise ValueError(f"{kind} '{name}' is registered twice")
        if "family" in vars(cls):
            raise ValueError(f"{cls.__name__} is registered already, as {cls.family.owner}")
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        fam = Family(
            name,
            kind,
            cls,
            Schema(schema),
            doc,
            tuple(rules),
            tuple(tags),
            dict(samplers or {}),
            Schema(sampling),
        )
        cls.family = fam
        _REGISTRY[kind][name] = fam
        return cls

    return wrap


def unregister(kind: str, name: str) -> Family:
    """Remove a family (a test's throwaway one) and its class's link to it."""
    fam = _REGISTRY[kind].pop(name)
    del fam.module.family
    return fam


@contextmanager
def registered(kind: str, name: str, cls: type, **declaration: Any) -> Iterator[Family]:
    """`cls` registered as `name` inside the with-block only (`declaration`: register's keywords)."""
    register(kind, name, **declaration)(cls)
    try:
        yield _REGISTRY[kind][name]
    finally:
        unregister(kind, name)


def get(kind: str, name: str) -> Family:
    """Look up a registered family; UnknownName lists the legal names."""
    if name not in _REGISTRY[kind]:
        raise UnknownName(kind, name, sorted(_REGISTRY[kind]))
    return _REGISTRY[kind][name]


def names(kind: str) -> list[str]:
    """Sorted names registered for a kind."""
    return sorted(_REGISTRY[kind])


def families(kind: str) -> list[Family]:
    """Every family registered for a kind, sorted by name."""
    return [get(kind, n) for n in names(kind)]

"""Declared parameters: the one mechanism that states a value's type, default, legal values
and sampling grid, and checks input against it.

Block families, design-space options, dataset parameters, augmentation and the sections of
an experiment file are all declared as a `Schema` of `Param`s, so a default is written once
and every bad value is refused with the same kind of message.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from blocks.errors import ParamError


@dataclass(frozen=True)
class Param:
    """One parameter: its type, default and legal values (choices or a range).

    `grid` is where a search draws it from when a space samples the parameter (the `mixed`
    space does): None keeps the default, a legal range being what a block accepts, not what
    is worth sampling. `length` fixes a list's length (2 reads as a [low, high] range).
    """

    type: type
    default: Any
    doc: str = ""
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    is_list: bool = False
    length: int | None = None
    grid: tuple | None = None
    optional: bool = False  # None is legal too (in a list: as any item, an open side of a range)
    required: bool = False  # no default: the value must be given

    def legal(self) -> str:
        """Human-readable legal values, used in error messages and listings."""
        kind = f"list of {self.type.__name__}" if self.is_list else self.type.__name__
        if self.length == 2:
            kind = f"[low, high] of {self.type.__name__}"
        elif self.length:
            kind = f"list of {self.length} {self.type.__name__}"
        if self.choices is not None:
            text = f"{kind} in {list(self.choices)}"
        elif self.low is not None or self.high is not None:
            lo = "-inf" if self.low is None else self.low
            hi = "inf" if self.high is None else self.high
            text = f"{kind} in [{lo}, {hi}]"
        else:
            text = kind
        return text + (" or null" if self.optional else "")

    def check(self, value: Any) -> str | None:
        """Why `value` is illegal, or None when it is legal (worded only for a refused value:
        every parameter of every drawn spec is checked)."""
        if value is None and self.optional and not self.is_list:
            return None

        def bad(more: str = "") -> str:
            return f"expected {self.legal()}, got {value!r}{more}"

        if self.is_list:
            if not isinstance(value, (list, tuple)):
                return bad()
            if self.length is not None and len(value) != self.length:
                return bad()
        values = value if self.is_list else [value]
        for v in values:
            if v is None and self.optional:
                continue
            if not _is_type(v, self.type):
                return bad()
            if self.choices is not None and v not in self.choices:
                return bad()
            if isinstance(v, float) and not math.isfinite(v):
                return bad("; numbers must be finite")
            if (self.low is not None and v < self.low) or (self.high is not None and v > self.high):
                return bad()
        if self.is_list and self.length == 2 and None not in value and value[0] > value[1]:
            return f"empty range {list(value)}: low > high"
        return None

    def read(self, value: Any) -> Any:
        """`value` as a YAML file means it: PyYAML reads '3.0e6' (no exponent sign) as a string,
        8.0 is a legal int and 8 a legal float, an empty value is an empty mapping and a lone
        value a one-item list; YAML's true/false is the word where the choices are words (`stream:
        true`); the result is still to be checked."""
        if self.type is dict and value is None:
            return {}
        if self.type is str and isinstance(value, bool) and str(value).lower() in (self.choices or ()):
            return str(value).lower()
        if self.is_list and self.length is None and not isinstance(value, (list, tuple)):
            value = [value]  # a lone value is a one-item list
        if self.is_list and isinstance(value, (list, tuple)):
            return [_number(v, self.type) for v in value]
        return _number(value, self.type)


def _number(v: Any, kind: type) -> Any:
    """v as a number of `kind` where it spells one; anything else unchanged, for `check` to refuse."""
    if kind not in (int, float) or isinstance(v, bool):
        return v
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            return v
    if kind is int and isinstance(v, float) and v.is_integer():
        return int(v)
    if kind is float and isinstance(v, int):
        return float(v)
    return v


def _is_type(v: Any, kind: type) -> bool:
    """isinstance, except that a bool is no number and an int is a legal float."""
    if isinstance(v, bool) and kind is not bool:
        return False
    if kind is float:
        return isinstance(v, (int, float))
    return isinstance(v, kind)


Rule = Callable[..., list[str]]


class Schema(Mapping[str, Param]):
    """An ordered declaration of parameters, read by everything that needs them.

    `noun` is what its entries are called in messages: a family's parameters, a space's
    options, the fields of an experiment file's section.
    """

    def __init__(self, params: Mapping[str, Param] | None = None, noun: str = "parameter"):
        self._params = dict(params or {})
        self.noun = noun

    def __getitem__(self, key: str) -> Param:
        return self._params[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __repr__(self) -> str:
        return f"Schema({list(self._params)})"

    def defaults(self) -> dict[str, Any]:
        """Every parameter at its default."""
        return {k: p.default for k, p in self._params.items()}

    def read(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """`values` as a YAML file means them (`Param.read`); unknown names are left for `errors`."""
        return {k: self._params[k].read(v) if k in self._params else v for k, v in values.items()}

    def errors(self, values: Mapping[str, Any], owner: str = "") -> list[tuple[str, str]]:
        """(parameter, message) for each unknown, illegal or missing required value, in order."""
        out = []
        for key, value in values.items():
            if key not in self._params:
                out.append((key, unknown(f"{self.noun} of {owner}" if owner else self.noun, self._params)))
                continue
            why = self._params[key].check(value)
            if why:
                out.append((key, why))
        for key, p in self._params.items():
            if p.required and key not in values:
                by = f" by {owner}" if owner else ""
                out.append((key, f"required{by}: expected {p.legal()}"))
        return out

    def resolve(self, values: Mapping[str, Any] | None = None, owner: str = "") -> dict[str, Any]:
        """Defaults overlaid with `values`, checked; lists become tuples so modules can hash them.

        Raises ParamError naming the first unknown or illegal parameter.
        """
        values = dict(values or {})
        errors = self.errors(values, owner)
        if errors:
            raise ParamError(*errors[0])
        return self.filled(values)

    def filled(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with `values` already checked (`errors` found none), lists as
        tuples: `resolve` without checking them again."""
        full = self.defaults()
        full.update(values or {})
        return {k: tuple(v) if isinstance(v, list) else v for k, v in full.items()}


def unknown(what: str, legal: Sequence[str]) -> str:
    """The message for a name that is not one of `legal`."""
    return f"unknown {what}; legal: {sorted(legal) or 'none'}"


def declared(kind: type, default: Any = None, doc: str = "", **legal: Any) -> Any:
    """A dataclass field declared by a Param, so that the dataclass default and the schema's
    are one: `epochs: int = declared(int, 5, "epochs per trial", low=1)`."""
    param = Param(kind, default, doc, **legal)
    meta = {"param": param}
    if param.required:
        return dataclasses.field(metadata=meta)
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def section(cls: type) -> Any:
    """A dataclass field holding a nested section: a dataclass whose fields are `declared`."""
    return dataclasses.field(default_factory=cls, metadata={"section": cls})


def schema_of(cls: type) -> Schema:
    """The Schema of a dataclass's `declared` fields (its sections are not in it)."""
    return Schema(
        {f.name: f.metadata["param"] for f in dataclasses.fields(cls) if "param" in f.metadata}, noun="field"
    )


T = TypeVar("T")


def read_fields(cls: type[T], data: Any, *, also: Sequence[str] = (), **given: Any) -> T:
    """An instance of dataclass `cls` from a mapping read from YAML (None reads as empty).

    `declared` fields are read (`Param.read`) and checked, lists becoming tuples; `section`
    fields are read recursively; omitted fields keep their defaults. The caller reads the keys
    named in `also` itself and passes the fields it makes of them in `given`. Raises
    ParamError naming the dotted field of the first unknown key, illegal value or bad section.
    """
    schema = schema_of(cls)
    sections = {f.name: f.metadata["section"] for f in dataclasses.fields(cls) if "section" in f.metadata}
    legal = [*schema, *sections, *also]
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise ParamError("", f"expected a mapping with fields {legal}, got {data!r}")
    for key in data:
        if key not in legal:
            raise ParamError(key, unknown(schema.noun, legal))
    values = schema.read({k: v for k, v in data.items() if k in schema})
    errors = schema.errors(values)
    if errors:
        raise ParamError(*errors[0])
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    for key, sub in sections.items():
        if key in data:
            try:
                values[key] = read_fields(sub, data[key])
            except ParamError as err:
                raise nested(key, err) from None
    return cls(**values, **given)


def nested(where: str, err: ParamError) -> ParamError:
    """`err` of a value read inside `where`, its field named from one level up."""
    return ParamError(f"{where}.{err.field}" if err.field else where, err.message)

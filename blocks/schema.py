"""Declared parameters: the one mechanism that states a value's type, default, legal values
and sampling grid, and checks input against it.

Block families, design-space options, dataset parameters, augmentation and the sections of
an experiment file are all declared as a `Schema` of `Param`s, so a default is written once
and every bad value is refused with the same kind of message.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

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
    optional: bool = False  # None is legal too

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
        """Why `value` is illegal, or None when it is legal."""
        if value is None and self.optional:
            return None
        bad = f"expected {self.legal()}, got {value!r}"
        if self.is_list:
            if not isinstance(value, (list, tuple)):
                return bad
            if self.length is not None and len(value) != self.length:
                return bad
        values = value if self.is_list else [value]
        for v in values:
            if not _is_type(v, self.type):
                return bad
            if self.choices is not None and v not in self.choices:
                return bad
            if isinstance(v, float) and math.isnan(v):
                return bad
            if (self.low is not None and v < self.low) or (self.high is not None and v > self.high):
                return bad
        if self.is_list and self.length == 2 and value[0] > value[1]:
            return f"empty range {list(value)}: low > high"
        return None


def _is_type(v: Any, kind: type) -> bool:
    """isinstance, except that a bool is no number and an int is a legal float."""
    if isinstance(v, bool) and kind is not bool:
        return False
    if kind is float:
        return isinstance(v, (int, float))
    return isinstance(v, kind)


Rule = Callable[..., list[str]]


class Schema(Mapping[str, Param]):
    """An ordered declaration of parameters, read by everything that needs them."""

    def __init__(self, params: Mapping[str, Param] | None = None):
        self._params = dict(params or {})

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

    def errors(self, values: Mapping[str, Any], owner: str = "") -> list[tuple[str, str]]:
        """(parameter, message) for each unknown or illegal value, in order."""
        out = []
        for key, value in values.items():
            if key not in self._params:
                legal = sorted(self._params) or "none"
                of = f" of {owner}" if owner else ""
                out.append((key, f"unknown parameter{of}; legal: {legal}"))
                continue
            why = self._params[key].check(value)
            if why:
                out.append((key, why))
        return out

    def resolve(self, values: Mapping[str, Any] | None = None, owner: str = "") -> dict[str, Any]:
        """Defaults overlaid with `values`, checked; lists become tuples so modules can hash them.

        Raises ParamError naming the first unknown or illegal parameter.
        """
        values = dict(values or {})
        errors = self.errors(values, owner)
        if errors:
            raise ParamError(*errors[0])
        full = self.defaults()
        full.update(values)
        return {k: tuple(v) if isinstance(v, list) else v for k, v in full.items()}

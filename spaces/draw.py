"""Where a design space's choices come from: a numpy Generator, an Optuna trial, or a record.

A space is written once as a define-by-run function of a `Draw`. Random sampling (for
EDFs) uses `RngDraw`, guided search uses `OptunaDraw`, and `ReplayDraw` rebuilds the same
spec from recorded values (what Ray Tune hands a trial).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from blocks.errors import NasError


class Reject(NasError):
    """The drawn values violate a constraint of the space; draw again.

    `kind` names the constraint, the same for every draw it refuses ('flops above', a spec
    field), so that rejections are counted by kind; `limit` and `value` are the bound and the
    drawn number where there are numbers, and `detail` says the rest.
    """

    def __init__(
        self, kind: str, *, limit: float | None = None, value: float | None = None, detail: str = ""
    ):
        self.kind, self.limit, self.value, self.detail = kind, limit, value, detail
        bound = "" if limit is None else f" {number(limit)}"
        drawn = "" if value is None else f": drew {number(value)}"
        super().__init__(detail or f"{kind}{bound}{drawn}")


def number(x: float) -> str:
    """A count with thousands separators, any other number in the shortest form."""
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def require(ok: bool, kind: str, *, limit: float | None = None, value: float | None = None) -> None:
    """Reject the current draw unless `ok`."""
    if not ok:
        raise Reject(kind, limit=limit, value=value)


LAWS = ("uniform", "log_uniform", "power2_uniform", "power2_or_log_uniform")


def quantize(f: float, q: float, up: bool) -> float:
    """f rounded down (or up) to a multiple of q, with q's type; decimal arithmetic keeps
    0.1-steps exact (pycls quantises the same way)."""
    if isinstance(q, int):
        return q * (math.ceil(f / q) if up else math.floor(f / q))
    ratio = Decimal(repr(float(f))) / Decimal(str(q))  # exact, so a value on the grid stays where it is
    return float((math.ceil(ratio) if up else math.floor(ratio)) * Decimal(str(q)))


def log_low(low: float, q: float) -> float:
    """Where pycls' quantised log-uniform law starts, below `low` so that rounding up reaches it."""
    return low - min(q, low / 2)


def snap_up(x: float, q: float, high: float) -> float:
    """x rounded up onto the q-grid, kept at or below `high` (a log draw's value as the spec uses it)."""
    return min(quantize(x, q, up=True), high)


def law_value(uniform: Callable[[float, float], float], law: str, low: float, high: float, q: float) -> float:
    """One value of `law` on [low, high] quantised to q, from a source of uniform floats on
    [a, b): the laws of pycls' sweep samplers (pycls/sweep/random.py), written out:

    - uniform: U[low, high + q) rounded down to q;
    - log_uniform: exp(U(log(low - min(q, low / 2)), log(high)]) rounded up to q;
    - power2_uniform: 2^floor(U[log2 low, log2 high + 1)), a uniform power of two;
    - power2_or_log_uniform: a power of two below q as power2_uniform draws it, else (when
      that power reaches q) log_uniform on [max(low, q), high] with step min(high, q).
    """
    if law == "uniform":
        return quantize(uniform(low, high + q), q, up=False)
    if law == "log_uniform":
        a, b = math.log(log_low(low, q)), math.log(high)
        return quantize(math.exp(b - uniform(0.0, b - a)), q, up=True)  # (a, b]: the top is in
    if law == "power2_uniform":
        e = math.floor(uniform(math.log2(low), math.log2(high) + 1))
        return quantize(2.0**e, q, up=False)
    if law == "power2_or_log_uniform":
        f = law_value(uniform, "power2_uniform", low, high, low)
        return law_value(uniform, "log_uniform", max(low, q), high, min(high, q)) if f >= q else f
    raise ValueError(f"unknown law '{law}'; legal: {list(LAWS)}")


def law_support(law: str, low: float, high: float, q: float) -> list[float]:
    """Every value a power-of-two law can draw, in order (Optuna draws these as a grid)."""
    powers = [2.0**e for e in range(math.ceil(math.log2(low)), math.floor(math.log2(high)) + 1)]
    if law == "power2_uniform":
        return sorted({quantize(v, q, up=False) for v in powers})
    if law == "power2_or_log_uniform":
        step = min(high, q)
        small = [type(q)(v) for v in powers if v < q]
        first = quantize(max(low, q), step, up=True)
        return small + [
            quantize(first + i * step, step, up=False) for i in range(int((high - first) // step) + 1)
        ]
    raise ValueError(
        f"law '{law}' has no finite support to list; legal: power2_uniform, power2_or_log_uniform"
    )


class Draw(ABC):
    """Base of every draw: records what was drawn under its name."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    @abstractmethod
    def int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        """An integer on the grid low..high (step), uniform or log-uniform."""

    @abstractmethod
    def float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        """A float in [low, high], uniform or log-uniform."""

    @abstractmethod
    def choice(self, name: str, options: Sequence[Any]) -> Any:
        """One of `options`."""

    @abstractmethod
    def quantized(self, name: str, low: float, high: float, q: float, law: str) -> float:
        """A value of `law` (one of LAWS, see `law_value`) on [low, high] quantised to q; an int
        when q is an int."""

    @abstractmethod
    def nondecreasing(self, name: str, n: int, low: int, high: int, *, step: int = 1) -> list[int]:
        """n values on the grid low..high (step) with v_1 <= ... <= v_n, drawn as `name1..namen`."""


class RngDraw(Draw):
    """Uniform draws (or log-uniform where asked) from a seeded numpy Generator."""

    def __init__(self, rng: np.random.Generator):
        super().__init__()
        self.rng = rng

    def int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        if log and step == 1:
            value = min(high, int(math.exp(self.rng.uniform(math.log(low), math.log(high + 1)))))
        elif log:  # log-uniform over the grid index, as OptunaDraw does
            m = (high - low) // step + 1
            value = low + step * (min(m, int(math.exp(self.rng.uniform(0.0, math.log(m + 1))))) - 1)
        else:
            value = int(low + step * self.rng.integers(0, (high - low) // step + 1))
        self.values[name] = value
        return value

    def float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        if log:
            value = float(math.exp(self.rng.uniform(math.log(low), math.log(high))))
        else:
            value = float(self.rng.uniform(low, high))
        self.values[name] = value
        return value

    def choice(self, name: str, options: Sequence[Any]) -> Any:
        value = options[int(self.rng.integers(0, len(options)))]
        self.values[name] = value
        return value

    def quantized(self, name: str, low: float, high: float, q: float, law: str) -> float:
        value = law_value(lambda a, b: float(self.rng.uniform(a, b)), law, low, high, q)
        self.values[name] = value
        return value

    def nondecreasing(self, name: str, n: int, low: int, high: int, *, step: int = 1) -> list[int]:
        # Uniform over non-decreasing sequences: n distinct picks from m+n-1 slots, minus rank.
        m = (high - low) // step + 1
        picks = np.sort(self.rng.choice(m + n - 1, size=n, replace=False)) - np.arange(n)
        out = [int(low + step * p) for p in picks]
        for i, v in enumerate(out):
            self.values[f"{name}{i + 1}"] = v
        return out


def keep_on_grid(trial: Any, name: str, q: float) -> None:
    """Tell the trial's sampler, when it keeps grids (it has a `grid` mapping), that `name` lives
    on multiples of q: it then rounds its draw before the study records it, so the study holds
    the value the spec uses rather than the float it was rounded from."""
    grid = getattr(getattr(getattr(trial, "study", None), "sampler", None), "grid", None)
    if isinstance(grid, dict):
        grid[name] = q


class OptunaDraw(Draw):
    """Draws through an Optuna trial's suggest_* calls (define-by-run)."""

    def __init__(self, trial: Any):
        super().__init__()
        self.trial = trial

    def int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        if log and step != 1:  # Optuna forbids log with step; draw the grid index log-uniformly
            k = self.trial.suggest_int(f"{name}_index", 1, (high - low) // step + 1, log=True)
            value = low + step * (k - 1)
        else:
            value = self.trial.suggest_int(name, low, high, step=step, log=log)
        self.values[name] = value
        return value

    def float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        self.values[name] = value = self.trial.suggest_float(name, low, high, log=log)
        return value

    def choice(self, name: str, options: Sequence[Any]) -> Any:
        self.values[name] = value = self.trial.suggest_categorical(name, list(options))
        return value

    def quantized(self, name: str, low: float, high: float, q: float, law: str) -> float:
        if law in ("power2_uniform", "power2_or_log_uniform"):
            return self.choice(name, law_support(law, low, high, q))
        if law == "uniform" and isinstance(q, int):
            value = self.trial.suggest_int(name, low, high, step=q)
        elif law == "uniform":
            value = self.trial.suggest_float(name, low, high, step=q)
        else:  # Optuna has no quantised log law: pycls' log-uniform float, rounded up to q
            keep_on_grid(self.trial, name, q)
            value = snap_up(self.trial.suggest_float(name, log_low(low, q), high, log=True), q, high)
        self.values[name] = value
        return value

    def nondecreasing(self, name: str, n: int, low: int, high: int, *, step: int = 1) -> list[int]:
        out, prev = [], low
        for i in range(n):
            prev = self.int(f"{name}{i + 1}", prev, high, step=step)
            out.append(prev)
        return out


class ReplayDraw(Draw):
    """Hands back recorded values, so a recorded draw rebuilds the same spec."""

    def __init__(self, values: dict[str, Any]):
        super().__init__()
        self.recorded = dict(values)

    def _get(self, name: str) -> Any:
        if name not in self.recorded:
            raise KeyError(f"no recorded value for '{name}'; recorded: {sorted(self.recorded)}")
        self.values[name] = self.recorded[name]
        return self.recorded[name]

    def int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        if name not in self.recorded and f"{name}_index" in self.recorded:
            value = low + step * (self.recorded[f"{name}_index"] - 1)
            self.values[name] = value
            return value
        return int(self._get(name))

    def float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        return float(self._get(name))

    def choice(self, name: str, options: Sequence[Any]) -> Any:
        return self._get(name)

    def quantized(self, name: str, low: float, high: float, q: float, law: str) -> float:
        return self._get(name)

    def nondecreasing(self, name: str, n: int, low: int, high: int, *, step: int = 1) -> list[int]:
        return [self.int(f"{name}{i + 1}", low, high, step=step) for i in range(n)]

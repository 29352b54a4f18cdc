"""Design spaces: a define-by-run function over a `Draw`, its options, and seeded sampling
under complexity constraints."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from blocks.complexity import Complexity, complexity
from blocks.errors import UserError
from blocks.schema import Param
from blocks.spec import ArchSpec, HeadSpec, SpecError, StageSpec, StemSpec, spec_errors
from spaces.draw import Draw, Reject, RngDraw


@dataclass(frozen=True)
class Context:
    """What the dataset and the experiment fix for every sample: input, classes, stem, strides."""

    input_shape: tuple[int, int, int] = (3, 224, 224)
    num_classes: int = 1000
    stem: StemSpec = StemSpec("simple", 32, {"stride": 2})
    head: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Space:
    """A named design space: options with defaults and legal values, and its define function."""

    name: str
    doc: str
    define: Callable[[Draw, dict[str, Any], Context], ArchSpec]
    options: dict[str, Param]
    family: str = ""
    check: Callable[[dict[str, Any]], list[tuple[str, str]]] | None = None  # (option, message) pairs

    def resolve(self, options: dict[str, Any] | None, where: str = "space.options") -> dict[str, Any]:
        """Defaults merged with user options, each checked against its legal values."""
        full = {k: p.default for k, p in self.options.items()}
        for key, value in (options or {}).items():
            if key not in self.options:
                raise UserError(
                    f"{where}.{key}: unknown option of space '{self.name}'; legal: {sorted(self.options)}"
                )
            why = self.options[key].check(value)
            if why:
                raise UserError(f"{where}.{key}: {why}")
            full[key] = list(value) if isinstance(value, tuple) else value
        for key, message in self.check(full) if self.check else []:
            raise UserError(f"{where}.{key}: {message}")
        return full


@dataclass(frozen=True)
class Sample:
    """One sampled architecture: spec, the drawn values that produced it, its complexity."""

    spec: ArchSpec
    values: dict[str, Any]
    complexity: Complexity


@dataclass(frozen=True)
class Limits:
    """Complexity constraints (inclusive); None leaves that side open."""

    flops: tuple[float | None, float | None] = (None, None)
    params: tuple[float | None, float | None] = (None, None)

    def violation(self, cx: Complexity) -> str | None:
        for key in ("flops", "params"):
            lo, hi = getattr(self, key)
            value = getattr(cx, key)
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                return f"{key} {value:,} outside [{lo}, {hi}]"
        return None


def make_spec(ctx: Context, stages: list[StageSpec]) -> ArchSpec:
    """Assemble a spec from the context and sampled stages, rejecting illegal combinations."""
    spec = ArchSpec(
        ctx.stem, tuple(stages), HeadSpec(ctx.num_classes, "classifier", dict(ctx.head)), ctx.input_shape
    )
    errors = spec_errors(spec)
    if errors:
        raise Reject(f"{errors[0][0]}: {errors[0][1]}")
    return spec


def draw_one(space: Space, draw: Draw, options: dict[str, Any], ctx: Context, limits: Limits) -> Sample:
    """Run the space's define function once and apply the limits; raises Reject."""
    spec = space.define(draw, options, ctx)
    cx = complexity(spec)
    why = limits.violation(cx)
    if why:
        raise Reject(why)
    return Sample(spec, dict(draw.values), cx)


def sample(
    space: Space,
    n: int,
    seed: int,
    *,
    ctx: Context | None = None,
    options: dict[str, Any] | None = None,
    limits: Limits | None = None,
    max_draws: int = 20_000,
) -> list[Sample]:
    """n reproducible samples: the same seed, options and limits give the same specs."""
    ctx, limits = ctx or Context(), limits or Limits()
    opts = space.resolve(options)
    rng = np.random.default_rng(seed)
    out: list[Sample] = []
    draws, reasons = 0, {}
    while len(out) < n:
        if draws >= max_draws * max(1, n):
            top = sorted(reasons.items(), key=lambda kv: -kv[1])[:3]
            detail = "; ".join(f"{r} ({c}x)" for r, c in top)
            raise UserError(
                f"space '{space.name}': only {len(out)} of {n} samples satisfy the constraints after "
                f"{draws} draws; widen constraints.flops/params or the space options. Most common: {detail}"
            )
        draws += 1
        try:
            out.append(draw_one(space, RngDraw(rng), opts, ctx, limits))
        except Reject as why:
            key = str(why).split(" outside")[0] if " outside" in str(why) else str(why)
            reasons[key] = reasons.get(key, 0) + 1
        except SpecError as err:  # a define function produced a spec the blocks refuse
            reasons[str(err)] = reasons.get(str(err), 0) + 1
    return out


def adjust_compatibility(ws: list[int], bs: list[float], gs: list[int]) -> tuple[list[int], list[int]]:
    """Make each width compatible with its bottleneck ratio and group width, as pycls does:
    inner width w/b rounded to a multiple of g (g capped at the inner width), then w = inner * b."""
    out_w, out_g = [], []
    for w, b, g in zip(ws, bs, gs, strict=True):
        inner = max(1, int(w / b))
        g = min(g, inner)
        inner = max(g, int(round(inner / g) * g))
        out_w.append(int(round(inner * b)))
        out_g.append(g)
    return out_w, out_g

"""Design spaces: a define-by-run function over a `Draw`, its options, and seeded sampling
under complexity constraints."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from blocks.cx import Cx
from blocks.errors import ParamError, UserError
from blocks.schema import Param, Schema, declared, schema_of
from blocks.spec import ArchSpec, HeadSpec, Part, SpecError, StageSpec, StemSpec, family, spec_errors
from spaces.draw import Draw, Reject, RngDraw, number

if TYPE_CHECKING:
    from blocks.complexity import Complexity


def default_stem() -> StemSpec:
    """The stem of every spec unless the experiment sets one: StemSpec's type and width, with
    its family's declared defaults written out (pycls' RegNet stem: a stride-2 3x3 conv)."""
    stem = StemSpec()
    return replace(stem, params=family("stem", stem.type).schema.defaults())


@dataclass(frozen=True)
class Context:
    """What the dataset and the experiment fix for every sample: input, classes, stem, strides."""

    input_shape: tuple[int, int, int] = (3, 224, 224)
    num_classes: int = 1000
    stem: StemSpec = field(default_factory=default_stem)
    head: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """How `nas refine` narrows one option to where a run's best models lie: the drawn values it
    governs (a regex over their names) and what it sets from their intervals: "range" [lo, hi],
    only the "low" or "high" end, or the legal "choices" inside them."""

    option: str
    params: str
    kind: str


@dataclass(frozen=True)
class Law:
    """How a space draws one quantity, for `nas spaces NAME`: the quantity ("d_i"), its law
    ("uniform", "log-uniform", "grid", ...), its range in terms of the options, and where the
    law comes from (the paper's section or its reference code)."""

    quantity: str
    law: str
    range: str
    source: str = ""


@dataclass(frozen=True)
class Space:
    """A named design space: options with defaults and legal values, and its define function."""

    name: str
    doc: str
    define: Callable[[Draw, dict[str, Any], Context], ArchSpec]
    options: Mapping[str, Param]  # a Schema once built
    family: str = ""
    check: Callable[[dict[str, Any]], list[tuple[str, str]]] | None = None  # (option, message) pairs
    refine: tuple[Rule, ...] = ()  # how `nas refine` narrows the options; none: nothing to narrow
    laws: tuple[Law, ...] = ()  # how each drawn quantity is sampled
    caveat: str = ""  # what a user must know about where the laws come from, shown with them

    def __post_init__(self) -> None:
        # a space may declare its options as a plain mapping; messages call them options
        object.__setattr__(self, "options", Schema(self.options, noun="option"))

    def resolve(self, options: dict[str, Any] | None, where: str = "space.options") -> dict[str, Any]:
        """Defaults merged with user options, checked against the option schema, then the space's rules."""
        options = dict(options or {})
        errors = self.options.errors(options, f"space '{self.name}'")
        full = self.options.defaults()
        full.update({k: list(v) if isinstance(v, tuple) else v for k, v in options.items()})
        if not errors and self.check:
            errors = self.check(full)
        if errors:
            raise UserError(f"{where}.{errors[0][0]}: {errors[0][1]}")
        return full


def strides_option(default: tuple[int, ...] = (2, 2, 2, 2), extended: bool = True) -> Param:
    """The `strides` option every space declares: each stage's stride, 1 or 2; with `extended`,
    stages beyond the list take 2 (stage_strides)."""
    doc = "stride of each stage (2 beyond the list)" if extended else "stride of each stage (one per stage)"
    return Param(int, list(default), doc, is_list=True, choices=(1, 2))


def stage_strides(strides: list[int], n: int) -> list[int]:
    """Per-stage strides of n stages: the option's list, extended with 2s when it is shorter."""
    return (list(strides) + [2] * n)[:n]


@dataclass(frozen=True)
class Sample:
    """One sampled architecture: spec, the drawn values that produced it, its complexity."""

    spec: ArchSpec
    values: dict[str, Any]
    complexity: Complexity


@dataclass(frozen=True)
class Limits:
    """Complexity constraints (inclusive); None leaves that side open. The `constraints`
    section of an experiment file reads into this."""

    flops: tuple[float | None, float | None] = declared(
        float, (None, None), "FLOPs range (multiply-adds)", is_list=True, length=2, low=0, optional=True
    )
    params: tuple[float | None, float | None] = declared(
        float, (None, None), "parameter count range", is_list=True, length=2, low=0, optional=True
    )
    acts: tuple[float | None, float | None] = declared(
        float,
        (None, None),
        "activation count range (outputs of every layer, one image)",
        is_list=True,
        length=2,
        low=0,
        optional=True,
    )

    def __post_init__(self) -> None:
        errors = schema_of(Limits).errors({f.name: getattr(self, f.name) for f in fields(self)})
        if errors:
            raise ParamError(*errors[0])

    def violation(self, cx: Complexity) -> Reject | None:
        """The rejection of the first quantity outside its range, or None."""
        for f in fields(self):
            (lo, hi), value = getattr(self, f.name), getattr(cx, f.name)
            if lo is not None and value < lo:
                return Reject(f"{f.name} below", limit=lo, value=value)
            if hi is not None and value > hi:
                return Reject(f"{f.name} above", limit=hi, value=value)
        return None


HOPELESS = 5_000  # draws without one sample that meet the limits, after which sampling stops


def make_spec(ctx: Context, stages: list[StageSpec]) -> ArchSpec:
    """Assemble a spec from the context and sampled stages, rejecting illegal combinations."""
    spec = ArchSpec(
        ctx.stem, tuple(stages), HeadSpec(ctx.num_classes, "classifier", dict(ctx.head)), ctx.input_shape
    )
    errors = spec_errors(spec)
    if errors:
        where, message = errors[0]
        stage = re.match(r"stages\[(\d+)\](.*)", where)
        kind = f"stages[*]{stage[2]} ({stages[int(stage[1])].block})" if stage else where
        raise Reject(kind, detail=f"{where}: {message}")
    return spec


def draw_one(space: Space, draw: Draw, options: dict[str, Any], ctx: Context, limits: Limits) -> Sample:
    """Run the space's define function once and apply the limits; raises Reject."""
    try:
        spec = space.define(draw, options, ctx)
    except SpecError as err:  # a define function built a spec the blocks refuse
        raise Reject("spec refused", detail=str(err)) from None
    from blocks.complexity import complexity  # the block families load with the first draw

    cx = complexity(spec)
    why = limits.violation(cx)
    if why:
        raise why
    return Sample(spec, dict(draw.values), cx)


def floor(ctx: Context) -> Complexity:
    """What every spec of a context costs at least: its stem's own cost (stages and head only add)."""
    from blocks.complexity import Complexity

    stem = ctx.stem
    _, h, w = ctx.input_shape
    part = Part("stem", stem.type, "stem", {"c_in": ctx.input_shape[0], "w_out": stem.width}, stem.params)
    cx = part.complexity(Cx(h, w))
    return Complexity(cx.flops, cx.params, cx.acts)


def check_reachable(space: Space, ctx: Context, limits: Limits) -> None:
    """Refuse limits no spec of the context can meet: an upper bound below what its stem alone costs."""
    why = limits.violation(floor(ctx))
    if why and why.kind.endswith(" above"):
        raise UserError(
            f"space '{space.name}': no model can satisfy the constraints: the stem alone "
            f"({ctx.stem.type}, width {ctx.stem.width}, input {'x'.join(map(str, ctx.input_shape))}) "
            f"has {why.kind.removesuffix(' above')} {number(why.value)}, above the bound {number(why.limit)}; "
            "raise the bound or take a cheaper stem or input"
        )


def _tally(reasons: dict[tuple, list], why: Reject) -> None:
    """Count a rejection under its kind and bound, keeping the drawn value nearest the bound
    and the first full message."""
    seen = reasons.setdefault((why.kind, why.limit), [0, None, str(why)])
    seen[0] += 1
    if why.value is not None and why.limit is not None:
        drawn = [v for v in (seen[1], why.value) if v is not None]
        seen[1] = min(drawn, key=lambda v: abs(v - why.limit))


def _reason(kind: str, limit: float | None, count: int, nearest: float | None, example: str) -> str:
    """'flops above 3e+06: 812 draws (smallest drawn model 4.1e+06)', or with an example message."""
    text = f"{kind}{'' if limit is None else ' ' + number(limit)}: {count} draws"
    if nearest is not None:
        return f"{text} ({'smallest' if nearest > limit else 'largest'} drawn model {nearest:.2g})"
    return text if example == kind else f"{text} (e.g. {example})"


def sample(
    space: Space,
    n: int,
    seed: int,
    *,
    ctx: Context | None = None,
    options: dict[str, Any] | None = None,
    limits: Limits | None = None,
    max_draws: int = 20_000,
    hopeless: int | None = None,
    dedupe: bool = False,
) -> list[Sample]:
    """n reproducible samples: the same seed, options and limits give the same specs. Refused at
    once when the stem alone breaks an upper bound, after `hopeless` (default HOPELESS) draws when
    none has met the limits (fewer than 3 in `hopeless` of the space would, at 95% confidence),
    and after `max_draws` per sample in all. With `dedupe` a spec drawn before is drawn again
    instead (pycls' sweep keeps unique configs)."""
    ctx, limits = ctx or Context(), limits or Limits()
    hopeless = HOPELESS if hopeless is None else hopeless
    opts = space.resolve(options)
    check_reachable(space, ctx, limits)
    rng = np.random.default_rng(seed)
    out: list[Sample] = []
    kept_ids: set[str] = set()
    draws, reasons = 0, {}
    while len(out) < n:
        if draws >= max_draws * max(1, n) or (draws >= hopeless and not out):
            top = sorted(reasons.items(), key=lambda kv: -kv[1][0])[:3]
            detail = "; ".join(_reason(*key, *seen) for key, seen in top)
            bound = f" (so under {3 / draws:.2%} of the space does, at 95% confidence)" if not out else ""
            raise UserError(
                f"space '{space.name}': only {len(out)} of {n} samples satisfy the constraints after "
                f"{draws} draws{bound}; widen constraints.flops/params/acts or the space options"
                f"{', or set dedupe false' if dedupe else ''}. Most common: {detail}"
            )
        draws += 1
        try:
            drawn = draw_one(space, RngDraw(rng), opts, ctx, limits)
            if dedupe and drawn.spec.model_id in kept_ids:
                raise Reject("duplicate of an earlier sample")
        except Reject as why:
            _tally(reasons, why)
            continue
        if dedupe:  # a content hash: computed only when duplicates are refused
            kept_ids.add(drawn.spec.model_id)
        out.append(drawn)
    return out

"""AnyNetX A-E and AnyNetY (Radosavovic et al. 2020, section 3.1): the RegNet paper's spaces.

Per stage i of 4 the paper draws log-uniformly d_i <= 16, w_i <= 1024 divisible by 8, b_i in
{1, 2, 4} and g_i in {1, 2, ..., 32}; its count of (16 * 128 * 3 * 6)^4 configurations says g_i
takes the six powers of two. The text does not say how the log-uniform law is made discrete:
d_i and w_i follow pycls's quantised `log_uniform` (pycls/sweep/random.py; q = 1 for d, q = 8
for w), which draws exactly the paper's 16 depths and 128 widths. b and g are drawn uniformly
from their lists, which for powers of two is the log-uniform law over them.

B shares b across stages, C also shares g, D requires w_{i+1} >= w_i, E also d_{i+1} >= d_i:
D and E are the same law conditioned on that order (`_ordered`). Widths are then made
compatible with b and g as pycls does (`adjust_compatibility`).
"""

from __future__ import annotations

from typing import Any

from blocks.schema import Param
from blocks.spec import StageSpec
from blocks.widths import adjust_compatibility
from spaces.base import Context, Law, Rule, Space, make_spec, stage_strides, strides_option
from spaces.draw import Draw, RngDraw, require
from spaces.registry import register

OPTIONS = {
    "stages": Param(int, 4, "number of stages", low=1, high=8),
    "max_depth": Param(int, 16, "d_i in 1..max_depth", low=1, high=64),
    "min_width": Param(int, 8, "smallest w_i", low=1, high=4096),
    "max_width": Param(int, 1024, "largest w_i", low=1, high=4096),
    "width_step": Param(int, 8, "w_i is a multiple of this", low=1, high=512),
    "law": Param(
        str,
        "log_uniform",
        "law of d_i and w_i: log_uniform (the paper) or uniform over the grid (earlier versions)",
        choices=("log_uniform", "uniform"),
    ),
    "bottleneck_ratios": Param(float, [1.0, 2.0, 4.0], "legal b", is_list=True, low=1.0, high=64.0),
    "group_widths": Param(int, [1, 2, 4, 8, 16, 32], "legal g", is_list=True, low=1, high=1024),
    "strides": strides_option(),
}
# only the Y block has squeeze-and-excitation: an X space has no option that would do nothing
OPTIONS_Y = {**OPTIONS, "se_ratio": Param(float, 0.25, "SE ratio of the Y block", low=0.0, high=1.0)}

# shared options govern every stage: one covers the intervals of all, and no option sets the
# lower end of d_i (d_i is drawn from 1), which refine reports as unmapped
REFINE = (
    Rule("max_depth", r"d\d+", "high"),
    Rule("min_width", r"w\d+", "low"),
    Rule("max_width", r"w\d+", "high"),
    Rule("bottleneck_ratios", r"b\d*", "choices"),
    Rule("group_widths", r"g\d*", "choices"),
)

PAPER = "RegNet paper, section 3.1"
QUANTISED = f"{PAPER}; quantised as pycls/sweep/random.py log_uniform"


def _width_range(opt: dict[str, Any]) -> tuple[int, int]:
    """The smallest and largest multiple of width_step inside [min_width, max_width]."""
    step = opt["width_step"]
    return max(step, -(-opt["min_width"] // step) * step), opt["max_width"] // step * step


def _check(opt: dict[str, Any]) -> list[tuple[str, str]]:
    """An empty width range is refused, naming the smallest legal width."""
    lo, hi = _width_range(opt)
    if lo <= hi:
        return []
    where = f"[{opt['min_width']}, {opt['max_width']}]"
    return [("min_width", f"no multiple of width_step {opt['width_step']} in {where}; the smallest is {lo}")]


def _ordered(draw: Draw, name: str, n: int, low: int, high: int, q: int, law: str) -> list[int]:
    """name1..namen drawn independently from `law`, conditioned on name1 <= ... <= namen.

    Rejection sampling: a random draw redraws the vector until it is in order, which is the
    conditioned law exactly. Redrawing this vector alone, not the whole spec, is the same law
    because it is independent of every other drawn value; for E it takes about 13 + 18 tries
    (4 depths, 4 widths) where redrawing both would take about 230. Recorded values and an
    Optuna trial hand back the same values when asked again: out of order, the draw is rejected.
    """
    while True:
        vs = [int(draw.quantized(f"{name}{i + 1}", low, high, q, law)) for i in range(n)]
        ordered = all(a <= b for a, b in zip(vs, vs[1:]))
        if ordered or not isinstance(draw, RngDraw):
            require(ordered, f"{name}1..{name}{n} out of order")
            return vs


def _vector(draw: Draw, name: str, n: int, low: int, high: int, q: int, law: str, ordered: bool) -> list[int]:
    """name1..namen drawn independently from `law`, conditioned on their order when `ordered`."""
    if ordered:
        return _ordered(draw, name, n, low, high, q, law)
    return [int(draw.quantized(f"{name}{i + 1}", low, high, q, law)) for i in range(n)]


def anynet(variant: str, block: str):
    """The define function of AnyNet{X,Y}_{variant}."""

    def define(draw: Draw, opt: dict[str, Any], ctx: Context):
        n, step, law = opt["stages"], opt["width_step"], opt["law"]
        ds = _vector(draw, "d", n, 1, opt["max_depth"], 1, law, variant == "E")
        ws = _vector(draw, "w", n, *_width_range(opt), step, law, variant in "DE")
        ratios, groups = opt["bottleneck_ratios"], opt["group_widths"]
        if variant == "A":
            bs = [float(draw.choice(f"b{i + 1}", ratios)) for i in range(n)]
        else:
            bs = [float(draw.choice("b", ratios))] * n
        if variant in "AB":
            gs = [int(draw.choice(f"g{i + 1}", groups)) for i in range(n)]
        else:
            gs = [int(draw.choice("g", groups))] * n
        ws, gs = adjust_compatibility(ws, bs, gs)
        strides = stage_strides(opt["strides"], n)
        extra = {"se_ratio": opt["se_ratio"]} if block == "res_bottleneck_y" else {}
        stages = [
            StageSpec(block, d, w, s, {"bottleneck_ratio": b, "group_width": g, **extra})
            for d, w, s, b, g in zip(ds, ws, strides, bs, gs, strict=True)
        ]
        return make_spec(ctx, stages)

    return define


def laws(variant: str) -> tuple[Law, ...]:
    """How AnyNet{X,Y}_{variant} draws d_i, w_i, b_i and g_i, for `nas spaces`."""
    d_order = ", conditioned on d_1 <= ... <= d_n" if variant == "E" else ""
    w_order = ", conditioned on w_1 <= ... <= w_n" if variant in "DE" else ""
    b = "b_i" if variant == "A" else "b (shared)"
    g = "g_i" if variant in "AB" else "g (shared)"
    return (
        Law("d_i", "log-uniform (option law)", f"integers 1..max_depth{d_order}", QUANTISED),
        Law(
            "w_i",
            "log-uniform (option law)",
            f"multiples of width_step in min_width..max_width{w_order}",
            QUANTISED,
        ),
        Law(b, "uniform over the list", "bottleneck_ratios (= log-uniform over {1, 2, 4})", PAPER),
        Law(g, "uniform over the list", "group_widths (= log-uniform over {1, 2, 4, ..., 32})", PAPER),
    )


for _v in "ABCDE":
    register(
        Space(
            f"anynet_x_{_v.lower()}",
            f"AnyNetX_{_v}: the RegNet paper's AnyNetX{_v} (X bottleneck block)",
            anynet(_v, "res_bottleneck_x"),
            OPTIONS,
            "anynet",
            check=_check,
            refine=REFINE,
            laws=laws(_v),
        )
    )
    register(
        Space(
            f"anynet_y_{_v.lower()}",
            f"AnyNetY_{_v}: AnyNetX{_v} with squeeze-and-excitation (Y block)",
            anynet(_v, "res_bottleneck_y"),
            OPTIONS_Y,
            "anynet",
            check=_check,
            refine=REFINE,
            laws=laws(_v),
        )
    )

"""AnyNetX A-E and AnyNetY (Radosavovic et al. 2020, section 3): the RegNet paper's spaces.

Per stage i of 4: depth d_i <= 16, width w_i <= 1024 divisible by 8, bottleneck ratio
b_i in {1, 2, 4}, group width g_i in {1, 2, 4, 8, 16, 32}. B shares b across stages, C
also shares g, D requires w_{i+1} >= w_i, E also d_{i+1} >= d_i. Widths are then made
compatible with b and g as pycls does (`adjust_compatibility`).
"""

from __future__ import annotations

from typing import Any

from blocks.schema import Param
from blocks.spec import StageSpec
from blocks.widths import adjust_compatibility
from spaces.base import Context, Rule, Space, make_spec
from spaces.draw import Draw
from spaces.registry import register

OPTIONS = {
    "stages": Param(int, 4, "number of stages", low=1, high=8),
    "max_depth": Param(int, 16, "d_i in 1..max_depth", low=1, high=64),
    "min_width": Param(int, 8, "smallest w_i", low=1, high=4096),
    "max_width": Param(int, 1024, "largest w_i", low=1, high=4096),
    "width_step": Param(int, 8, "w_i is a multiple of this", low=1, high=512),
    "bottleneck_ratios": Param(float, [1.0, 2.0, 4.0], "legal b", is_list=True, low=1.0, high=64.0),
    "group_widths": Param(int, [1, 2, 4, 8, 16, 32], "legal g", is_list=True, low=1, high=1024),
    "strides": Param(int, [2, 2, 2, 2], "stride of each stage", is_list=True, choices=(1, 2)),
    "se_ratio": Param(float, 0.25, "SE ratio for the Y variants", low=0.0, high=1.0),
}

# shared options govern every stage: one covers the intervals of all, and no option sets the
# lower end of d_i (d_i is drawn from 1), which refine reports as unmapped
REFINE = (
    Rule("max_depth", r"d\d+", "high"),
    Rule("min_width", r"w\d+", "low"),
    Rule("max_width", r"w\d+", "high"),
    Rule("bottleneck_ratios", r"b\d*", "choices"),
    Rule("group_widths", r"g\d*", "choices"),
)


def anynet(variant: str, block: str):
    """The define function of AnyNet{X,Y}_{variant}."""

    def define(draw: Draw, opt: dict[str, Any], ctx: Context):
        n, step = opt["stages"], opt["width_step"]
        lo_w = max(step, -(-opt["min_width"] // step) * step)
        hi_w = opt["max_width"] // step * step
        if variant == "E":
            ds = draw.nondecreasing("d", n, 1, opt["max_depth"])
        else:
            ds = [draw.int(f"d{i + 1}", 1, opt["max_depth"]) for i in range(n)]
        if variant in "DE":
            ws = draw.nondecreasing("w", n, lo_w, hi_w, step=step)
        else:
            ws = [draw.int(f"w{i + 1}", lo_w, hi_w, step=step) for i in range(n)]
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
        strides = _strides(opt["strides"], n)
        extra = {"se_ratio": opt["se_ratio"]} if block == "res_bottleneck_y" else {}
        stages = [
            StageSpec(block, d, w, s, {"bottleneck_ratio": b, "group_width": g, **extra})
            for d, w, s, b, g in zip(ds, ws, strides, bs, gs, strict=True)
        ]
        return make_spec(ctx, stages)

    return define


def _strides(strides: list[int], n: int) -> list[int]:
    """Per-stage strides: the option's list, extended with 2s when it is shorter than n."""
    return (list(strides) + [2] * n)[:n]


for _v in "ABCDE":
    register(
        Space(
            f"anynet_x_{_v.lower()}",
            f"AnyNetX_{_v}: the RegNet paper's AnyNetX{_v} (X bottleneck block)",
            anynet(_v, "res_bottleneck_x"),
            OPTIONS,
            "anynet",
            refine=REFINE,
        )
    )
    register(
        Space(
            f"anynet_y_{_v.lower()}",
            f"AnyNetY_{_v}: AnyNetX{_v} with squeeze-and-excitation (Y block)",
            anynet(_v, "res_bottleneck_y"),
            OPTIONS,
            "anynet",
            refine=REFINE,
        )
    )

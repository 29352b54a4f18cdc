"""RegNetX / RegNetY (Radosavovic et al. 2020, section 4): quantised linear widths.

Per-block widths u_j = w_0 + w_a * j for j < d are quantised to w_0 * w_m^round(log(u_j/w_0)/log(w_m)),
rounded to a multiple of 8 (numpy's round: half to even, as pycls), and blocks of equal
width form a stage. b and g are shared; Y adds SE with ratio 0.25 of the block input width.
"""

from __future__ import annotations

from typing import Any

from blocks.schema import Param
from blocks.widths import regnet_stages
from spaces.base import Context, Rule, Space, make_spec
from spaces.draw import Draw, require
from spaces.registry import register

OPTIONS = {
    "depth": Param(int, [12, 28], "range of d (total blocks)", is_list=True, low=1, high=128, length=2),
    "w0": Param(
        int, [8, 256], "range of w_0 (multiple of 8, log-uniform)", is_list=True, low=8, high=4096, length=2
    ),
    "wa": Param(
        float, [8.0, 256.0], "range of w_a (log-uniform)", is_list=True, low=0.1, high=4096.0, length=2
    ),
    "wm": Param(float, [1.5, 3.0], "range of w_m (log-uniform)", is_list=True, low=1.01, high=16.0, length=2),
    "group_widths": Param(int, [1, 2, 4, 8, 16, 32], "legal g (shared)", is_list=True, low=1, high=1024),
    "bottleneck_ratio": Param(float, 1.0, "shared b (1 in the paper's RegNet)", low=1.0, high=64.0),
    "stages": Param(
        int, [4, 4], "allowed range of the number of generated stages", is_list=True, low=1, high=16, length=2
    ),
    "strides": Param(
        int, [2, 2, 2, 2], "stride of each stage (2 beyond the list)", is_list=True, choices=(1, 2)
    ),
    "se_ratio": Param(float, 0.25, "SE ratio of RegNetY", low=0.0, high=1.0),
}

# each drawn value has its own option: ranges clip to the best models' interval, g keeps the
# choices inside it
REFINE = (
    Rule("depth", r"d", "range"),
    Rule("w0", r"w0", "range"),
    Rule("wa", r"wa", "range"),
    Rule("wm", r"wm", "range"),
    Rule("group_widths", r"g", "choices"),
)


def regnet(with_se: bool):
    """The define function of RegNetX (with_se False) or RegNetY."""

    def define(draw: Draw, opt: dict[str, Any], ctx: Context):
        d = draw.int("d", *opt["depth"])
        w0 = draw.int("w0", *opt["w0"], step=8, log=True)
        wa = draw.float("wa", *opt["wa"], log=True)
        wm = draw.float("wm", *opt["wm"], log=True)
        g = int(draw.choice("g", opt["group_widths"]))
        stages = regnet_stages(
            w0,
            wa,
            wm,
            d,
            g,
            bottleneck_ratio=opt["bottleneck_ratio"],
            se_ratio=opt["se_ratio"] if with_se else 0.0,
            strides=opt["strides"],
        )
        lo, hi = opt["stages"]
        require(lo <= len(stages) <= hi, f"stage count outside {lo}..{hi}", value=len(stages))
        return make_spec(ctx, stages)

    return define


register(
    Space(
        "regnet_x",
        "RegNetX: quantised linear widths, X block",
        regnet(False),
        OPTIONS,
        "regnet",
        refine=REFINE,
    )
)
register(
    Space(
        "regnet_y",
        "RegNetY: quantised linear widths, Y block (SE 0.25)",
        regnet(True),
        OPTIONS,
        "regnet",
        refine=REFINE,
    )
)

"""The design spaces of Radosavovic et al. 2019, *On Network Design Spaces for Visual
Recognition* (arXiv 1905.13214), Table 1: Vanilla, ResNet, ResNeXt-A and ResNeXt-B.

Each network is a stem, three stages (strides 1, 2, 2 on CIFAR, as pycls'
configs/archive/cifar/anynet/{V,R}-56_nds_1gpu.yaml) and a classifier head. Independently for
every stage i the space draws the depth d_i and width w_i, and for ResNeXt also the bottleneck
ratio b_i and the number of groups g_i, each uniformly from a short grid: Table 1's
"a, b, n" means n values spaced about evenly in log space between a and b, and every model of
the (d w)^3 or (d w b g)^3 product is equally likely.

| space      | block                      | d_i      | w_i        | b_i   | g_i    |
|------------|----------------------------|----------|------------|-------|--------|
| Vanilla    | `vanilla` (no shortcut)    | 1, 24, 9 | 16, 256, 12| -     | -      |
| ResNet     | `res_basic`                | 1, 24, 9 | 16, 256, 12| -     | -      |
| ResNeXt-A  | `res_bottleneck_x`         | 1, 16, 5 | 16, 256, 5 | 1,4,3 | 1,4,3  |
| ResNeXt-B  | `res_bottleneck_x`         | 1, 16, 5 | 64, 1024, 5| 1,4,3 | 1,16,5 |

The table is Table 1 as recalled (its text could not be retrieved here); it reproduces the
caption's model counts and the values of the released models (facebookresearch/nds). With
five or three values the log-even grids are powers of two. The nine depths and twelve widths
of Vanilla/ResNet cannot be evenly spaced integers and the paper does not list them, so the
defaults below are a reconstruction (they include 12, 24 and 40, values seen in the released
ResNet models) and are options. g_i counts groups, as in the paper; the block is given the
group width (w_i / b_i) / g_i, and a draw where g_i does not divide w_i / b_i is rejected.
"""

from __future__ import annotations

from typing import Any

from blocks.residual import bottleneck_width
from blocks.schema import Param
from blocks.spec import StageSpec
from spaces.base import Context, Law, Rule, Space, make_spec, strides_option
from spaces.draw import Draw, require
from spaces.registry import register

PAPER = "Radosavovic et al. 2019, Table 1"
RESNET_DEPTHS = (1, 2, 3, 4, 6, 8, 12, 16, 24)
RESNET_WIDTHS = (16, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256)
RESNEXT_DEPTHS = (1, 2, 4, 8, 16)
RATIOS = (1.0, 2.0, 4.0)
CAVEAT = (
    "the grids are Table 1 as recalled for this project (the table's text could not be retrieved): "
    "they reproduce its caption's model counts and every value seen in the released models, and "
    "Vanilla/ResNet's 9 depths and 12 widths are a reconstruction (README, Design spaces)"
)

REFINE = (
    Rule("depths", r"d\d+", "choices"),
    Rule("widths", r"w\d+", "choices"),
    Rule("bottleneck_ratios", r"b\d+", "choices"),
    Rule("groups", r"g\d+", "choices"),
)


def options(depths: tuple[int, ...], widths: tuple[int, ...], groups: tuple[int, ...] = ()) -> dict:
    """The option schema of one space, its grids defaulting to the space's Table 1 row."""
    out = {
        "depths": Param(int, list(depths), "legal d_i", is_list=True, low=1, high=256),
        "widths": Param(int, list(widths), "legal w_i", is_list=True, low=1, high=8192),
        "strides": strides_option((1, 2, 2), extended=False),
    }
    if groups:
        out["bottleneck_ratios"] = Param(float, list(RATIOS), "legal b_i", is_list=True, low=1.0, high=64.0)
        out["groups"] = Param(
            int, list(groups), "legal g_i (number of groups)", is_list=True, low=1, high=1024
        )
    return out


def nds(block: str):
    """The define function of a space whose stages use `block`, every value drawn per stage."""

    def define(draw: Draw, opt: dict[str, Any], ctx: Context):
        stages = []
        for i, stride in enumerate(opt["strides"]):
            d = int(draw.choice(f"d{i + 1}", opt["depths"]))
            w = int(draw.choice(f"w{i + 1}", opt["widths"]))
            params = {}
            if block == "res_bottleneck_x":
                b = float(draw.choice(f"b{i + 1}", opt["bottleneck_ratios"]))
                g = int(draw.choice(f"g{i + 1}", opt["groups"]))
                w_b = bottleneck_width(w, b)
                require(w_b >= g and w_b % g == 0, "g_i does not divide w_i / b_i", value=g)
                params = {"bottleneck_ratio": b, "group_width": w_b // g}
            stages.append(StageSpec(block, d, w, stride, params))
        return make_spec(ctx, stages)

    return define


def nds_space(name: str, doc: str, block: str, table: tuple[str, ...], depths, widths, groups=()) -> Space:
    """One space: its options default to the grids of its Table 1 row (`table`: the row's
    "a,b,n" entries for d_i, w_i and, with groups, b_i and g_i)."""
    quantities = (("d_i", "depths"), ("w_i", "widths"), ("b_i", "bottleneck_ratios"), ("g_i", "groups"))
    laws = tuple(
        Law(q, "uniform on the grid", f"{option} (Table 1 as recalled: {entry})", PAPER)
        for (q, option), entry in zip(quantities, table)
    )
    return Space(
        name,
        f"{doc} (the 2019 NDS paper, Table 1)",
        nds(block),
        options(depths, widths, groups),
        "nds",
        refine=REFINE[: len(table)],
        laws=laws,
        caveat=CAVEAT,
    )


for _space in (
    nds_space(
        "nds_vanilla",
        "Vanilla: plain stages, no shortcuts",
        "vanilla",
        ("1,24,9", "16,256,12"),
        RESNET_DEPTHS,
        RESNET_WIDTHS,
    ),
    nds_space(
        "nds_resnet",
        "ResNet: residual basic blocks",
        "res_basic",
        ("1,24,9", "16,256,12"),
        RESNET_DEPTHS,
        RESNET_WIDTHS,
    ),
    nds_space(
        "nds_resnext_a",
        "ResNeXt-A: bottleneck blocks with groups",
        "res_bottleneck_x",
        ("1,16,5", "16,256,5", "1,4,3", "1,4,3"),
        RESNEXT_DEPTHS,
        (16, 32, 64, 128, 256),
        (1, 2, 4),
    ),
    nds_space(
        "nds_resnext_b",
        "ResNeXt-B: ResNeXt-A with wider stages and more groups",
        "res_bottleneck_x",
        ("1,16,5", "64,1024,5", "1,4,3", "1,16,5"),
        RESNEXT_DEPTHS,
        (64, 128, 256, 512, 1024),
        (1, 2, 4, 8, 16),
    ),
):
    register(_space)

"""RegNetX / RegNetY (Radosavovic et al. 2020): quantised linear widths, the paper's initial
RegNet design space (section 3.3) and its constrained one (section 4).

d, w_0, w_a, w_m, g and b are drawn with the laws of pycls' regnet_sampler (the text does not
give them), inside the paper's ranges. Per-block widths u_j = w_0 + w_a * j for j < d are
quantised to w_0 * w_m^round(log(u_j/w_0)/log(w_m)) and to multiples of 8, and blocks of equal
width form a stage (`blocks.widths`). As pycls' check_regnet_constraints, a draw is kept only
when its stages use every level 0..K (none skipped, none merged by the rounding) and their
count lies in `stages`. Y adds SE with ratio 0.25 of the block input width.
"""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from blocks.schema import Param
from blocks.widths import regnet_widths, widths_to_stages
from spaces.base import Context, Law, Rule, Space, make_spec, strides_option
from spaces.draw import Draw, require
from spaces.registry import register

INITIAL = {
    "depth": Param(int, [1, 63], "range of d, the number of blocks", is_list=True, low=1, high=128, length=2),
    "w0": Param(int, [8, 248], "range of w_0", is_list=True, low=8, high=4096, length=2),
    "wa": Param(float, [8.0, 255.99], "range of w_a", is_list=True, low=0.001, high=4096.0, length=2),
    "wa_step": Param(float, 0.01, "w_a is a multiple of this (pycls' sampler: 0.1)", low=0.001, high=1.0),
    "wm": Param(float, [1.5, 3.0], "range of w_m", is_list=True, low=1.01, high=16.0, length=2),
    "group_width": Param(int, [1, 32], "range of g (shared)", is_list=True, low=1, high=1024, length=2),
    "bottleneck_ratio": Param(
        float, [1.0, 4.0], "range of b (shared)", is_list=True, low=1.0, high=64.0, length=2
    ),
    "stages": Param(
        int, [4, 4], "allowed range of the number of generated stages", is_list=True, low=1, high=16, length=2
    ),
    "strides": strides_option(),
}
SE_RATIO = {"se_ratio": Param(float, 0.25, "SE ratio of RegNetY", low=0.0, high=1.0)}  # Y spaces only

# section 4, "RegNetX constrained": b = 1, d <= 40, w_m >= 2
CONSTRAINED = {
    **INITIAL,
    "depth": replace(INITIAL["depth"], default=[1, 40]),
    "wm": replace(INITIAL["wm"], default=[2.0, 3.0]),
    "bottleneck_ratio": replace(INITIAL["bottleneck_ratio"], default=[1.0, 1.0]),
}

# drawn name -> (option, pycls law, step; None: the wa_step option), in pycls' order of drawing
DRAWN = {
    "d": ("depth", "uniform", 1),
    "w0": ("w0", "log_uniform", 8),
    "wa": ("wa", "log_uniform", None),
    "wm": ("wm", "log_uniform", 0.001),
    "g": ("group_width", "power2_or_log_uniform", 8),  # a power of two below 8, else a multiple of 8
    "b": ("bottleneck_ratio", "power2_uniform", 1 / 128),
}

LAWS = (
    Law("d", "uniform, q=1", "depth", "paper 3.3: d < 64; 4: d <= 40; law: pycls regnet_sampler"),
    Law("w0", "log_uniform, q=8", "w0", "paper 3.3: w_0 < 256; law: pycls regnet_sampler"),
    Law("wa", "log_uniform, q=wa_step", "wa", "paper 3.3: w_a < 256; law: pycls; q: the published w_a"),
    Law("wm", "log_uniform, q=0.001", "wm", "paper 3.3: 1.5 <= w_m <= 3; 4: w_m >= 2; law: pycls"),
    Law("g", "power2_or_log_uniform, q=8", "group_width", "paper 3.3, app. D: g <= 32, 8 | g; law: pycls"),
    Law(
        "b", "power2_uniform, q=1/128", "bottleneck_ratio", "paper 3.3: b in {1, 2, 4}; 4: b = 1; law: pycls"
    ),
)

# each drawn value has its own option: refine clips that option's range to the best models' interval
REFINE = tuple(Rule(option, name, "range") for name, (option, _, _) in DRAWN.items())


def _snap(x: float, q: float, up: bool) -> float:
    """x moved onto the multiples of q, up or down; decimal, so that 2.07 stays 2.07 for q=0.001."""
    k = (Decimal(str(x)) / Decimal(str(q))).to_integral_value(ROUND_CEILING if up else ROUND_FLOOR)
    return type(q)(k * Decimal(str(q)))


def _power2(x: float, up: bool) -> float:
    """The power of two nearest x from above (or below), with x's type."""
    return type(x)(2 ** (math.ceil if up else math.floor)(math.log2(x)))


def _grid_end(law: str, x: float, q: float, up: bool) -> float:
    """A range end moved inward onto the values `law` can draw: multiples of q, powers of two, or
    (power2_or_log_uniform) powers of two below q and multiples of q above it."""
    if law == "power2_uniform" or (law == "power2_or_log_uniform" and (x <= q if up else x < q)):
        return _power2(x, up)
    return _snap(x, q, up)


def ranges(opt: dict[str, Any]) -> dict[str, tuple[str, float, float, float]]:
    """Each drawn parameter's law, range (its option's, moved onto the law's grid) and step. A g
    range starting at or above 8 is drawn log-uniformly: pycls' power2_or_log_uniform is that
    law there, and is undefined for a lower end that is no power of two (a refined 24)."""
    out = {}
    for name, (option, law, q) in DRAWN.items():
        q = opt["wa_step"] if q is None else q
        lo, hi = (_grid_end(law, x, q, up) for x, up in zip(opt[option], (True, False), strict=True))
        out[name] = ("log_uniform" if law == "power2_or_log_uniform" and lo >= q else law, lo, hi, q)
    return out


def check(opt: dict[str, Any]) -> list[tuple[str, str]]:
    """Ranges that hold no value their law can draw (w0 [9, 15]: no multiple of 8)."""
    return [
        (DRAWN[name][0], f"{opt[DRAWN[name][0]]} holds no value of {law} with step {q}")
        for name, (law, lo, hi, q) in ranges(opt).items()
        if lo > hi
    ]


def regnet(with_se: bool):
    """The define function of RegNetX (with_se False) or RegNetY."""

    def define(draw: Draw, opt: dict[str, Any], ctx: Context):
        v = {name: draw.quantized(name, lo, hi, q, law) for name, (law, lo, hi, q) in ranges(opt).items()}
        ws, ds, levels = regnet_widths(v["w0"], v["wa"], v["wm"], v["d"])
        require(len(ws) == levels, "width levels skipped or merged")
        lo, hi = opt["stages"]
        require(lo <= len(ws) <= hi, f"stage count outside {lo}..{hi}", value=len(ws))
        se_ratio = opt["se_ratio"] if with_se else 0.0
        stages = widths_to_stages(
            ws, ds, int(v["g"]), bottleneck_ratio=float(v["b"]), se_ratio=se_ratio, strides=opt["strides"]
        )
        return make_spec(ctx, stages)

    return define


for _block, _with_se, _what in (("x", False, "X block"), ("y", True, "Y block (SE 0.25)")):
    for _suffix, _options, _which in (
        ("", INITIAL, "the paper's initial RegNet space (3.3)"),
        ("_constrained", CONSTRAINED, "the paper's constrained space (4: b = 1, d <= 40, w_m >= 2)"),
    ):
        register(
            Space(
                f"regnet_{_block}{_suffix}",
                f"RegNet{_block.upper()}: quantised linear widths, {_what}; {_which}",
                regnet(_with_se),
                {**_options, **SE_RATIO} if _with_se else _options,
                "regnet",
                check=check,
                refine=REFINE,
                laws=LAWS,
            )
        )

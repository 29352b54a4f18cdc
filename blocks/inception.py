"""Inception family: the GoogLeNet module, its Inception-v2/v3 factorisations, and GoogLeNet's stem.

Every conv is followed by BN (eps 1e-3, as torchvision's GoogLeNet and Inception-v3) and ReLU
when `norm="bn"`; with `norm="none"` convs carry a bias and no BN, as in the paper's own
reference net (Szegedy et al. 2015), which the zoo's `googlenet` rebuilds.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from blocks import cx as C
from blocks.registry import register
from blocks.schema import Param

VARIANTS = ("v1", "v2_5x5_as_3x3", "v3_nx1", "v3_wide")

Conv = tuple[int, int, tuple[int, int]]  # (w_in, w_out, (kh, kw))


def branch_widths(
    w_out: int,
    ratio_3x3: float,
    ratio_5x5: float,
    ratio_pool: float,
    reduce_3x3: float,
    reduce_5x5: float,
) -> tuple[int, ...]:
    """(1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj) widths from ratios, each rounded and at
    least 1; the 1x1 branch takes the remainder so the four outputs sum to w_out exactly."""
    w3, w5, wp = (max(1, round(r * w_out)) for r in (ratio_3x3, ratio_5x5, ratio_pool))
    r3, r5 = max(1, round(reduce_3x3 * w3)), max(1, round(reduce_5x5 * w5))
    return (w_out - w3 - w5 - wp, r3, w3, r5, w5, wp)


def module_widths(
    w_out: int,
    depth: int,
    branches: tuple[int, ...],
    ratios: tuple[float, float, float, float, float],
) -> list[tuple[int, ...]]:
    """Branch widths of each of a stage's modules: 6 explicit ints shared by all, 6 per module,
    or (when `branches` is empty) derived from the ratios."""
    if not branches:
        return [branch_widths(w_out, *ratios)] * depth
    if len(branches) == 6:
        return [tuple(branches)] * depth
    return [tuple(branches[6 * i : 6 * i + 6]) for i in range(depth)]


def output_width(widths: tuple[int, ...]) -> int:
    """Channels a module outputs: the 1x1, 3x3, 5x5 and pool-proj branches concatenated."""
    w1, _, w3, _, w5, wp = widths
    return w1 + w3 + w5 + wp


def _split(w_in: int, w_out: int) -> list[Conv]:
    """A 1x3 and a 3x1 conv side by side (Inception-v3's widened module); the 1x3 takes the odd channel."""
    return [(w_in, w_out - w_out // 2, (1, 3)), (w_in, w_out // 2, (3, 1))]


def branch_plan(
    variant: str, w_in: int, widths: tuple[int, ...], n: int
) -> list[tuple[bool, list[Conv], list[Conv]]]:
    """Each branch as (max pool first?, chained convs, convs run side by side on the chain's output)."""
    w1, r3, w3, r5, w5, wp = widths
    if variant == "v1":
        tail3, tail5 = ([(r3, w3, (3, 3))], []), ([(r5, w5, (5, 5))], [])
    elif variant == "v2_5x5_as_3x3":
        tail3, tail5 = ([(r3, w3, (3, 3))], []), ([(r5, w5, (3, 3)), (w5, w5, (3, 3))], [])
    elif variant == "v3_nx1":
        row, col = (1, n), (n, 1)
        tail3 = ([(r3, r3, row), (r3, w3, col)], [])
        tail5 = ([(r5, r5, row), (r5, r5, col), (r5, r5, row), (r5, w5, col)], [])
    else:
        half = w5 - w5 // 2
        tail3, tail5 = ([], _split(r3, w3)), ([(r5, half, (3, 3))], _split(half, w5))
    return [
        (False, [(w_in, w1, (1, 1))], []),
        (False, [(w_in, r3, (1, 1)), *tail3[0]], tail3[1]),
        (False, [(w_in, r5, (1, 1)), *tail5[0]], tail5[1]),
        (True, [(w_in, wp, (1, 1))], []),
    ]


class ConvUnit(nn.Sequential):
    """Conv with 'same' padding (or `valid`: none), then BN (eps 1e-3) or, without BN, a conv bias; then ReLU."""

    def __init__(
        self, w_in: int, w_out: int, kernel: tuple[int, int], bn: bool, stride: int = 1, valid: bool = False
    ):
        pad = (0, 0) if valid else (kernel[0] // 2, kernel[1] // 2)
        conv = nn.Conv2d(w_in, w_out, kernel, stride=stride, padding=pad, bias=not bn)
        norm = [nn.BatchNorm2d(w_out, eps=1e-3)] if bn else []
        super().__init__(conv, *norm, nn.ReLU(inplace=True))

    @staticmethod
    def complexity(
        cx: C.Cx,
        w_in: int,
        w_out: int,
        kernel: tuple[int, int],
        bn: bool,
        stride: int = 1,
        valid: bool = False,
    ) -> C.Cx:
        pad = (0, 0) if valid else (kernel[0] // 2, kernel[1] // 2)
        C.conv2d(cx, w_in, w_out, kernel, stride=stride, padding=pad, bias=not bn)
        return C.norm(cx, w_out) if bn else cx


class Branch(nn.Module):
    """One inception branch: optional 3x3 max pool, a chain of convs, optional side-by-side convs."""

    def __init__(self, pool: bool, chain: list[Conv], split: list[Conv], bn: bool):
        super().__init__()
        self.pool = nn.MaxPool2d(3, stride=1, padding=1) if pool else nn.Identity()
        self.chain = nn.Sequential(*(ConvUnit(*c, bn=bn) for c in chain))
        self.split = nn.ModuleList(ConvUnit(*c, bn=bn) for c in split)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.chain(self.pool(x))
        return torch.cat([conv(x) for conv in self.split], 1) if self.split else x


class InceptionModule(nn.Module):
    """Four branches (1x1; reduce then 3x3; reduce then 5x5; max pool then proj) concatenated."""

    def __init__(self, w_in: int, widths: tuple[int, ...], variant: str, n: int, bn: bool):
        super().__init__()
        self.branches = nn.ModuleList(Branch(*b, bn=bn) for b in branch_plan(variant, w_in, widths, n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], 1)

    @staticmethod
    def complexity(cx: C.Cx, w_in: int, widths: tuple[int, ...], variant: str, n: int, bn: bool) -> C.Cx:
        # every conv is stride 1 with 'same' padding, so the map size never changes here
        for _, chain, split in branch_plan(variant, w_in, widths, n):
            for conv in chain + split:
                ConvUnit.complexity(cx, *conv, bn=bn)
        return cx


RATIOS = ("ratio_3x3", "ratio_5x5", "ratio_pool", "reduce_3x3", "reduce_5x5")  # `branch_widths` order


def plan(w_out: int, depth: int, p: dict) -> list[tuple[int, ...]]:
    """Branch widths of each module of a stage with resolved parameters `p`."""
    return module_widths(w_out, depth, p["branches"], tuple(p[k] for k in RATIOS))


def _check_inception(w_out: int, depth: int, **p) -> list[tuple[str, str]]:
    branches, variant = p["branches"], p["variant"]
    if branches and len(branches) not in (6, 6 * depth):
        return [("", f"branches: expected 6 ints or 6 per module ({6 * depth}), got {len(branches)}")]
    widths_of = plan(w_out, depth, p)
    errors = []
    for i, widths in enumerate(widths_of):
        if min(widths) < 1:
            errors.append(
                f"module {i}: branch widths {list(widths)} must all be >= 1 (the 1x1 branch gets "
                f"w_out minus the 3x3, 5x5 and pool-proj widths); lower the ratios or raise w_out"
            )
        if variant == "v3_wide" and min(widths[2], widths[4]) < 2:
            errors.append(f"module {i}: v3_wide splits the 3x3 and 5x5 outputs in two, each needs >= 2")
    if output_width(widths_of[-1]) != w_out:
        errors.append(
            f"width {w_out} must equal the last module's 1x1 + 3x3 + 5x5 + pool-proj widths "
            f"({output_width(widths_of[-1])})"
        )
    return [("", e) for e in errors]


_RATIO = {"low": 0.0625, "high": 0.5}


@register(
    "stage",
    "inception",
    schema={
        "variant": Param(
            str,
            "v1",
            "v1: GoogLeNet; v2_5x5_as_3x3: 5x5 as two 3x3; v3_nx1: n x n as 1xn then nx1; "
            "v3_wide: 3x3 outputs split into 1x3 and 3x1 side by side",
            choices=VARIANTS,
            grid=VARIANTS,
        ),
        "n": Param(
            int, 7, "kernel length of the 1xn / nx1 convs (v3_nx1 only)", choices=(3, 5, 7), grid=(3, 5, 7)
        ),
        "norm": Param(str, "bn", "bn: conv, BN, ReLU; none: biased conv, ReLU", choices=("bn", "none")),
        "ratio_3x3": Param(float, 0.5, "3x3-branch output / w_out", **_RATIO, grid=(0.25, 0.375, 0.5)),
        "ratio_5x5": Param(
            float, 0.125, "5x5 (or factorised) branch output / w_out", **_RATIO, grid=(0.125, 0.25)
        ),
        "ratio_pool": Param(float, 0.125, "pool-proj branch output / w_out", **_RATIO, grid=(0.125, 0.25)),
        "reduce_3x3": Param(float, 0.75, "3x3 reduce width / 3x3 branch output", low=0.125, high=2.0),
        "reduce_5x5": Param(float, 0.5, "5x5 reduce width / 5x5 branch output", low=0.125, high=2.0),
        "branches": Param(
            int,
            (),
            "explicit widths (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj), 6 shared or 6 per "
            "module; overrides the ratios",
            low=1,
            is_list=True,
        ),
    },
    rules=(_check_inception,),
    tags=("multibranch",),
)
class InceptionStage(nn.Sequential):
    """Inception modules; stride 2 is a 3x3/2 max pool before the first, as between GoogLeNet's groups."""

    def __init__(self, w_in: int, w_out: int, stride: int, depth: int, **params: Any):
        p = self.family.resolve(params)
        layers: list[nn.Module] = [nn.MaxPool2d(3, stride=2, padding=1)] if stride == 2 else []
        for widths in plan(w_out, depth, p):
            layers.append(InceptionModule(w_in, widths, p["variant"], p["n"], p["norm"] == "bn"))
            w_in = output_width(widths)
        super().__init__(*layers)

    @classmethod
    def complexity(cls, cx: C.Cx, w_in: int, w_out: int, stride: int, depth: int, **params: Any) -> C.Cx:
        p = cls.family.resolve(params)
        if stride == 2:
            C.pool2d(cx, 3, stride=2, padding=1)
        for widths in plan(w_out, depth, p):
            InceptionModule.complexity(cx, w_in, widths, p["variant"], p["n"], p["norm"] == "bn")
            w_in = output_width(widths)
        return cx


@register(
    "stem",
    "googlenet",
    schema={
        "width_7x7": Param(int, 64, "width of the 7x7 conv and the 1x1 before the 3x3", low=8, high=256),
        "norm": Param(
            str,
            "bn",
            "bn: conv, BN, ReLU (torchvision); lrn: biased convs, LRN after each of the first two "
            "stages (the paper's reference net)",
            choices=("bn", "lrn"),
        ),
    },
)
class GoogLeNetStem(nn.Sequential):
    """7x7/2 conv, 3x3/2 max pool, 1x1 conv, 3x3 conv to the stem width, 3x3/2 max pool (/8 in all)."""

    def __init__(self, c_in: int, w_out: int, **params: Any):
        p = self.family.resolve(params)
        bn, width_7x7 = p["norm"] == "bn", p["width_7x7"]

        def lrn() -> list[nn.Module]:
            return [] if bn else [nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75)]

        super().__init__(
            ConvUnit(c_in, width_7x7, (7, 7), bn, stride=2),
            nn.MaxPool2d(3, stride=2, padding=1),
            *lrn(),
            ConvUnit(width_7x7, width_7x7, (1, 1), bn),
            ConvUnit(width_7x7, w_out, (3, 3), bn),
            *lrn(),
            nn.MaxPool2d(3, stride=2, padding=1),
        )

    @classmethod
    def complexity(cls, cx: C.Cx, c_in: int, w_out: int, **params: Any) -> C.Cx:
        p = cls.family.resolve(params)
        bn, width_7x7 = p["norm"] == "bn", p["width_7x7"]
        ConvUnit.complexity(cx, c_in, width_7x7, (7, 7), bn, stride=2)
        C.pool2d(cx, 3, stride=2, padding=1)
        ConvUnit.complexity(cx, width_7x7, width_7x7, (1, 1), bn)
        ConvUnit.complexity(cx, width_7x7, w_out, (3, 3), bn)
        return C.pool2d(cx, 3, stride=2, padding=1)

"""Inception-ResNet family (Szegedy et al. 2017, Inception-ResNet-v2) as timm builds it, and its stem.

A block runs its branches, concatenates them, maps them back to the block's width with a biased
1x1 conv, scales that (the paper's 0.1-0.3, which kept the wide residuals from dying early in
training) and adds the input; ReLU follows unless `relu` is off (timm's last block). Kinds:
Inception-ResNet-A (35x35: 1x1, 3x3, double 3x3), -B (17x17: 1x1, 1x7-7x1) and -C (8x8: 1x1,
1x3-3x1). A stage keeps its width; at stride 2 a reduction widens the input to it first: Mixed_6a
(as Inception-v4's Reduction-A) before A and B blocks, Mixed_7a (1x1, 3x3/2 twice; 1x1, 3x3,
3x3/2; max pool) before C. See `blocks.branches` for the machinery.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from blocks import cx as C
from blocks.branches import Branch, Grid, Module, Path, conv, inputs, plan_width, scaled, stage_plans
from blocks.inception_v3 import grid_schema, stem_chain
from blocks.inception_v4 import reduction_a
from blocks.registry import register
from blocks.schema import Param


def _a(widths: tuple[int, ...]) -> list[Branch]:
    """(1x1, reduce, 3x3, double reduce, double middle, double out)."""
    w0, r1, w1, r2, m2, w2 = widths
    return [
        ([conv(w0, 1)], []),
        ([conv(r1, 1), conv(w1, 3)], []),
        ([conv(r2, 1), conv(m2, 3), conv(w2, 3)], []),
    ]


def _b(widths: tuple[int, ...]) -> list[Branch]:
    """(1x1, reduce, 1x7, 7x1)."""
    w0, r1, m1, w1 = widths
    return [([conv(w0, 1)], []), ([conv(r1, 1), conv(m1, 1, 7), conv(w1, 7, 1)], [])]


def _c(widths: tuple[int, ...]) -> list[Branch]:
    """(1x1, reduce, 1x3, 3x1)."""
    w0, r1, m1, w1 = widths
    return [([conv(w0, 1)], []), ([conv(r1, 1), conv(m1, 1, 3), conv(w1, 3, 1)], [])]


def _mixed_7a(widths: tuple[int, ...]) -> list[Branch]:
    """(reduce, 3x3/2, reduce, 3x3/2, reduce, 3x3, 3x3/2) and a 3x3/2 max pool."""
    r0, w0, r1, w1, r2, m2, w2 = widths
    return [
        ([conv(r0, 1), conv(w0, 3, stride=2)], []),
        ([conv(r1, 1), conv(w1, 3, stride=2)], []),
        ([conv(r2, 1), conv(m2, 3), conv(w2, 3, stride=2)], []),
        ([("max", 3, 2, 0)], []),
    ]


MODULES = ("a", "b", "c")
# the blocks' reference widths and the width each keeps (320, 1088, 2080)
BLOCKS = {
    "a": ((32, 32, 32, 32, 48, 64), _a, 320),
    "b": ((192, 128, 160, 192), _b, 1088),
    "c": ((192, 192, 224, 256), _c, 2080),
}
REDUCTIONS = Grid(
    modules={kind: (widths, plan) for kind, (widths, plan, _) in BLOCKS.items()},
    reductions={
        "6a": ((384, 256, 256, 384), reduction_a, 0),
        "7a": ((256, 384, 256, 288, 256, 288, 320), _mixed_7a, 1),
    },
    opens={"a": "6a", "b": "6a", "c": "7a"},
)


class ResidualBlock(nn.Module):
    """Branches concatenated, biased 1x1 conv back to the width, scaled, plus the input, [ReLU]."""

    def __init__(self, width: int, plan: list[Branch], scale: float, relu: bool):
        super().__init__()
        self.branches = Module(width, plan)
        self.up = nn.Conv2d(plan_width(width, plan), width, 1)
        self.scale = scale
        self.relu = nn.ReLU() if relu else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.up(self.branches(x)) * self.scale + x)

    @staticmethod
    def complexity(cx: C.Cx, width: int, plan: list[Branch]) -> C.Cx:
        Module.complexity(cx, width, plan)
        return C.conv2d(cx, plan_width(width, plan), width, 1, bias=True)


def block_plans(w_out: int, depth: int, p: dict[str, Any]) -> list[list[Branch]]:
    """Each block's plan: explicit widths, or the reference's scaled to the stage's width."""
    reference, plan, width = BLOCKS[p["module"]]
    branches, n = p["branches"], len(reference)
    if not branches:
        return [plan(tuple(max(1, round(v * w_out / width)) for v in reference))] * depth
    if len(branches) == n:
        return [plan(tuple(branches))] * depth
    return [plan(tuple(branches[n * i : n * i + n])) for i in range(depth)]


def _opening(w_in: int, w_out: int, stride: int, p: dict[str, Any]) -> list[list[Branch]]:
    """The reduction's plan at stride 2, else none."""
    return stage_plans(REDUCTIONS, w_in, w_out, stride, 0, p)


def _check(w_in: int, w_out: int, stride: int, depth: int, **p: Any) -> list[tuple[str, str]]:
    branches, reduction, n = p["branches"], p["reduction"], len(BLOCKS[p["module"]][0])
    if branches and len(branches) not in (n, n * depth):
        return [
            (
                "branches",
                f"block '{p['module']}' takes {n} widths, or {n} per block ({n * depth}); got {len(branches)}",
            )
        ]
    if reduction and stride != 2:
        return [("reduction", "only a stride-2 stage opens with a reduction")]
    expected = len(REDUCTIONS.reductions[REDUCTIONS.opens[p["module"]]][0])
    if reduction and len(reduction) != expected:
        return [("reduction", f"expected {expected} ints, got {len(reduction)}")]
    if stride == 1 and w_in != w_out:
        return [("", f"a residual stage keeps its width: input {w_in} != width {w_out} at stride 1")]
    plans = _opening(w_in, w_out, stride, p) + block_plans(w_out, depth, p)
    flat = [c[0] for plan in plans for chain, split in plan for c in chain + split if isinstance(c[0], int)]
    if min(flat) < 1:
        return [
            ("", f"branch widths must all be >= 1 (from width {w_out} and input {w_in}); raise the width")
        ]
    if inputs(w_in, _opening(w_in, w_out, stride, p))[-1] != w_out:
        return [
            (
                "reduction",
                f"the reduction outputs {inputs(w_in, plans[:1])[-1]} channels, not the width {w_out}",
            )
        ]
    return []


@register(
    "stage",
    "inception_resnet",
    schema={
        **grid_schema(
            MODULES,
            "block kind: Inception-ResNet-A (35x35), -B (17x17, 1x7-7x1), -C (8x8, 1x3-3x1)",
            "A: 1x1, reduce, 3x3, double reduce, double middle, double out; B: 1x1, reduce, 1x7, 7x1; "
            "C: 1x1, reduce, 1x3, 3x1",
            "Mixed_6a: 3x3/2, reduce, 3x3, 3x3/2; Mixed_7a: reduce, 3x3/2, reduce, 3x3/2, reduce, 3x3, 3x3/2",
        ),
        "scale": Param(
            float, 0.2, "residual scaling (timm: A 0.17, B 0.1, C 0.2)", low=0.0, high=1.0, grid=(0.1, 0.2)
        ),
        "relu": Param(bool, True, "ReLU after the addition (timm's last block has none)"),
    },
    rules=(_check,),
    tags=("multibranch", "residual"),
)
class InceptionResNetStage(nn.Sequential):
    """Residual Inception blocks of one kind at the stage's width, opened at stride 2 by a reduction."""

    def __init__(self, w_in: int, w_out: int, stride: int, depth: int, **params: Any):
        p = self.family.resolve(params)
        opening = [Module(w_in, plan) for plan in _opening(w_in, w_out, stride, p)]
        blocks = [ResidualBlock(w_out, plan, p["scale"], p["relu"]) for plan in block_plans(w_out, depth, p)]
        super().__init__(*opening, *blocks)

    @classmethod
    def complexity(cls, cx: C.Cx, w_in: int, w_out: int, stride: int, depth: int, **params: Any) -> C.Cx:
        p = cls.family.resolve(params)
        for plan in _opening(w_in, w_out, stride, p):
            Module.complexity(cx, w_in, plan)
        for plan in block_plans(w_out, depth, p):
            ResidualBlock.complexity(cx, w_out, plan)
        return cx


# Mixed_5b: (1x1, reduce, 5x5, double reduce, double 3x3, pool proj), 320 wide
MIXED_5B = (96, 48, 64, 64, 96, 64)


def _mixed_5b(widths: tuple[int, ...]) -> list[Branch]:
    w0, r1, w1, r2, w2, wp = widths
    return [
        ([conv(w0, 1)], []),
        ([conv(r1, 1), conv(w1, 5)], []),
        ([conv(r2, 1), conv(w2, 3), conv(w2, 3)], []),
        ([("avg_excl", 3, 1, 1), conv(wp, 1)], []),
    ]


@register("stem", "inception_resnet_v2")
class InceptionResNetV2Stem(nn.Sequential):
    """Inception-v3's stem to 192 (299 to 35), then Mixed_5b's four branches to the width (320)."""

    def __init__(self, c_in: int, w_out: int, **params: Any):
        self.family.resolve(params)  # refuses any parameter: this stem has none
        super().__init__(
            Path(c_in, stem_chain(192), []), Module(192, _mixed_5b(scaled(MIXED_5B, _mixed_5b, w_out, 0)))
        )

    @classmethod
    def complexity(cls, cx: C.Cx, c_in: int, w_out: int, **params: Any) -> C.Cx:
        cls.family.resolve(params)  # refuses any parameter: this stem has none
        Path.complexity(cx, c_in, stem_chain(192), [])
        return Module.complexity(cx, 192, _mixed_5b(scaled(MIXED_5B, _mixed_5b, w_out, 0)))

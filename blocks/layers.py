"""Layers shared by several families: squeeze-and-excitation and a stage of repeated blocks."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from blocks import cx as C

SE_ROUNDINGS = ("input", "expanded8")  # EfficientNet's and SENet's rule; MobileNetV3's
SE_GATES: dict[str, type[nn.Module]] = {"sigmoid": nn.Sigmoid, "hard_sigmoid": nn.Hardsigmoid}


def se_width(w_in: int, se_ratio: float, rounding: str = "input", w_expanded: int = 0) -> int:
    """SE bottleneck width. 'input': round(se_ratio * block input width), at least one channel (a
    narrow block would otherwise get an SE of zero channels); 'floor': floor(se_ratio * input
    width), RegSeg's in_channels // 4, whose family refuses a zero; 'expanded8': floor(se_ratio *
    the expanded width) made divisible by 8, as MobileNetV3 (torchvision: _make_divisible(expanded // 4, 8))."""
    if rounding == "expanded8":
        return make_divisible(int(w_expanded * se_ratio), 8)
    if rounding == "floor":
        return int(w_in * se_ratio)
    return max(1, int(round(w_in * se_ratio)))


def make_divisible(value: float, divisor: int) -> int:
    """`value` to the nearest multiple of `divisor`, at least `divisor` and never 10% below `value`
    (the MobileNet papers' channel rule)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class SE(nn.Module):
    """Squeeze-and-excitation: global pool, 1x1 reduce with ReLU-like act, 1x1 expand, then a
    sigmoid gate (or MobileNetV3's hard sigmoid)."""

    def __init__(self, w_in: int, w_se: int, act: type[nn.Module] = nn.ReLU, gate: str = "sigmoid"):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(w_in, w_se, 1, bias=True)
        self.act = act()
        self.expand = nn.Conv2d(w_se, w_in, 1, bias=True)
        self.gate = SE_GATES[gate]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.expand(self.act(self.reduce(self.pool(x)))))

    @staticmethod
    def complexity(cx: C.Cx, w_in: int, w_se: int) -> C.Cx:
        h, w = cx.h, cx.w
        C.global_pool(cx)
        C.conv2d(cx, w_in, w_se, 1, bias=True)
        C.conv2d(cx, w_se, w_in, 1, bias=True)
        cx.h, cx.w = h, w
        return cx


class DropPath(nn.Module):
    """Stochastic depth: in training, drop a sample's residual branch with probability p."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = 1 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep


def repeat_blocks(block: type[nn.Module], **fixed: Any) -> type[nn.Module]:
    """Make a stage class that chains `depth` blocks; only the first changes width and stride.

    Registered, the class resolves its family's parameters and hands them, with the `fixed`
    ones the family does not expose, to every block."""

    class Stage(nn.Sequential):
        def __init__(self, w_in: int, w_out: int, stride: int, depth: int, **params: Any):
            p = {**self.family.resolve(params), **fixed}
            super().__init__(
                *(block(w_in if i == 0 else w_out, w_out, stride if i == 0 else 1, **p) for i in range(depth))
            )

        @classmethod
        def complexity(cls, cx: C.Cx, w_in: int, w_out: int, stride: int, depth: int, **params: Any) -> C.Cx:
            p = {**cls.family.resolve(params), **fixed}
            for i in range(depth):
                block.complexity(cx, w_in if i == 0 else w_out, w_out, stride if i == 0 else 1, **p)
            return cx

    Stage.__name__ = Stage.__qualname__ = f"{block.__name__}Stage"
    Stage.__doc__ = block.__doc__
    return Stage

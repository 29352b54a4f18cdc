"""Residual families: ResNet basic block, the AnyNet X / Y bottleneck (groups, SE after the 3x3
conv), and SENet's bottleneck (SE on the block's output before the addition)."""

from __future__ import annotations

import torch
from torch import nn

from blocks import cx as C
from blocks.layers import SE, repeat_blocks, se_width
from blocks.registry import register
from blocks.schema import Param
from blocks.vanilla import VanillaBlock


class Shortcut(nn.Module):
    """Projection shortcut (1x1 conv + BN) used when width or resolution changes."""

    def __init__(self, w_in: int, w_out: int, stride: int):
        super().__init__()
        self.conv = nn.Conv2d(w_in, w_out, 1, stride=stride, bias=False)
        self.bn = nn.BatchNorm2d(w_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))

    @staticmethod
    def complexity(cx: C.Cx, w_in: int, w_out: int, stride: int) -> C.Cx:
        C.conv2d(cx, w_in, w_out, 1, stride=stride, padding=0)
        return C.norm(cx, w_out)


def shortcut(w_in: int, w_out: int, stride: int) -> nn.Module | None:
    """The projection shortcut when width or resolution changes, else None (identity)."""
    return Shortcut(w_in, w_out, stride) if (w_in != w_out or stride != 1) else None


def shortcut_cost(cx: C.Cx, w_in: int, w_out: int, stride: int) -> None:
    """Add the shortcut's cost without moving `cx`'s spatial size (the main path does that)."""
    if w_in != w_out or stride != 1:
        sub = Shortcut.complexity(C.Cx(cx.h, cx.w), w_in, w_out, stride)
        cx.flops, cx.params, cx.acts = (
            cx.flops + sub.flops,
            cx.params + sub.params,
            cx.acts + sub.acts,
        )


class BasicBlock(VanillaBlock):
    """ResNet basic block: 3x3 conv, BN, ReLU, 3x3 conv, BN, add, ReLU."""

    def __init__(self, w_in: int, w_out: int, stride: int):
        super().__init__(w_in, w_out, stride)
        self.proj = shortcut(w_in, w_out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.b_bn(self.b(self.relu(self.a_bn(self.a(x)))))
        return self.relu(out + (x if self.proj is None else self.proj(x)))

    @staticmethod
    def complexity(cx: C.Cx, w_in: int, w_out: int, stride: int) -> C.Cx:
        shortcut_cost(cx, w_in, w_out, stride)
        return VanillaBlock.complexity(cx, w_in, w_out, stride)


def bottleneck_width(w_out: int, bottleneck_ratio: float) -> int:
    """Inner width w_b = w / b (the paper's b; pycls stores 1/b as its multiplier)."""
    return int(round(w_out / bottleneck_ratio))


def se_widths(w_in: int, w_b: int, w_out: int, se_ratio: float, se_at: str) -> tuple[int, int]:
    """The width an SE gates and the width it squeezes to: AnyNet Y gates the 3x3 conv's output,
    squeezed to se_ratio * block input width; SENet the last BN's output, squeezed to se_ratio *
    output width (1/16; timm rounds it to a multiple of 8, the same for widths that are multiples
    of 128). Both round as blocks.layers.se_width does."""
    return (w_b, se_width(w_in, se_ratio)) if se_at == "inner" else (w_out, se_width(w_out, se_ratio))


class BottleneckBlock(nn.Module):
    """AnyNet X block (Y with se_ratio > 0): 1x1, grouped 3x3 (stride here), [SE], 1x1, add.

    `se_at`: "inner" puts SE on the 3x3 conv's output (AnyNet Y), "output" on the last BN's,
    before the addition (SENet). `stride_at` "1x1" strides the first 1x1 conv instead of the 3x3
    (Caffe's original ResNet, as TuSimple's ResNet-101-DUC-HDC; torchvision's "v1.5" strides the 3x3)."""

    def __init__(
        self,
        w_in: int,
        w_out: int,
        stride: int,
        *,
        bottleneck_ratio: float,
        group_width: int,
        se_ratio: float,
        se_at: str,
        stride_at: str,
    ):
        super().__init__()
        w_b = bottleneck_width(w_out, bottleneck_ratio)
        se = SE(*se_widths(w_in, w_b, w_out, se_ratio, se_at)) if se_ratio > 0 else None
        s_a, s_b = (stride, 1) if stride_at == "1x1" else (1, stride)
        self.se_at = se_at
        self.a = nn.Conv2d(w_in, w_b, 1, stride=s_a, bias=False)
        self.a_bn = nn.BatchNorm2d(w_b)
        self.b = nn.Conv2d(w_b, w_b, 3, stride=s_b, padding=1, groups=w_b // group_width, bias=False)
        self.b_bn = nn.BatchNorm2d(w_b)
        if se_at == "inner":  # registered where it runs, so the weights list in the order they are used
            self.se = se
        self.c = nn.Conv2d(w_b, w_out, 1, bias=False)
        self.c_bn = nn.BatchNorm2d(w_out)
        if se_at == "output":
            self.se = se
        self.proj = shortcut(w_in, w_out, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.a_bn(self.a(x)))
        out = self.relu(self.b_bn(self.b(out)))
        if self.se is not None and self.se_at == "inner":
            out = self.se(out)
        out = self.c_bn(self.c(out))
        if self.se is not None and self.se_at == "output":
            out = self.se(out)
        return self.relu(out + (x if self.proj is None else self.proj(x)))

    @staticmethod
    def complexity(
        cx: C.Cx,
        w_in: int,
        w_out: int,
        stride: int,
        *,
        bottleneck_ratio: float,
        group_width: int,
        se_ratio: float,
        se_at: str,
        stride_at: str,
    ) -> C.Cx:
        w_b = bottleneck_width(w_out, bottleneck_ratio)
        s_a, s_b = (stride, 1) if stride_at == "1x1" else (1, stride)
        shortcut_cost(cx, w_in, w_out, stride)
        C.conv2d(cx, w_in, w_b, 1, stride=s_a, padding=0)
        C.norm(cx, w_b)
        C.conv2d(cx, w_b, w_b, 3, stride=s_b, groups=w_b // group_width)
        C.norm(cx, w_b)
        if se_ratio > 0:
            SE.complexity(cx, *se_widths(w_in, w_b, w_out, se_ratio, se_at))
        C.conv2d(cx, w_b, w_out, 1)
        return C.norm(cx, w_out)


def _check_groups(w_out: int, bottleneck_ratio: float, group_width: int, **_) -> list[tuple[str, str]]:
    w_b = bottleneck_width(w_out, bottleneck_ratio)
    if w_b < 1 or w_b % group_width:
        return [
            (
                "",
                f"inner width w/b = {w_out}/{bottleneck_ratio} = {w_b} must be a positive multiple "
                f"of group_width {group_width}",
            )
        ]
    return []


_BOTTLENECK = {
    "bottleneck_ratio": Param(
        float, 1.0, "b: inner width is w / b", low=1.0, high=64.0, grid=(1.0, 2.0, 4.0)
    ),
    "group_width": Param(
        int, 1, "g: channels per group of the 3x3 conv", low=1, high=4096, grid=(1, 2, 4, 8, 16, 32)
    ),
    "stride_at": Param(
        str,
        "3x3",
        "which conv of a strided block strides (1x1: Caffe's original ResNet)",
        choices=("3x3", "1x1"),
    ),
}

register("stage", "res_basic", tags=("residual",))(repeat_blocks(BasicBlock))


@register("stage", "res_bottleneck_x", schema=_BOTTLENECK, rules=(_check_groups,), tags=("residual",))
class ResBottleneckXStage(repeat_blocks(BottleneckBlock, se_ratio=0.0, se_at="inner")):
    """AnyNet X bottleneck stage: 1x1, grouped 3x3, 1x1 with residual (ResNet-50 when g=w/b)."""


@register(
    "stage",
    "res_bottleneck_y",
    schema={
        **_BOTTLENECK,
        "se_ratio": Param(float, 0.25, "SE width / block input width", low=0.0, high=1.0, grid=(0.25,)),
    },
    rules=(_check_groups,),
    tags=("residual",),
)
class ResBottleneckYStage(repeat_blocks(BottleneckBlock, se_at="inner")):
    """AnyNet Y stage: the X bottleneck with squeeze-and-excitation after the 3x3 conv."""


@register(
    "stage",
    "res_bottleneck_se",
    schema={
        **_BOTTLENECK,
        "se_ratio": Param(
            float,
            0.0625,
            "SE width / block output width (SENet's 1/r, r = 16)",
            low=0.0,
            high=1.0,
            grid=(0.0625, 0.25),
        ),
    },
    rules=(_check_groups,),
    tags=("residual",),
)
class ResBottleneckSEStage(repeat_blocks(BottleneckBlock, se_at="output")):
    """SENet bottleneck stage (Hu et al. 2018): the X bottleneck with SE on its output, before the addition."""

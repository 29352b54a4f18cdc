"""RegSeg (Gao 2021, "Rethinking Dilated Convolution for Real-time Semantic Segmentation"): the
D-block as a stage family and the paper's light decoder ("decoder26") as a decoder family, in
the layout of the official code (RolandGao/RegSeg, blocks.py).

A D-block is a RegNet Y block whose grouped 3x3 conv is split in two: half the channels at rate
1, half at rate d (one conv at rate 1 where d = 1), each grouped by `group_width`; SE squeezes to
a quarter of the block's input width; a strided shortcut average-pools before its 1x1 conv.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from blocks import cx as C
from blocks.decoding import ConvBnReLU, at_stride, moved, resize, stride_errors
from blocks.layers import SE, se_width
from blocks.registry import Site, register
from blocks.schema import Param

SE_RATIO = 0.25  # RegSeg squeezes to a quarter of the block's input width, floored


class SplitDilatedConv(nn.Module):
    """Grouped 3x3 convs over equal channel splits, one rate each, concatenated."""

    def __init__(self, width: int, rates: tuple[int, ...], group_width: int, stride: int):
        super().__init__()
        part = width // len(rates)
        self.convs = nn.ModuleList(
            nn.Conv2d(part, part, 3, stride, padding=r, dilation=r, groups=part // group_width, bias=False)
            for r in rates
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([conv(p) for conv, p in zip(self.convs, x.chunk(len(self.convs), 1))], 1)

    @staticmethod
    def complexity(cx: C.Cx, width: int, rates: tuple[int, ...], group_width: int, stride: int) -> C.Cx:
        part, h, w = width // len(rates), cx.h, cx.w
        for r in rates:
            C.conv2d(moved(cx, (h, w)), part, part, 3, stride=stride, groups=part // group_width, dilation=r)
        return cx


class AvgShortcut(nn.Module):
    """[2x2 average pool, ceil mode, at stride 2], 1x1 conv, BN."""

    def __init__(self, w_in: int, w_out: int, stride: int):
        super().__init__()
        self.pool = nn.AvgPool2d(2, 2, ceil_mode=True) if stride != 1 else nn.Identity()
        self.conv = nn.Conv2d(w_in, w_out, 1, bias=False)
        self.bn = nn.BatchNorm2d(w_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(self.pool(x)))

    @staticmethod
    def params(w_in: int, w_out: int) -> tuple[int, int]:
        """Its (FLOPs per output pixel, parameters)."""
        return w_in * w_out, w_in * w_out + 2 * w_out


def _rates(d: int) -> tuple[int, ...]:
    return (1,) if d == 1 else (1, d)


class DBlock(nn.Module):
    """1x1 conv-BN-ReLU, split dilated grouped 3x3 (stride here)-BN-ReLU, SE, 1x1 conv-BN, add, ReLU."""

    def __init__(self, w_in: int, w_out: int, stride: int, d: int, group_width: int):
        super().__init__()
        self.a = ConvBnReLU(w_in, w_out, 1)
        self.b = SplitDilatedConv(w_out, _rates(d), group_width, stride)
        self.b_bn = nn.BatchNorm2d(w_out)
        self.se = SE(w_out, se_width(w_in, SE_RATIO, "floor"))
        self.c = nn.Conv2d(w_out, w_out, 1, bias=False)
        self.c_bn = nn.BatchNorm2d(w_out)
        self.proj = AvgShortcut(w_in, w_out, stride) if stride != 1 or w_in != w_out else None
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.se(self.relu(self.b_bn(self.b(self.a(x)))))
        out = self.c_bn(self.c(out))
        return self.relu(out + (x if self.proj is None else self.proj(x)))

    @staticmethod
    def complexity(cx: C.Cx, w_in: int, w_out: int, stride: int, d: int, group_width: int) -> C.Cx:
        ConvBnReLU.complexity(cx, w_in, w_out, 1)
        SplitDilatedConv.complexity(cx, w_out, _rates(d), group_width, stride)
        C.norm(cx, w_out)
        SE.complexity(cx, w_out, se_width(w_in, SE_RATIO, "floor"))
        C.conv2d(cx, w_out, w_out, 1)
        C.norm(cx, w_out)
        if stride != 1 or w_in != w_out:
            flops, params = AvgShortcut.params(w_in, w_out)
            cx.flops, cx.params, cx.acts = (
                cx.flops + flops * cx.h * cx.w,
                cx.params + params,
                cx.acts + w_out * cx.h * cx.w,
            )
        return cx


def block_rates(depth: int, dilations: tuple[int, ...]) -> list[int]:
    """The second branch's rate of every block (1: a single conv), the schedule cycled over the blocks."""
    return [dilations[i % len(dilations)] for i in range(depth)]


def _check(
    w_in: int,
    w_out: int,
    stride: int,
    depth: int,
    dilations: tuple[int, ...],
    group_width: int,
    site: Site,
    **_,
) -> list[tuple[str, str]]:
    """Whole groups in each split, an SE of at least one channel, and the paper's bound on the
    rates: a rate at least the map's side puts every tap but the centre in the padding."""
    out = []
    if not dilations:
        return [("dilations", "expected a non-empty list of integers >= 1, e.g. [1, 2, 4, 14]")]
    rates = block_rates(depth, dilations)
    split = w_out // 2 if max(rates) > 1 else w_out
    if w_out % (2 if max(rates) > 1 else 1) or split % group_width:
        out.append(
            (
                "group_width",
                f"width {w_out} split into {w_out // split} branch(es) of {split} channels is not a multiple of group_width {group_width}",
            )
        )
    if se_width(w_in, SE_RATIO, "floor") < 1 or se_width(w_out, SE_RATIO, "floor") < 1:
        out.append(
            ("", f"widths {w_in} -> {w_out}: SE squeezes to a quarter of the input width, which must be >= 1")
        )
    if site.size is not None:
        side = min(-(-s // stride) for s in site.size)
        big = sorted({r for r in rates if r >= side})
        if big:
            out.append(
                (
                    "dilations",
                    f"rates {big} reach past the {side}-pixel side of this stage's map, so their taps "
                    f"fall in the padding; legal here: rates below {side}",
                )
            )
    return out


@register(
    "stage",
    "d_block",
    schema={
        "dilations": Param(
            int,
            (1,),
            "rate of the second 3x3 branch per block (1: one conv), cycled over the blocks",
            is_list=True,
            low=1,
            high=64,
            grid=((1,), (1, 2), (1, 4), (1, 2, 4, 8)),
        ),
        "group_width": Param(
            int, 16, "channels per group of the 3x3 convs (RegSeg: 16)", low=1, high=256, grid=(8, 16)
        ),
    },
    rules=(_check,),
    tags=("residual", "dilated"),
)
class DBlockStage(nn.Sequential):
    """RegSeg D-block stage: `depth` D-blocks, the first changing width and stride."""

    def __init__(self, w_in: int, w_out: int, stride: int, depth: int, **params: Any):
        p = self.family.resolve(params)
        super().__init__(
            *(
                DBlock(w_in if i == 0 else w_out, w_out, stride if i == 0 else 1, d, p["group_width"])
                for i, d in enumerate(block_rates(depth, p["dilations"]))
            )
        )

    @classmethod
    def complexity(cls, cx: C.Cx, w_in: int, w_out: int, stride: int, depth: int, **params: Any) -> C.Cx:
        p = cls.family.resolve(params)
        for i, d in enumerate(block_rates(depth, p["dilations"])):
            DBlock.complexity(
                cx, w_in if i == 0 else w_out, w_out, stride if i == 0 else 1, d, p["group_width"]
            )
        return cx


def _takes(strides: tuple[int, ...], **_) -> list[tuple[str, str]]:
    return stride_errors(strides, {"": 4}) + stride_errors(strides, {"": 8})


@register(
    "decoder",
    "regseg",
    schema={
        "width": Param(
            int, 128, "channels the deepest and the stride-8 features are projected to", low=8, high=1024
        ),
        "low_width": Param(int, 8, "channels the stride-4 feature is projected to", low=1, high=256),
        "out_width": Param(int, 64, "channels of the two 3x3 convs before the classifier", low=8, high=1024),
    },
    rules=(_takes,),
)
class RegSegDecoder(nn.Module):
    """RegSeg's decoder: 1x1 projections of the stride-4, stride-8 and deepest features; the deepest
    resized and added at stride 8, a 3x3 conv, resized to stride 4 and concatenated, a 3x3 conv, 1x1."""

    def __init__(self, widths: tuple[int, ...], strides: tuple[int, ...], num_classes: int, **params: Any):
        super().__init__()
        p = self.family.resolve(params)
        self.i4, self.i8 = at_stride(strides, 4), at_stride(strides, 8)
        self.head16 = ConvBnReLU(widths[-1], p["width"])
        self.head8 = ConvBnReLU(widths[self.i8], p["width"])
        self.head4 = ConvBnReLU(widths[self.i4], p["low_width"])
        self.conv8 = ConvBnReLU(p["width"], p["out_width"], 3)
        self.conv4 = ConvBnReLU(p["out_width"] + p["low_width"], p["out_width"], 3)
        self.classifier = nn.Conv2d(p["out_width"], num_classes, 1)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        x8 = self.head8(feats[self.i8])
        x8 = self.conv8(x8 + resize(self.head16(feats[-1]), x8))
        x4 = self.head4(feats[self.i4])
        return self.classifier(self.conv4(torch.cat([resize(x8, x4), x4], 1)))

    @classmethod
    def complexity(cls, cx: C.Cx, widths, strides, num_classes: int, *, sizes, **params: Any) -> C.Cx:
        p = cls.family.resolve(params)
        i4, i8 = at_stride(strides, 4), at_stride(strides, 8)
        ConvBnReLU.complexity(moved(cx, sizes[-1]), widths[-1], p["width"])
        ConvBnReLU.complexity(moved(cx, sizes[i8]), widths[i8], p["width"])
        ConvBnReLU.complexity(cx, p["width"], p["out_width"], 3)
        ConvBnReLU.complexity(moved(cx, sizes[i4]), widths[i4], p["low_width"])
        ConvBnReLU.complexity(cx, p["out_width"] + p["low_width"], p["out_width"], 3)
        return C.conv2d(cx, p["out_width"], num_classes, 1, bias=True)

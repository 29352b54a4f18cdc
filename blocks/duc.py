"""Dense upsampling convolution (DUC; Wang et al. 2018, "Understanding Convolution for Semantic
Segmentation") as a decoder family: on the deepest feature, at output stride d, a 3x3 conv (bias)
predicts num_classes x d x d channels and a pixel shuffle rearranges each d x d cell into the
full-resolution logits: learned upsampling instead of bilinear interpolation. More rates sum
parallel convs (DeepLab-v2's classifier widened to the cells), as the authors' released
network sums four at rates 6, 12, 18, 24. With `cell_width` w > 1 each cell is d/w wide and the
logits come out at stride w, resized bilinearly to the input by the network (their Cityscapes
model: d = 8, w = 2, cells of 4x4, "cell_cap" 16, labels at half resolution).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from blocks import cx as C
from blocks.decoding import moved
from blocks.registry import register
from blocks.schema import Param


@register(
    "decoder",
    "duc",
    schema={
        "rates": Param(
            int,
            (1,),
            "rates of the summed 3x3 branches (the released network: 6, 12, 18, 24)",
            is_list=True,
            low=1,
            high=64,
            grid=((1,), (6, 12, 18, 24)),
        ),
        "cell_width": Param(
            int,
            1,
            "stride of the logits the cells fill (1: the input's); it divides every output stride",
            choices=(1, 2, 4, 8),
        ),
    },
)
class DUCDecoder(nn.Module):
    """A 3x3 conv (or summed dilated ones) to num_classes * d * d channels, pixel shuffle by d (the output stride)."""

    def __init__(self, widths: tuple[int, ...], strides: tuple[int, ...], num_classes: int, **params: Any):
        super().__init__()
        p = self.family.resolve(params)
        self.cell = strides[-1] // p["cell_width"]
        out = num_classes * self.cell * self.cell
        self.convs = nn.ModuleList(nn.Conv2d(widths[-1], out, 3, padding=r, dilation=r) for r in p["rates"])

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        x = feats[-1]
        out = self.convs[0](x)
        for conv in self.convs[1:]:
            out = out + conv(x)
        return F.pixel_shuffle(out, self.cell)

    @classmethod
    def complexity(cls, cx: C.Cx, widths, strides, num_classes: int, *, sizes, **params: Any) -> C.Cx:
        p = cls.family.resolve(params)
        d = strides[-1] // p["cell_width"]
        for r in p["rates"]:
            C.conv2d(moved(cx, sizes[-1]), widths[-1], num_classes * d * d, 3, bias=True, dilation=r)
        return moved(cx, (cx.h * d, cx.w * d))

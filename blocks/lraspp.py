"""Lite R-ASPP (Howard et al. 2019, MobileNetV3's segmentation head, torchvision's layout) as a
decoder family: the deepest feature through a 1x1 conv-BN-ReLU gated by its own global average
(1x1 conv, sigmoid), resized to the stride-8 feature; each gets a 1x1 classifier and they are summed.

torchvision reads the shallow feature where the backbone first reaches the stride (the output of
the block that strides into it: MobileNetV3-Large's first 40-channel block), not where that
resolution ends; `low_at` says which.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from blocks import cx as C
from blocks.decoding import ConvBnReLU, at_stride, moved, resize, stride_errors
from blocks.registry import register
from blocks.schema import Param


def _takes(strides: tuple[int, ...], low_stride: int, **_) -> list[tuple[str, str]]:
    return stride_errors(strides, {"low_stride": low_stride})


def low_feature(strides: tuple[int, ...], low_stride: int, low_at: str) -> int:
    """Index of the shallow feature: the deepest at `low_stride` before the deepest of all, or the first."""
    return strides.index(low_stride) if low_at == "first" else at_stride(strides, low_stride)


@register(
    "decoder",
    "lraspp",
    schema={
        "width": Param(
            int, 128, "channels of the deepest feature's branch", low=8, high=1024, grid=(64, 128)
        ),
        "low_stride": Param(
            int, 8, "stride of the shallow feature with its own classifier", choices=(2, 4, 8, 16)
        ),
        "low_at": Param(
            str,
            "last",
            "which feature at low_stride: where that resolution ends, or where it begins (torchvision's)",
            choices=("last", "first"),
        ),
    },
    rules=(_takes,),
)
class LRASPPDecoder(nn.Module):
    """LR-ASPP: gated 1x1 branch on the deepest feature, resized, classified and added to a 1x1
    classifier of the shallow feature."""

    def __init__(self, widths: tuple[int, ...], strides: tuple[int, ...], num_classes: int, **params: Any):
        super().__init__()
        p = self.family.resolve(params)
        self.low = low_feature(strides, p["low_stride"], p["low_at"])
        self.cbr = ConvBnReLU(widths[-1], p["width"])
        self.scale = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(widths[-1], p["width"], 1, bias=False), nn.Sigmoid()
        )
        self.low_classifier = nn.Conv2d(widths[self.low], num_classes, 1)
        self.high_classifier = nn.Conv2d(p["width"], num_classes, 1)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        high, low = feats[-1], feats[self.low]
        x = resize(self.cbr(high) * self.scale(high), low)
        return self.low_classifier(low) + self.high_classifier(x)

    @classmethod
    def complexity(cls, cx: C.Cx, widths, strides, num_classes: int, *, sizes, **params: Any) -> C.Cx:
        p = cls.family.resolve(params)
        low = low_feature(strides, p["low_stride"], p["low_at"])
        ConvBnReLU.complexity(moved(cx, sizes[-1]), widths[-1], p["width"])
        C.conv2d(moved(cx, (1, 1)), widths[-1], p["width"], 1)
        C.conv2d(moved(cx, sizes[low]), widths[low], num_classes, 1, bias=True)
        return C.conv2d(cx, p["width"], num_classes, 1, bias=True)

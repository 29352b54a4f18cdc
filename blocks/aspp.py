"""torchvision's DeepLabv3 and FCN heads as decoder families on the last feature, with FCN's
auxiliary head on the last stage's input: DeepLabv3 (Chen et al. 2017) is Atrous Spatial Pyramid
Pooling (a 1x1 conv, 3x3 convs at three rates and image pooling, concatenated and projected),
then a 3x3 conv-BN-ReLU and a 1x1 classifier; FCN's (Long et al. 2015) is a 3x3 conv-BN-ReLU to a
quarter of the width, dropout 0.1, a 1x1 classifier."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from blocks import cx as C
from blocks.decoding import ConvBnReLU, moved
from blocks.registry import register
from blocks.schema import Param

_AUX = Param(bool, False, "FCN auxiliary head on the last stage's input, trained beside the main one")


class FCNHead(nn.Sequential):
    """3x3 conv-BN-ReLU to w_in / 4 channels, dropout 0.1, 1x1 conv (bias) to the classes."""

    def __init__(self, w_in: int, num_classes: int):
        super().__init__(
            ConvBnReLU(w_in, w_in // 4, 3), nn.Dropout(0.1), nn.Conv2d(w_in // 4, num_classes, 1)
        )

    @staticmethod
    def complexity(cx: C.Cx, w_in: int, num_classes: int) -> C.Cx:
        ConvBnReLU.complexity(cx, w_in, w_in // 4, 3)
        return C.conv2d(cx, w_in // 4, num_classes, 1, bias=True)


def aux_cost(cx: C.Cx, widths: tuple[int, ...], num_classes: int, aux: bool) -> C.Cx:
    """The auxiliary head's parameters; its FLOPs and activations only run in training."""
    if aux:
        cx.params += FCNHead.complexity(C.Cx(1, 1), widths[-2], num_classes).params
    return cx


class _Decoder(nn.Module):
    """A head on the last feature, with the optional FCN auxiliary head on the one before it."""

    def __init__(self, widths: tuple[int, ...], num_classes: int, aux: bool):
        super().__init__()
        self.aux = FCNHead(widths[-2], num_classes) if aux else None
        self.aux_index = len(widths) - 2

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        return self.head(feats[-1])


def _two_features(widths: tuple[int, ...], aux: bool, **_) -> list[tuple[str, str]]:
    if aux and len(widths) < 2:
        return [("aux", "needs a stage before the last, whose output it reads")]
    return []


@register("decoder", "fcn", schema={"aux": _AUX}, rules=(_two_features,))
class FCNDecoder(_Decoder):
    """FCN head (torchvision's FCN-ResNet): 3x3 conv-BN-ReLU to a quarter width, dropout, 1x1."""

    def __init__(self, widths: tuple[int, ...], strides: tuple[int, ...], num_classes: int, **params: Any):
        p = self.family.resolve(params)
        super().__init__(widths, num_classes, p["aux"])
        self.head = FCNHead(widths[-1], num_classes)

    @classmethod
    def complexity(cls, cx: C.Cx, widths, strides, num_classes: int, *, sizes, **params: Any) -> C.Cx:
        p = cls.family.resolve(params)
        FCNHead.complexity(moved(cx, sizes[-1]), widths[-1], num_classes)
        return aux_cost(cx, widths, num_classes, p["aux"])


class ASPPPooling(nn.Module):
    """Image pooling branch: global average, 1x1 conv-BN-ReLU, spread back over the map."""

    def __init__(self, w_in: int, w_out: int):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv = ConvBnReLU(w_in, w_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.conv(self.pool(x)), size=x.shape[-2:], mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    """1x1 and dilated 3x3 conv-BN-ReLU branches and image pooling, concatenated, projected by a
    1x1 conv-BN-ReLU, dropout 0.5 (DeepLabv3, torchvision's layout)."""

    def __init__(self, w_in: int, width: int, rates: tuple[int, ...]):
        super().__init__()
        branches = [ConvBnReLU(w_in, width, 1), *(ConvBnReLU(w_in, width, 3, r) for r in rates)]
        self.convs = nn.ModuleList([*branches, ASPPPooling(w_in, width)])
        self.project = nn.Sequential(ConvBnReLU(len(self.convs) * width, width, 1), nn.Dropout(0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([conv(x) for conv in self.convs], 1))

    @staticmethod
    def complexity(cx: C.Cx, w_in: int, width: int, rates: tuple[int, ...]) -> C.Cx:
        h, w = cx.h, cx.w
        ConvBnReLU.complexity(cx, w_in, width, 1)
        for r in rates:
            ConvBnReLU.complexity(moved(cx, (h, w)), w_in, width, 3, r)
        ConvBnReLU.complexity(moved(cx, (1, 1)), w_in, width, 1)
        return ConvBnReLU.complexity(moved(cx, (h, w)), (len(rates) + 2) * width, width, 1)


@register(
    "decoder",
    "aspp",
    schema={
        "rates": Param(
            int,
            (12, 24, 36),
            "rates of the 3x3 branches (DeepLabv3 at output stride 8)",
            is_list=True,
            low=1,
            high=64,
        ),
        "width": Param(
            int, 256, "channels of every branch and of the projection", low=8, high=2048, grid=(64, 128, 256)
        ),
        "aux": _AUX,
    },
    rules=(_two_features,),
)
class ASPPDecoder(_Decoder):
    """DeepLabv3 head: ASPP, 3x3 conv-BN-ReLU, 1x1 conv (bias) to the classes, on the last feature."""

    def __init__(self, widths: tuple[int, ...], strides: tuple[int, ...], num_classes: int, **params: Any):
        p = self.family.resolve(params)
        super().__init__(widths, num_classes, p["aux"])
        self.head = nn.Sequential(
            ASPP(widths[-1], p["width"], p["rates"]),
            ConvBnReLU(p["width"], p["width"], 3),
            nn.Conv2d(p["width"], num_classes, 1),
        )

    @classmethod
    def complexity(cls, cx: C.Cx, widths, strides, num_classes: int, *, sizes, **params: Any) -> C.Cx:
        p = cls.family.resolve(params)
        ASPP.complexity(moved(cx, sizes[-1]), widths[-1], p["width"], p["rates"])
        ConvBnReLU.complexity(cx, p["width"], p["width"], 3)
        C.conv2d(cx, p["width"], num_classes, 1, bias=True)
        return aux_cost(cx, widths, num_classes, p["aux"])

"""VGG family (Simonyan & Zisserman 2015): stacked small convolutions, then max pooling.

Convolutions carry a bias, BN or not, as in torchvision's `vgg16` and `vgg16_bn`. A stage is
`depth` convs then, at stride 2, a 2x2/2 max pool, so it halves the map at its end; the stem
is the network's first conv alone, and the head torchvision's: the map average-pooled to a
fixed grid (7x7, which a 224px input already is), two hidden linear layers with ReLU and
dropout, and the classifier.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from blocks import cx as C
from blocks.registry import register
from blocks.schema import Param

_NORM = Param(
    str, "none", "none: conv, ReLU (VGG); bn: conv, BN, ReLU", choices=("none", "bn"), grid=("none", "bn")
)


class ConvReLU(nn.Sequential):
    """kxk conv with bias and 'same' padding, BN when asked, ReLU."""

    def __init__(self, w_in: int, w_out: int, kernel: int, norm: str):
        conv = nn.Conv2d(w_in, w_out, kernel, padding=kernel // 2)
        super().__init__(conv, *([nn.BatchNorm2d(w_out)] if norm == "bn" else []), nn.ReLU(inplace=True))

    @staticmethod
    def complexity(cx: C.Cx, w_in: int, w_out: int, kernel: int, norm: str) -> C.Cx:
        C.conv2d(cx, w_in, w_out, kernel, bias=True)
        return C.norm(cx, w_out) if norm == "bn" else cx


@register(
    "stage",
    "vgg",
    schema={
        "kernel": Param(int, 3, "conv kernel size (VGG's idea: stacked 3x3)", choices=(1, 3, 5), grid=(3,)),
        "norm": _NORM,
    },
    tags=("plain",),
)
class VGGStage(nn.Sequential):
    """`depth` conv-ReLU layers (BN between when asked), then a 2x2/2 max pool at stride 2."""

    def __init__(self, w_in: int, w_out: int, stride: int, depth: int, **params: Any):
        p = self.family.resolve(params)
        convs = [ConvReLU(w_in if i == 0 else w_out, w_out, p["kernel"], p["norm"]) for i in range(depth)]
        super().__init__(*convs, *([nn.MaxPool2d(2, 2)] if stride == 2 else []))

    @classmethod
    def complexity(cls, cx: C.Cx, w_in: int, w_out: int, stride: int, depth: int, **params: Any) -> C.Cx:
        p = cls.family.resolve(params)
        for i in range(depth):
            ConvReLU.complexity(cx, w_in if i == 0 else w_out, w_out, p["kernel"], p["norm"])
        return C.pool2d(cx, 2, stride=2, padding=0) if stride == 2 else cx


@register("stem", "vgg", schema={"norm": _NORM})
class VGGStem(ConvReLU):
    """VGG's first layer: a 3x3 conv with bias at full resolution, BN when asked, ReLU."""

    def __init__(self, c_in: int, w_out: int, **params: Any):
        super().__init__(c_in, w_out, 3, self.family.resolve(params)["norm"])

    @classmethod
    def complexity(cls, cx: C.Cx, c_in: int, w_out: int, **params: Any) -> C.Cx:
        return ConvReLU.complexity(cx, c_in, w_out, 3, cls.family.resolve(params)["norm"])


@register(
    "head",
    "vgg",
    schema={
        "pool": Param(int, 7, "side of the average-pooled grid that is flattened", low=1, high=14),
        "hidden": Param(int, 4096, "width of each hidden linear layer", low=8, high=8192),
        "layers": Param(int, 2, "hidden linear layers, each with ReLU and dropout", low=0, high=4),
        "dropout": Param(float, 0.5, "dropout after each hidden layer", low=0.0, high=0.99),
    },
)
class VGGHead(nn.Module):
    """Adaptive average pool to a pool x pool grid, flatten, hidden linear-ReLU-dropout layers, linear."""

    def __init__(self, w_in: int, num_classes: int, **params: Any):
        super().__init__()
        p = self.family.resolve(params)
        self.pool = nn.AdaptiveAvgPool2d(p["pool"])
        widths = [w_in * p["pool"] ** 2] + [p["hidden"]] * p["layers"]
        hidden: list[nn.Module] = []
        for a, b in zip(widths, widths[1:]):
            hidden += [nn.Linear(a, b), nn.ReLU(inplace=True), nn.Dropout(p["dropout"])]
        self.classifier = nn.Sequential(*hidden, nn.Linear(widths[-1], num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(x), 1))

    @classmethod
    def complexity(cls, cx: C.Cx, w_in: int, num_classes: int, **params: Any) -> C.Cx:
        p = cls.family.resolve(params)
        C.global_pool(cx)  # adaptive pooling to any grid shrinks nothing away; the flat vector is 1x1
        widths = [w_in * p["pool"] ** 2] + [p["hidden"]] * p["layers"] + [num_classes]
        for a, b in zip(widths, widths[1:]):
            C.linear(cx, a, b)
        return cx


@register("stem", "vgg_pool", schema={"norm": _NORM})
class VGGPoolStem(nn.Sequential):
    """A VGG stage of one conv as a stem: 3x3 conv with bias, BN when asked, ReLU, 2x2/2 max pool
    (UNeXt's first encoder level, whose max pool before the ReLU computes the same)."""

    def __init__(self, c_in: int, w_out: int, **params: Any):
        super().__init__(ConvReLU(c_in, w_out, 3, self.family.resolve(params)["norm"]), nn.MaxPool2d(2, 2))

    @classmethod
    def complexity(cls, cx: C.Cx, c_in: int, w_out: int, **params: Any) -> C.Cx:
        ConvReLU.complexity(cx, c_in, w_out, 3, cls.family.resolve(params)["norm"])
        return C.pool2d(cx, 2, stride=2, padding=0)

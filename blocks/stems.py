"""Stems: the layers between the input image and the first stage."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from blocks import cx as C
from blocks.registry import register
from blocks.schema import Param


@register("stem", "simple", schema={"stride": Param(int, 2, "conv stride", choices=(1, 2))})
class SimpleStem(nn.Module):
    """3x3 conv, BN, ReLU (stride 2 as in pycls' RegNet stem; stride 1 for tiny inputs)."""

    def __init__(self, c_in: int, w_out: int, **params: Any):
        super().__init__()
        stride = self.family.resolve(params)["stride"]
        self.conv = nn.Conv2d(c_in, w_out, 3, stride=stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(w_out)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))

    @classmethod
    def complexity(cls, cx: C.Cx, c_in: int, w_out: int, **params: Any) -> C.Cx:
        C.conv2d(cx, c_in, w_out, 3, stride=cls.family.resolve(params)["stride"])
        return C.norm(cx, w_out)


@register("stem", "resnet")
class ResNetStem(nn.Module):
    """ResNet stem for 224px inputs: 7x7 conv stride 2, BN, ReLU, 3x3 max pool stride 2."""

    def __init__(self, c_in: int, w_out: int, **params: Any):
        super().__init__()
        self.family.resolve(params)  # refuses any parameter: this stem has none
        self.conv = nn.Conv2d(c_in, w_out, 7, stride=2, padding=3, bias=False)
        self.bn = nn.BatchNorm2d(w_out)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.relu(self.bn(self.conv(x))))

    @classmethod
    def complexity(cls, cx: C.Cx, c_in: int, w_out: int, **params: Any) -> C.Cx:
        cls.family.resolve(params)  # refuses any parameter: this stem has none
        C.conv2d(cx, c_in, w_out, 7, stride=2)
        C.norm(cx, w_out)
        return C.pool2d(cx, 3, stride=2, padding=1)


@register(
    "stem",
    "deep",
    schema={
        "pool_padding": Param(
            int, 1, "padding of the 3x3/2 max pool (Caffe/MXNet ResNets: 0)", choices=(0, 1)
        )
    },
)
class DeepStem(nn.Sequential):
    """Three 3x3 conv-BN-ReLU (w/2 at stride 2, w/2, w) and a 3x3/2 max pool: the deep ResNet
    stem of PSPNet and TuSimple's ResNet-101-DUC-HDC (64, 64, 128), in place of one 7x7 conv."""

    def __init__(self, c_in: int, w_out: int, **params: Any):
        p = self.family.resolve(params)
        half = w_out // 2
        layers: list[nn.Module] = []
        for w_i, w_o, stride in ((c_in, half, 2), (half, half, 1), (half, w_out, 1)):
            conv = nn.Conv2d(w_i, w_o, 3, stride=stride, padding=1, bias=False)
            layers += [conv, nn.BatchNorm2d(w_o), nn.ReLU(inplace=True)]
        super().__init__(*layers, nn.MaxPool2d(3, stride=2, padding=p["pool_padding"]))

    @classmethod
    def complexity(cls, cx: C.Cx, c_in: int, w_out: int, **params: Any) -> C.Cx:
        p = cls.family.resolve(params)
        half = w_out // 2
        for w_i, w_o, stride in ((c_in, half, 2), (half, half, 1), (half, w_out, 1)):
            C.conv2d(cx, w_i, w_o, 3, stride=stride)
            C.norm(cx, w_o)
        return C.pool2d(cx, 3, stride=2, padding=p["pool_padding"])

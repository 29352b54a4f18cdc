"""DenseNet family (Huang et al. 2017): a transition then a dense block, and the BN-ReLU classifier head.

A stage of depth L with growth rate k ends at w_out = w_t + L*k, so its transition narrows
the input to w_t = w_out - L*k. The transition (BN, ReLU, 1x1 conv to w_t, then a 2x2/2
average pool when stride is 2) is left out when stride is 1 and w_in already equals w_t.
DenseNet's compression theta is then w_t / w_in; `dense_width` turns a theta into w_out.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from blocks import cx as C
from blocks.registry import register
from blocks.schema import Param


def dense_width(w_in: int, depth: int, growth_rate: int, compression: float = 1.0) -> int:
    """Stage width for a transition that keeps floor(theta * w_in) channels (DenseNet's rule)."""
    return int(compression * w_in) + depth * growth_rate


def _check_dense(w_out: int, depth: int, growth_rate: int, **_) -> list[tuple[str, str]]:
    w_t = w_out - depth * growth_rate
    if w_t < 1:
        return [
            (
                "",
                f"width {w_out} leaves a transition width w_out - depth*growth_rate = {w_t}; it must "
                f"be >= 1, so width must exceed {depth * growth_rate}",
            )
        ]
    return []


class DenseLayer(nn.Module):
    """BN, ReLU, 1x1 conv to bn_size*k, BN, ReLU, 3x3 conv to k; its output joins the concatenation."""

    def __init__(self, w_in: int, growth_rate: int, bn_size: int):
        super().__init__()
        w_b = bn_size * growth_rate
        self.body = nn.Sequential(
            nn.BatchNorm2d(w_in),
            nn.ReLU(inplace=True),
            nn.Conv2d(w_in, w_b, 1, bias=False),
            nn.BatchNorm2d(w_b),
            nn.ReLU(inplace=True),
            nn.Conv2d(w_b, growth_rate, 3, padding=1, bias=False),
        )

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return self.body(torch.cat(features, 1))

    @staticmethod
    def complexity(cx: C.Cx, w_in: int, growth_rate: int, bn_size: int) -> C.Cx:
        w_b = bn_size * growth_rate
        C.norm(cx, w_in)
        C.conv2d(cx, w_in, w_b, 1)
        C.norm(cx, w_b)
        return C.conv2d(cx, w_b, growth_rate, 3)


@register(
    "stage",
    "dense",
    schema={
        "growth_rate": Param(int, 32, "k: channels each layer adds", low=1, high=128, grid=(8, 12, 16, 32)),
        "bn_size": Param(int, 4, "the 1x1 bottleneck has bn_size * k channels", low=1, high=8, grid=(2, 4)),
    },
    rules=(_check_dense,),
    tags=("dense",),
)
class DenseStage(nn.Module):
    """Optional transition to w_out - depth*k channels, then `depth` densely connected layers."""

    def __init__(self, w_in: int, w_out: int, stride: int, depth: int, **params: Any):
        super().__init__()
        p = self.family.resolve(params)
        growth_rate = p["growth_rate"]
        w_t = w_out - depth * growth_rate
        self.transition = nn.Identity()
        if stride == 2 or w_in != w_t:
            pool = [nn.AvgPool2d(2, stride=2)] if stride == 2 else []
            self.transition = nn.Sequential(
                nn.BatchNorm2d(w_in), nn.ReLU(inplace=True), nn.Conv2d(w_in, w_t, 1, bias=False), *pool
            )
        self.layers = nn.ModuleList(
            DenseLayer(w_t + i * growth_rate, growth_rate, p["bn_size"]) for i in range(depth)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [self.transition(x)]
        for layer in self.layers:
            features.append(layer(features))
        return torch.cat(features, 1)

    @classmethod
    def complexity(cls, cx: C.Cx, w_in: int, w_out: int, stride: int, depth: int, **params: Any) -> C.Cx:
        p = cls.family.resolve(params)
        growth_rate = p["growth_rate"]
        w_t = w_out - depth * growth_rate
        if stride == 2 or w_in != w_t:
            C.norm(cx, w_in)
            C.conv2d(cx, w_in, w_t, 1)
            if stride == 2:
                C.pool2d(cx, 2, stride=2, padding=0)
        for i in range(depth):
            DenseLayer.complexity(cx, w_t + i * growth_rate, growth_rate, p["bn_size"])
        return cx


@register(
    "head",
    "bn_classifier",
    schema={"dropout": Param(float, 0.0, "dropout before the linear layer", low=0.0, high=0.99)},
)
class BNClassifierHead(nn.Module):
    """BN, ReLU, global average pool, optional dropout, linear: DenseNet's pre-activation ending."""

    def __init__(self, w_in: int, num_classes: int, **params: Any):
        super().__init__()
        dropout = self.family.resolve(params)["dropout"]
        self.bn = nn.BatchNorm2d(w_in)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(w_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.relu(self.bn(x)))
        return self.fc(self.dropout(torch.flatten(x, 1)))

    @classmethod
    def complexity(cls, cx: C.Cx, w_in: int, num_classes: int, **params: Any) -> C.Cx:
        cls.family.resolve(params)  # refuses unknown or illegal parameters, as the constructor does
        C.norm(cx, w_in)
        C.global_pool(cx)
        return C.linear(cx, w_in, num_classes)

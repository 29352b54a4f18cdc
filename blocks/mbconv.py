"""MBConv family (MobileNetV2 / EfficientNet / MobileNetV3 inverted residual) with its conv stem,
a conv-BN-activation stage and the two classifier heads.

MobileNetV2 is ReLU6 without SE; EfficientNet is SiLU with SE whose width is se_ratio times
the block INPUT width and whose inner activation is the block's own. MobileNetV3 picks ReLU or
hard swish per block; its SE is a quarter of the EXPANDED width made divisible by 8, with a ReLU
inside and a hard-sigmoid gate (`se_round`, `se_activation`, `se_gate`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from blocks import cx as C
from blocks.layers import SE, SE_GATES, SE_ROUNDINGS, DropPath, repeat_blocks, se_width
from blocks.registry import register
from blocks.schema import Param

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu6": nn.ReLU6,
    "silu": nn.SiLU,
    "relu": nn.ReLU,
    "hardswish": nn.Hardswish,
}
SAMPLED_ACTIVATIONS = ("relu6", "silu", "relu")  # the grid seeds have drawn from


def expanded_width(w_in: int, expand_ratio: float) -> int:
    """Width of the depthwise conv: round(t * w_in) (equal to torchvision's for integer t)."""
    return int(round(w_in * expand_ratio))


def _conv_bn_act(
    w_in: int, w_out: int, k: int, stride: int = 1, groups: int = 1, act: str | None = None
) -> list[nn.Module]:
    conv = nn.Conv2d(w_in, w_out, k, stride=stride, padding=k // 2, groups=groups, bias=False)
    return [conv, nn.BatchNorm2d(w_out), *([ACTIVATIONS[act](inplace=True)] if act else [])]


def _conv_bn_cx(cx: C.Cx, w_in: int, w_out: int, k: int, stride: int = 1, groups: int = 1) -> C.Cx:
    C.conv2d(cx, w_in, w_out, k, stride=stride, groups=groups)
    return C.norm(cx, w_out)


class MBConv(nn.Module):
    """1x1 expand (skipped when t == 1), depthwise kxk (stride here), [SE], 1x1 linear projection,
    plus the input (through drop-path) when stride is 1 and widths match."""

    def __init__(
        self,
        w_in: int,
        w_out: int,
        stride: int,
        *,
        expand_ratio: float,
        kernel: int,
        se_ratio: float,
        activation: str,
        drop_path: float,
        se_round: str,
        se_activation: str,
        se_gate: str,
    ):
        super().__init__()
        w_e = expanded_width(w_in, expand_ratio)
        expand = _conv_bn_act(w_in, w_e, 1, act=activation) if expand_ratio != 1 else []
        inner = ACTIVATIONS[activation if se_activation == "same" else se_activation]
        w_se = se_width(w_in, se_ratio, se_round, w_e)
        se = [SE(w_e, w_se, inner, se_gate)] if se_ratio > 0 else []
        self.branch = nn.Sequential(
            *expand,
            *_conv_bn_act(w_e, w_e, kernel, stride, groups=w_e, act=activation),
            *se,
            *_conv_bn_act(w_e, w_out, 1),
        )
        self.residual = stride == 1 and w_in == w_out
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.branch(x)
        return x + self.drop_path(out) if self.residual else out

    @staticmethod
    def complexity(
        cx: C.Cx,
        w_in: int,
        w_out: int,
        stride: int,
        *,
        expand_ratio: float,
        kernel: int,
        se_ratio: float,
        activation: str,
        drop_path: float,
        se_round: str,
        se_activation: str,
        se_gate: str,
    ) -> C.Cx:
        w_e = expanded_width(w_in, expand_ratio)
        if expand_ratio != 1:
            _conv_bn_cx(cx, w_in, w_e, 1)
        _conv_bn_cx(cx, w_e, w_e, kernel, stride, groups=w_e)
        if se_ratio > 0:
            SE.complexity(cx, w_e, se_width(w_in, se_ratio, se_round, w_e))
        return _conv_bn_cx(cx, w_e, w_out, 1)


def _activation(default: str) -> Param:
    names = tuple(ACTIVATIONS)
    doc = "activation after each BN but the last"
    return Param(str, default, doc, choices=names, grid=SAMPLED_ACTIVATIONS)


register(
    "stage",
    "mbconv",
    schema={
        "expand_ratio": Param(
            float, 6.0, "t: expanded width / input width", low=1.0, high=8.0, grid=(1.0, 3.0, 6.0)
        ),
        "kernel": Param(int, 3, "depthwise kernel size", choices=(3, 5, 7), grid=(3, 5, 7)),
        "se_ratio": Param(
            float, 0.0, "SE width / block input width (0: no SE)", low=0.0, high=0.5, grid=(0.0, 0.25)
        ),
        "activation": _activation("relu6"),
        "drop_path": Param(
            float, 0.0, "stochastic-depth rate of the residual branch (training only)", low=0.0, high=0.5
        ),
        "se_round": Param(
            str,
            "input",
            "SE width: round(se_ratio * input width) or floor(se_ratio * expanded width) to a multiple of 8",
            choices=SE_ROUNDINGS,
        ),
        "se_activation": Param(
            str, "same", "activation inside the SE ('same': the block's)", choices=("same", *ACTIVATIONS)
        ),
        "se_gate": Param(str, "sigmoid", "the SE's gate", choices=tuple(SE_GATES)),
    },
    tags=("residual", "depthwise"),
)(repeat_blocks(MBConv))


class ConvBNAct(nn.Sequential):
    """One kxk conv (stride here), BN and activation: MobileNetV3's last 1x1 conv to 960 channels,
    which its LR-ASPP decoder reads as the deepest feature."""

    def __init__(self, w_in: int, w_out: int, stride: int, *, kernel: int, activation: str):
        super().__init__(*_conv_bn_act(w_in, w_out, kernel, stride, act=activation))

    @staticmethod
    def complexity(cx: C.Cx, w_in: int, w_out: int, stride: int, *, kernel: int, activation: str) -> C.Cx:
        return _conv_bn_cx(cx, w_in, w_out, kernel, stride)


register(
    "stage",
    "conv_bn_act",
    schema={
        "kernel": Param(int, 1, "conv kernel size", choices=(1, 3, 5, 7)),
        "activation": Param(str, "hardswish", "activation after the BN", choices=tuple(ACTIVATIONS)),
    },
    tags=("plain",),
)(repeat_blocks(ConvBNAct))


@register(
    "stem",
    "conv_bn_act",
    schema={
        "kernel": Param(int, 3, "conv kernel size", choices=(3, 5, 7)),
        "stride": Param(int, 2, "conv stride", choices=(1, 2)),
        "activation": _activation("relu6"),
    },
)
class ConvBNActStem(nn.Sequential):
    """One conv, BN and activation (MobileNetV2: 3x3/2, ReLU6; EfficientNet: 3x3/2, SiLU)."""

    def __init__(self, c_in: int, w_out: int, **params: Any):
        p = self.family.resolve(params)
        super().__init__(*_conv_bn_act(c_in, w_out, p["kernel"], p["stride"], act=p["activation"]))

    @classmethod
    def complexity(cls, cx: C.Cx, c_in: int, w_out: int, **params: Any) -> C.Cx:
        p = cls.family.resolve(params)
        return _conv_bn_cx(cx, c_in, w_out, p["kernel"], p["stride"])


@register(
    "head",
    "conv_classifier",
    schema={
        "width": Param(int, 1280, "channels of the 1x1 conv before pooling", low=8, high=4096),
        "activation": _activation("relu6"),
        "dropout": Param(float, 0.2, "dropout before the linear layer", low=0.0, high=0.99),
    },
)
class ConvClassifierHead(nn.Module):
    """1x1 conv, BN, activation, global average pool, dropout, linear (MobileNetV2 / EfficientNet)."""

    def __init__(self, w_in: int, num_classes: int, **params: Any):
        super().__init__()
        p = self.family.resolve(params)
        self.conv = nn.Sequential(*_conv_bn_act(w_in, p["width"], 1, act=p["activation"]))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(p["dropout"]) if p["dropout"] > 0 else nn.Identity()
        self.fc = nn.Linear(p["width"], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(torch.flatten(self.pool(self.conv(x)), 1)))

    @classmethod
    def complexity(cls, cx: C.Cx, w_in: int, num_classes: int, **params: Any) -> C.Cx:
        width = cls.family.resolve(params)["width"]
        _conv_bn_cx(cx, w_in, width, 1)
        C.global_pool(cx)
        return C.linear(cx, width, num_classes)


@register(
    "head",
    "pool_mlp",
    schema={
        "width": Param(int, 1280, "width of the hidden linear layer", low=8, high=8192),
        "activation": _activation("hardswish"),
        "dropout": Param(float, 0.2, "dropout before the last linear layer", low=0.0, high=0.99),
    },
)
class PoolMLPHead(nn.Module):
    """Global average pool, linear, activation, dropout, linear (MobileNetV3: 960 -> 1280 -> classes)."""

    def __init__(self, w_in: int, num_classes: int, **params: Any):
        super().__init__()
        p = self.family.resolve(params)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.hidden = nn.Linear(w_in, p["width"])
        self.act = ACTIVATIONS[p["activation"]](inplace=True)
        self.dropout = nn.Dropout(p["dropout"]) if p["dropout"] > 0 else nn.Identity()
        self.fc = nn.Linear(p["width"], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.act(self.hidden(torch.flatten(self.pool(x), 1)))))

    @classmethod
    def complexity(cls, cx: C.Cx, w_in: int, num_classes: int, **params: Any) -> C.Cx:
        width = cls.family.resolve(params)["width"]
        C.global_pool(cx)
        C.linear(cx, w_in, width)
        return C.linear(cx, width, num_classes)

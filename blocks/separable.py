"""Depthwise-separable family (MobileNetV1, Howard et al. 2017): no expansion, no shortcut.

Each block is a depthwise kxk conv (the stride sits here), BN, activation, then a pointwise
1x1 conv to the block's width, BN, activation, as in the paper's Figure 3 (right).
"""

from __future__ import annotations

from torch import nn

from blocks import cx as C
from blocks.layers import repeat_blocks
from blocks.mbconv import ACTIVATIONS
from blocks.registry import register
from blocks.schema import Param


class SeparableBlock(nn.Sequential):
    """Depthwise kxk conv, BN, activation, pointwise 1x1 conv, BN, activation; no shortcut."""

    def __init__(self, w_in: int, w_out: int, stride: int, *, kernel: int, activation: str):
        act = ACTIVATIONS[activation]
        super().__init__(
            nn.Conv2d(w_in, w_in, kernel, stride=stride, padding=kernel // 2, groups=w_in, bias=False),
            nn.BatchNorm2d(w_in),
            act(inplace=True),
            nn.Conv2d(w_in, w_out, 1, bias=False),
            nn.BatchNorm2d(w_out),
            act(inplace=True),
        )

    @staticmethod
    def complexity(cx: C.Cx, w_in: int, w_out: int, stride: int, *, kernel: int, activation: str) -> C.Cx:
        C.conv2d(cx, w_in, w_in, kernel, stride=stride, groups=w_in)
        C.norm(cx, w_in)
        C.conv2d(cx, w_in, w_out, 1)
        return C.norm(cx, w_out)


_ACTS = tuple(ACTIVATIONS)

register(
    "stage",
    "separable",
    schema={
        "kernel": Param(int, 3, "depthwise kernel size", choices=(3, 5, 7), grid=(3, 5)),
        "activation": Param(
            str, "relu", "activation after each BN (the paper: ReLU)", choices=_ACTS, grid=("relu", "relu6")
        ),
    },
    tags=("plain", "depthwise"),
)(repeat_blocks(SeparableBlock))

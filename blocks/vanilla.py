"""Vanilla (plain) family: the residual basic block without its shortcut, as in pycls'
`VanillaBlock` (pycls/models/anynet.py), the block of the 2019 paper's Vanilla design space."""

from __future__ import annotations

import torch
from torch import nn

from blocks import cx as C
from blocks.layers import repeat_blocks
from blocks.registry import register


class VanillaBlock(nn.Module):
    """Plain block: 3x3 conv, BN, ReLU, 3x3 conv, BN, ReLU; no shortcut."""

    def __init__(self, w_in: int, w_out: int, stride: int):
        super().__init__()
        self.a = nn.Conv2d(w_in, w_out, 3, stride=stride, padding=1, bias=False)
        self.a_bn = nn.BatchNorm2d(w_out)
        self.b = nn.Conv2d(w_out, w_out, 3, padding=1, bias=False)
        self.b_bn = nn.BatchNorm2d(w_out)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.b_bn(self.b(self.relu(self.a_bn(self.a(x))))))

    @staticmethod
    def complexity(cx: C.Cx, w_in: int, w_out: int, stride: int) -> C.Cx:
        C.conv2d(cx, w_in, w_out, 3, stride=stride)
        C.norm(cx, w_out)
        C.conv2d(cx, w_out, w_out, 3)
        return C.norm(cx, w_out)


register("stage", "vanilla", tags=("plain",))(repeat_blocks(VanillaBlock))

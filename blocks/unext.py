"""UNeXt's decoder (Valanarasu & Patel 2022) as a decoder family, and its encoder's first level as
a stem.

Level by level from the deepest feature up: a 3x3 conv (bias) to the next feature's width, BN,
bilinear resize to that feature's map, ReLU, and an additive skip (UNeXt adds, U-Net
concatenates); the first `token_levels` levels then run a tokenised shifted-MLP block and a
LayerNorm. The last level's conv keeps the stem's width, is resized by the stem's stride to the
input and a 1x1 conv gives the classes, as in the official code.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from blocks import cx as C
from blocks.decoding import moved, resize
from blocks.registry import register
from blocks.schema import Param
from blocks.shiftmlp import ShiftedBlock


class TokenLevel(nn.Module):
    """A shifted-MLP block and LayerNorm on an NCHW map (tokens in between)."""

    def __init__(self, width: int, shift_size: int, mlp_ratio: float):
        super().__init__()
        self.block = ShiftedBlock(width, shift_size, mlp_ratio, 0.0)
        self.norm = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.block(x.permute(0, 2, 3, 1))).permute(0, 3, 1, 2)

    @staticmethod
    def complexity(cx: C.Cx, width: int, mlp_ratio: float) -> C.Cx:
        ShiftedBlock.complexity(cx, width, mlp_ratio)
        return C.norm(cx, width)


def _levels(widths: tuple[int, ...], token_levels: int, **_) -> list[tuple[str, str]]:
    if token_levels > len(widths) - 1:
        return [("token_levels", f"{token_levels} exceeds the {len(widths) - 1} levels the decoder has")]
    return []


@register(
    "decoder",
    "unext",
    schema={
        "token_levels": Param(
            int, 2, "deepest levels followed by a shifted-MLP block (UNeXt: 2)", low=0, high=8
        ),
        "shift_size": Param(int, 5, "channel groups shifted in the MLP blocks", choices=(3, 5, 7)),
        "mlp_ratio": Param(float, 1.0, "hidden width / width of the MLP blocks", low=0.25, high=8.0),
    },
    rules=(_levels,),
)
class UNeXtDecoder(nn.Module):
    """U-shaped decoder with additive skips from every feature and tokenised shifted-MLP levels."""

    def __init__(self, widths: tuple[int, ...], strides: tuple[int, ...], num_classes: int, **params: Any):
        super().__init__()
        p = self.family.resolve(params)
        ups = list(zip(widths[:0:-1], widths[-2::-1]))  # (from, to) per level, deepest first
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1) for a, b in ups)
        self.bns = nn.ModuleList(nn.BatchNorm2d(b) for _, b in ups)
        self.tokens = nn.ModuleList(
            TokenLevel(b, p["shift_size"], p["mlp_ratio"]) for _, b in ups[: p["token_levels"]]
        )
        self.last = nn.Conv2d(widths[0], widths[0], 3, padding=1)
        self.scale = strides[0]
        self.final = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        x = feats[-1]
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            skip = feats[-2 - i]
            x = F.relu(resize(bn(conv(x)), skip)) + skip
            if i < len(self.tokens):
                x = self.tokens[i](x)
        x = F.interpolate(self.last(x), scale_factor=self.scale, mode="bilinear", align_corners=False)
        return self.final(F.relu(x))

    @classmethod
    def complexity(cls, cx: C.Cx, widths, strides, num_classes: int, *, sizes, **params: Any) -> C.Cx:
        p = cls.family.resolve(params)
        moved(cx, sizes[-1])
        for i, (a, b) in enumerate(zip(widths[:0:-1], widths[-2::-1])):
            C.conv2d(cx, a, b, 3, bias=True)
            C.norm(moved(cx, sizes[-2 - i]), b)
            if i < p["token_levels"]:
                TokenLevel.complexity(cx, b, p["mlp_ratio"])
        C.conv2d(cx, widths[0], widths[0], 3, bias=True)
        moved(cx, (cx.h * strides[0], cx.w * strides[0]))
        return C.conv2d(cx, widths[0], num_classes, 1, bias=True)

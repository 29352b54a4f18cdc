"""UNeXt's tokenised shifted-MLP stages (Valanarasu & Patel 2022).

A block is x + MLP(LN(x)), where the MLP shifts channel groups along the height before fc1,
runs a depthwise 3x3 conv and GELU, shifts the groups along the width, then applies fc2.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from blocks import cx as C
from blocks.layers import DropPath
from blocks.registry import register
from blocks.schema import Param
from blocks.tokens import mlp_hidden, needs_resample, token_errors


def shift_groups(x: torch.Tensor, shift_size: int, dim: int) -> torch.Tensor:
    """Split channels (last axis of NHWC) into `shift_size` chunks and shift chunk g by
    g - shift_size // 2 along `dim`, filling with zeros (pad, roll, crop, as in UNeXt)."""
    pad = shift_size // 2
    h, w = x.shape[1:3]
    x = F.pad(x, (0, 0, pad, pad, pad, pad))
    chunks = torch.chunk(x, shift_size, -1)
    x = torch.cat([torch.roll(g, s, dim) for g, s in zip(chunks, range(-pad, pad + 1))], -1)
    return x[:, pad : pad + h, pad : pad + w]


class ShiftMlp(nn.Module):
    """Shift along H, fc1, depthwise 3x3 conv (bias), GELU, shift along W, fc2 (NHWC)."""

    def __init__(self, width: int, hidden: int, shift_size: int):
        super().__init__()
        self.shift_size = shift_size
        self.fc1 = nn.Linear(width, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc1(shift_groups(x, self.shift_size, 1))
        x = self.act(self.dwconv(x.permute(0, 3, 1, 2))).permute(0, 2, 3, 1)
        return self.fc2(shift_groups(x, self.shift_size, 2))

    @staticmethod
    def complexity(cx: C.Cx, width: int, hidden: int) -> C.Cx:
        C.linear(cx, width, hidden, tokens=cx.h * cx.w)
        C.conv2d(cx, hidden, hidden, 3, groups=hidden, bias=True)
        return C.linear(cx, hidden, width, tokens=cx.h * cx.w)


class ShiftedBlock(nn.Module):
    """Pre-LayerNorm residual around the shifted MLP."""

    def __init__(self, width: int, shift_size: int, mlp_ratio: float, drop_path: float):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.mlp = ShiftMlp(width, mlp_hidden(width, mlp_ratio), shift_size)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop_path(self.mlp(self.norm(x)))

    @staticmethod
    def complexity(cx: C.Cx, width: int, mlp_ratio: float) -> C.Cx:
        C.norm(cx, width)
        return ShiftMlp.complexity(cx, width, mlp_hidden(width, mlp_ratio))


class OverlapPatchEmbed(nn.Module):
    """UNeXt's tokeniser: 3x3 conv (bias, padding 1) at the stage stride, LayerNorm; NCHW -> NHWC."""

    def __init__(self, w_in: int, w_out: int, stride: int):
        super().__init__()
        self.proj = nn.Conv2d(w_in, w_out, 3, stride=stride, padding=1)
        self.norm = nn.LayerNorm(w_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x).permute(0, 2, 3, 1))

    @staticmethod
    def complexity(cx: C.Cx, w_in: int, w_out: int, stride: int) -> C.Cx:
        C.conv2d(cx, w_in, w_out, 3, stride=stride, bias=True)
        return C.norm(cx, w_out)


@register(
    "stage",
    "shift_mlp",
    schema={
        "shift_size": Param(
            int, 5, "channel groups, shifted by -s//2 .. s//2 tokens", choices=(3, 5, 7), grid=(3, 5, 7)
        ),
        "mlp_ratio": Param(
            float, 1.0, "MLP hidden width / width (UNeXt: 1)", low=0.25, high=8.0, grid=(1.0, 2.0)
        ),
        "drop_path": Param(
            float, 0.0, "stochastic-depth rate of every block in the stage", low=0.0, high=0.5
        ),
    },
    rules=(token_errors,),
    tags=("token", "mlp"),
)
class ShiftMlpStage(nn.Module):
    """UNeXt tokenised MLP stage: [tokenising patch embedding], shifted-MLP blocks, LayerNorm.

    The 3x3 patch embedding runs at stride 2 as in UNeXt, and at stride 1 when only the width
    changes; with neither, the stage tokenises by a plain permute."""

    def __init__(self, w_in: int, w_out: int, stride: int, depth: int, **params: Any):
        super().__init__()
        p = self.family.resolve(params)
        self.embed = OverlapPatchEmbed(w_in, w_out, stride) if needs_resample(w_in, w_out, stride) else None
        self.blocks = nn.Sequential(
            *(ShiftedBlock(w_out, p["shift_size"], p["mlp_ratio"], p["drop_path"]) for _ in range(depth))
        )
        self.norm = nn.LayerNorm(w_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1) if self.embed is None else self.embed(x)
        return self.norm(self.blocks(x)).permute(0, 3, 1, 2)

    @classmethod
    def complexity(cls, cx: C.Cx, w_in: int, w_out: int, stride: int, depth: int, **params: Any) -> C.Cx:
        mlp_ratio = cls.family.resolve(params)["mlp_ratio"]
        if needs_resample(w_in, w_out, stride):
            OverlapPatchEmbed.complexity(cx, w_in, w_out, stride)
        for _ in range(depth):
            ShiftedBlock.complexity(cx, w_out, mlp_ratio)
        return C.norm(cx, w_out)

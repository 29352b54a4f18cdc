"""Swin-MLP stages (Swin repository, `swin_mlp.py`): attention swapped for a per-head spatial MLP.

Within each M x M window, every head mixes the M*M positions with its own learned matrix (a
grouped 1x1 convolution, groups = heads). Shifted windows pad the map by (M - M//2, M//2)
instead of rolling it, so the shifted block sees one more row and column of windows.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from blocks import cx as C
from blocks.registry import register
from blocks.schema import Param
from blocks.swin import merge, padded, partition
from blocks.tokens import HEAD_DIM_GRID, HEAD_DIMS, TOKEN_MLP, WindowStage, token_errors


def mlp_pads(size: int, m: int, shifted: bool) -> tuple[int, int]:
    """Zero padding (before, after) along one axis: whole windows, plus the shift's padding.

    A map no larger than the window is padded up to one window and not shifted; padded zeros
    add nothing to the spatial MLP, so that equals Swin-MLP's shrunken window on the same map."""
    fill = padded(size, m) - size
    if shifted and size > m:
        return m - m // 2, m // 2 + fill
    return 0, fill


class WindowSpatialMlp(nn.Module):
    """(Shifted-)window spatial MLP on NHWC: per head, a learned M*M x M*M mix of positions."""

    def __init__(self, width: int, window_size: int, heads: int, shifted: bool):
        super().__init__()
        self.window_size, self.heads, self.shifted = window_size, heads, shifted
        n = heads * window_size**2
        # Conv2d (not Swin's Conv1d) so the activation hook counts it like every other layer;
        # windows lie along the conv's width axis, head channels along its height.
        self.spatial_mlp = nn.Conv2d(n, n, 1, groups=heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        m = self.window_size
        (top, bottom), (left, right) = mlp_pads(h, m, self.shifted), mlp_pads(w, m, self.shifted)
        x = F.pad(x, (0, 0, left, right, top, bottom))
        hp, wp = x.shape[1:3]
        win = partition(x, m, m)
        windows = win.shape[1]
        y = win.unflatten(-1, (self.heads, -1)).permute(0, 3, 2, 4, 1)
        y = self.spatial_mlp(y.reshape(b, self.heads * m * m, c // self.heads, windows))
        win = y.reshape(b, self.heads, m * m, c // self.heads, windows).permute(0, 4, 2, 1, 3)
        return merge(win.reshape(b, windows, m * m, c), hp, wp, m, m)[:, top : top + h, left : left + w]

    @staticmethod
    def complexity(cx: C.Cx, width: int, window_size: int, heads: int, shifted: bool) -> C.Cx:
        h, w, m = cx.h, cx.w, window_size
        windows = ((h + sum(mlp_pads(h, m, shifted))) // m) * ((w + sum(mlp_pads(w, m, shifted))) // m)
        cx.h, cx.w = width // heads, windows
        C.conv2d(cx, heads * m * m, heads * m * m, 1, groups=heads, bias=True)
        cx.h, cx.w = h, w
        return cx


@register(
    "stage",
    "swin_mlp",
    schema={
        "window_size": Param(
            int, 7, "M: window side in tokens (Swin-MLP at 256px: 8)", low=2, high=12, grid=(2, 4, 7)
        ),
        "head_dim": Param(
            int,
            32,
            "channels per head; each head has its own spatial MLP",
            choices=HEAD_DIMS,
            grid=HEAD_DIM_GRID,
        ),
        **TOKEN_MLP,
    },
    rules=(token_errors,),
    tags=("token", "mlp"),
)
class SwinMlpStage(WindowStage):
    """Swin-MLP stage: [patch merging] then pre-norm blocks alternating window and shifted-window
    spatial MLPs, each followed by a channel MLP (odd depth ends on an unshifted block).

    Stride 2 merges 2x2 patches to w_out; at stride 1 a width change is a LayerNorm + linear
    projection (the same modules as Swin's)."""

    def __init__(self, w_in: int, w_out: int, stride: int, depth: int, **params: Any):
        p = self.family.resolve(params)
        heads = w_out // p["head_dim"]
        super().__init__(
            w_in,
            w_out,
            stride,
            depth,
            lambda shifted: WindowSpatialMlp(w_out, p["window_size"], heads, shifted),
            p["mlp_ratio"],
            p["drop_path"],
        )

    @classmethod
    def complexity(cls, cx: C.Cx, w_in: int, w_out: int, stride: int, depth: int, **params: Any) -> C.Cx:
        p = cls.family.resolve(params)
        heads = w_out // p["head_dim"]

        def mixer_cx(c: C.Cx, shifted: bool) -> C.Cx:
            return WindowSpatialMlp.complexity(c, w_out, p["window_size"], heads, shifted)

        return WindowStage.stage_cx(cx, w_in, w_out, stride, depth, mixer_cx, p["mlp_ratio"])

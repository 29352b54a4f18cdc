"""Swin Transformer stages (Liu et al. 2021): shifted-window attention with relative position bias.

The token plumbing Swin shares with the other token families lives in blocks/tokens.py.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from blocks import cx as C
from blocks.registry import register
from blocks.schema import Param
from blocks.tokens import HEAD_DIM_GRID, HEAD_DIMS, TOKEN_MLP, MultiHeadAttention, WindowStage, token_errors


def relative_position_index(m: int) -> torch.Tensor:
    """(m*m, m*m) index into a (2m-1)^2 bias table: one entry per relative offset (dy, dx)."""
    ys, xs = torch.meshgrid(torch.arange(m), torch.arange(m), indexing="ij")
    coords = torch.stack([ys.flatten(), xs.flatten()])
    rel = coords[:, :, None] - coords[:, None, :] + (m - 1)
    return rel[0] * (2 * m - 1) + rel[1]


def window_plan(h: int, w: int, m: int, shifted: bool) -> tuple[tuple[int, int], tuple[int, int]]:
    """Window per axis (shrunk to the map where it fits in one window) and shift (none there)."""
    window = (min(m, h), min(m, w))
    shift = tuple(m // 2 if shifted and size > m else 0 for size in (h, w))
    return window, shift


def padded(size: int, m: int) -> int:
    """`size` rounded up to a multiple of the window `m`."""
    return -(-size // m) * m


def partition(x: torch.Tensor, mh: int, mw: int) -> torch.Tensor:
    """(B, H, W, C) with H, W multiples of the window -> (B, windows, mh*mw, C)."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // mh, mh, w // mw, mw, c).transpose(2, 3)
    return x.reshape(b, (h // mh) * (w // mw), mh * mw, c)


def merge(x: torch.Tensor, h: int, w: int, mh: int, mw: int) -> torch.Tensor:
    """Inverse of `partition`: (B, windows, mh*mw, C) -> (B, H, W, C)."""
    b, c = x.shape[0], x.shape[-1]
    x = x.reshape(b, h // mh, w // mw, mh, mw, c).transpose(2, 3)
    return x.reshape(b, h, w, c)


def shift_mask(
    hp: int, wp: int, window: tuple[int, int], shift: tuple[int, int], device=None
) -> torch.Tensor:
    """(windows, N, N) additive mask, -inf between tokens the cyclic shift brought together from
    opposite edges of the map, so the shifted windows never attend across the wrap-around."""
    rows = (torch.arange(hp, device=device) >= hp - shift[0]).long()
    cols = (torch.arange(wp, device=device) >= wp - shift[1]).long()
    region = (2 * rows[:, None] + cols[None, :])[None, :, :, None]
    ids = partition(region, *window)[0, :, :, 0]
    apart = ids[:, :, None] != ids[:, None, :]
    return torch.zeros(apart.shape, device=device).masked_fill(apart, float("-inf"))


class WindowAttention(nn.Module):
    """(Shifted-)window multi-head self-attention with a learned relative position bias, on NHWC.

    The map is zero-padded to whole windows (padded tokens are attended, as in torchvision);
    shifted windows roll the map cyclically by M // 2 and mask the wrapped-around tokens, so the
    number of windows does not grow."""

    def __init__(self, width: int, window_size: int, heads: int, qkv_bias: bool, shifted: bool):
        super().__init__()
        self.window_size, self.shifted = window_size, shifted
        self.attn = MultiHeadAttention(width, heads, qkv_bias)
        self.relative_position_bias_table = nn.Parameter(torch.empty((2 * window_size - 1) ** 2, heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer(
            "relative_position_index", relative_position_index(window_size), persistent=False
        )

    def position_bias(self, mh: int, mw: int) -> torch.Tensor:
        """(heads, N, N) bias for an mh x mw window: the full window's index, sub-selected."""
        ar = torch.arange(max(mh, mw), device=self.relative_position_index.device)
        pos = (ar[:mh, None] * self.window_size + ar[None, :mw]).flatten()
        index = self.relative_position_index[pos][:, pos]
        return self.relative_position_bias_table[index].permute(2, 0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[1:3]
        (mh, mw), (sh, sw) = window_plan(h, w, self.window_size, self.shifted)
        x = F.pad(x, (0, 0, 0, -w % mw, 0, -h % mh))
        hp, wp = x.shape[1:3]
        bias = self.position_bias(mh, mw)
        if sh or sw:
            x = torch.roll(x, (-sh, -sw), (1, 2))
            bias = bias + shift_mask(hp, wp, (mh, mw), (sh, sw), x.device)[:, None]
        x = merge(self.attn(partition(x, mh, mw), bias), hp, wp, mh, mw)
        if sh or sw:
            x = torch.roll(x, (sh, sw), (1, 2))
        return x[:, :h, :w]

    @staticmethod
    def complexity(cx: C.Cx, width: int, window_size: int, heads: int, qkv_bias: bool, shifted: bool) -> C.Cx:
        (mh, mw), _ = window_plan(cx.h, cx.w, window_size, shifted)
        windows = (padded(cx.h, mh) // mh) * (padded(cx.w, mw) // mw)
        MultiHeadAttention.complexity(cx, width, heads, mh * mw, qkv_bias, groups=windows)
        return C.params(cx, (2 * window_size - 1) ** 2 * heads)


@register(
    "stage",
    "swin",
    schema={
        "window_size": Param(int, 7, "M: window side in tokens", low=2, high=16, grid=(2, 4, 7)),
        "head_dim": Param(
            int, 32, "channels per attention head (Swin-T: 32)", choices=HEAD_DIMS, grid=HEAD_DIM_GRID
        ),
        "qkv_bias": Param(bool, True, "bias on the query/key/value projection"),
        **TOKEN_MLP,
    },
    rules=(token_errors,),
    tags=("token", "attention"),
)
class SwinStage(WindowStage):
    """Swin stage: [patch merging] then blocks alternating W-MSA and SW-MSA (odd depth ends on W-MSA).

    Stride 2 merges 2x2 patches to w_out; at stride 1 a width change is a LayerNorm + linear
    projection. A map no larger than the window is one window and is not shifted."""

    def __init__(self, w_in: int, w_out: int, stride: int, depth: int, **params: Any):
        p = self.family.resolve(params)
        heads = w_out // p["head_dim"]
        super().__init__(
            w_in,
            w_out,
            stride,
            depth,
            lambda shifted: WindowAttention(w_out, p["window_size"], heads, p["qkv_bias"], shifted=shifted),
            p["mlp_ratio"],
            p["drop_path"],
        )

    @classmethod
    def complexity(cls, cx: C.Cx, w_in: int, w_out: int, stride: int, depth: int, **params: Any) -> C.Cx:
        p = cls.family.resolve(params)
        heads = w_out // p["head_dim"]

        def mixer_cx(c: C.Cx, shifted: bool) -> C.Cx:
            return WindowAttention.complexity(
                c, w_out, p["window_size"], heads, p["qkv_bias"], shifted=shifted
            )

        return WindowStage.stage_cx(cx, w_in, w_out, stride, depth, mixer_cx, p["mlp_ratio"])

"""Vision Transformer stages (Dosovitskiy et al. 2021): global self-attention encoder blocks.

The class token lives in the stage. A stage with `class_token` prepends it and returns the
token sequence as a one-row map (N, C, 1, 1 + H*W), class token first, which the `vit` head
reads with pool='cls'; without it the stage keeps the (N, C, H, W) layout and composes with any
other family. The learned position embedding also lives in the stage, added once before its
first block, on a `pos_grid` x `pos_grid` grid resized (bicubic) when the map differs.
The rules that follow live here too: only the last stage may carry a class token, and the
head's pool='cls' needs it.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from blocks import cx as C
from blocks.registry import Site, register
from blocks.schema import Param
from blocks.tokens import (
    HEAD_DIM_GRID,
    HEAD_DIMS,
    TOKEN_MLP,
    MultiHeadAttention,
    PreNormBlock,
    TokenHead,
    resample_cx,
    resampler,
    token_errors,
)

EPS = 1e-6  # ViT's LayerNorms, in the encoder blocks and the head


def _class_token_last(class_token: bool, site: Site, **_) -> list[tuple[str, str]]:
    """The class token makes the output a one-row token map no other stage reads."""
    if class_token and not site.last:
        return [("class_token", "only the last stage may carry a class token")]
    return []


def _cls_needs_token(pool: str, site: Site, **_) -> list[tuple[str, str]]:
    """pool='cls' reads the class token, which only a last `vit` stage with class_token carries."""
    if pool != "cls" or site.before is None:
        return []
    family, params = site.before
    if family == "vit" and params["class_token"]:
        return []
    return [("pool", "'cls' needs a last stage of block 'vit' with class_token: true; or use 'mean'")]


@register(
    "stage",
    "vit",
    schema={
        "head_dim": Param(
            int, 64, "channels per attention head (ViT-B: 64)", choices=HEAD_DIMS, grid=HEAD_DIM_GRID
        ),
        "qkv_bias": Param(bool, True, "bias on the query/key/value projection"),
        "class_token": Param(bool, False, "prepend a class token; output becomes (C, 1, 1 + H*W)"),
        "pos_grid": Param(int, 14, "side of the learned position-embedding grid; 0: none", low=0, high=64),
        **TOKEN_MLP,
    },
    rules=(token_errors, _class_token_last),
    tags=("token", "attention"),
)
class ViTStage(nn.Module):
    """ViT encoder stage: [patch merging], [class token], [position embedding], pre-LN blocks.

    Stride 2 merges 2x2 patches to w_out; at stride 1 a width change is a LayerNorm + linear
    projection (the same modules as Swin's)."""

    def __init__(self, w_in: int, w_out: int, stride: int, depth: int, **params: Any):
        super().__init__()
        p = self.family.resolve(params)
        class_token, pos_grid, heads = p["class_token"], p["pos_grid"], w_out // p["head_dim"]
        self.resample = resampler(w_in, w_out, stride)
        self.class_token = nn.Parameter(torch.zeros(1, 1, w_out)) if class_token else None
        self.pos_grid = pos_grid
        self.pos_embedding = (
            nn.Parameter(torch.empty(1, class_token + pos_grid**2, w_out).normal_(std=0.02))
            if pos_grid
            else None
        )
        self.blocks = nn.Sequential(
            *(
                PreNormBlock(
                    w_out,
                    MultiHeadAttention(w_out, heads, p["qkv_bias"]),
                    p["mlp_ratio"],
                    p["drop_path"],
                    EPS,
                )
                for _ in range(depth)
            )
        )

    def position(self, h: int, w: int) -> torch.Tensor:
        """(1, prefix + h*w, C) position embedding, the grid part resized to h x w."""
        prefix = int(self.class_token is not None)
        first, grid = self.pos_embedding[:, :prefix], self.pos_embedding[:, prefix:]
        g = self.pos_grid
        if (h, w) != (g, g):
            grid = grid.reshape(1, g, g, -1).permute(0, 3, 1, 2)
            grid = F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False)
            grid = grid.permute(0, 2, 3, 1).reshape(1, h * w, -1)
        return torch.cat([first, grid], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.resample(x.permute(0, 2, 3, 1))
        b, h, w, c = x.shape
        tokens = x.reshape(b, h * w, c)
        if self.class_token is not None:
            tokens = torch.cat([self.class_token.expand(b, -1, -1), tokens], 1)
        if self.pos_embedding is not None:
            tokens = tokens + self.position(h, w)
        tokens = self.blocks(tokens)
        if self.class_token is not None:
            return tokens.transpose(1, 2).unsqueeze(2)
        return tokens.reshape(b, h, w, c).permute(0, 3, 1, 2)

    @classmethod
    def complexity(cls, cx: C.Cx, w_in: int, w_out: int, stride: int, depth: int, **params: Any) -> C.Cx:
        p = cls.family.resolve(params)
        class_token, pos_grid = p["class_token"], p["pos_grid"]
        resample_cx(cx, w_in, w_out, stride)
        tokens = cx.h * cx.w + class_token
        C.params(cx, (class_token + (class_token + pos_grid**2 if pos_grid else 0)) * w_out)
        for _ in range(depth):
            MultiHeadAttention.complexity(cx, w_out, w_out // p["head_dim"], tokens, p["qkv_bias"])
            PreNormBlock.complexity(cx, w_out, p["mlp_ratio"], tokens)
        if class_token:
            cx.h, cx.w = 1, tokens
        return cx


@register(
    "head",
    "vit",
    schema={
        "pool": Param(
            str,
            "mean",
            "'cls': the class token (needs a class_token stage last); 'mean': all tokens",
            choices=("cls", "mean"),
        )
    },
    rules=(_cls_needs_token,),
)
class ViTHead(TokenHead):
    """ViT head: final LayerNorm (eps 1e-6), class token or mean of tokens, linear to classes."""

    def __init__(self, w_in: int, num_classes: int, **params: Any):
        super().__init__(w_in, num_classes, self.family.resolve(params)["pool"], EPS)

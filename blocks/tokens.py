"""Token plumbing shared by the token families (Swin, Swin-MLP, shift-MLP, ViT): the token MLP,
multi-head attention, the pre-norm residual pair, patch merging, and the patch-embedding stem and
norm-pool head. Blocks work on channels-last tensors inside a stage; stages take and return NCHW."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from blocks import cx as C
from blocks.layers import DropPath
from blocks.registry import register
from blocks.schema import Param

LAYER_NORM_EPS = 1e-5  # of the pre-norm blocks and the norm-pool head (PyTorch's); ViT declares its own


def mlp_hidden(width: int, mlp_ratio: float) -> int:
    """Hidden width of a token MLP (int(width * ratio), as torchvision and timm round)."""
    return int(width * mlp_ratio)


def needs_resample(w_in: int, w_out: int, stride: int) -> bool:
    """Whether a token stage opens with patch merging (stride 2) or a projection (width change)."""
    return stride != 1 or w_in != w_out


def token_errors(
    w_out: int, stride: int, mlp_ratio: float, head_dim: int | None = None, **_
) -> list[tuple[str, str]]:
    """Rules every token family shares: stride 1 or 2, a non-empty MLP, whole heads (when the
    family has heads)."""
    out = []
    if stride not in (1, 2):
        out.append(f"stride must be 1 or 2 (2 merges 2x2 patches), got {stride}")
    if mlp_hidden(w_out, mlp_ratio) < 1:
        out.append(f"mlp_ratio {mlp_ratio} leaves no hidden units at width {w_out}")
    if head_dim is not None and w_out % head_dim:
        out.append(f"width {w_out} must be a multiple of head_dim {head_dim} (heads = width / head_dim)")
    return [("", m) for m in out]


class Mlp(nn.Module):
    """Token MLP on the last axis: Linear, GELU, Linear."""

    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))

    @staticmethod
    def complexity(cx: C.Cx, width: int, hidden: int, tokens: int) -> C.Cx:
        C.linear(cx, width, hidden, tokens=tokens)
        return C.linear(cx, hidden, width, tokens=tokens)


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention over the second-to-last axis, with an optional additive bias.

    Plain matmuls rather than scaled_dot_product_attention, which FlopCounterMode does not count
    on CPU."""

    def __init__(self, width: int, heads: int, qkv_bias: bool):
        super().__init__()
        self.heads = heads
        self.scale = (width // heads) ** -0.5
        self.qkv = nn.Linear(width, 3 * width, bias=qkv_bias)
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        qkv = self.qkv(x).unflatten(-1, (3, self.heads, -1)).movedim(-3, 0).transpose(-3, -2)
        q, k, v = qkv.unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        if bias is not None:
            attn = attn + bias
        return self.proj((attn.softmax(-1) @ v).transpose(-3, -2).flatten(-2))

    @staticmethod
    def complexity(cx: C.Cx, width: int, heads: int, tokens: int, qkv_bias: bool, groups: int = 1) -> C.Cx:
        """`groups` independent sets of `tokens` tokens (windows) attend within themselves."""
        d = width // heads
        C.linear(cx, width, 3 * width, tokens=groups * tokens, bias=qkv_bias)
        C.matmul(cx, groups * heads, tokens, d, tokens)
        C.matmul(cx, groups * heads, tokens, tokens, d)
        return C.linear(cx, width, width, tokens=groups * tokens)


class PreNormBlock(nn.Module):
    """x + mixer(LN(x)), then x + MLP(LN(x)): the residual pair the token families repeat."""

    def __init__(self, width: int, mixer: nn.Module, mlp_ratio: float, drop_path: float, eps: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, eps=eps)
        self.mixer = mixer
        self.norm2 = nn.LayerNorm(width, eps=eps)
        self.mlp = Mlp(width, mlp_hidden(width, mlp_ratio))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.mixer(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))

    @staticmethod
    def complexity(cx: C.Cx, width: int, mlp_ratio: float, tokens: int) -> C.Cx:
        """Both norms and the MLP; the caller adds its mixer's cost."""
        C.norm(cx, width)
        C.norm(cx, width)
        return Mlp.complexity(cx, width, mlp_hidden(width, mlp_ratio), tokens)


class PatchMerging(nn.Module):
    """Stride 2: concatenate each 2x2 neighbourhood (4*w_in), LayerNorm, linear to w_out without
    bias (Swin's merging, generalised). Stride 1: the same LayerNorm + linear on each token."""

    def __init__(self, w_in: int, w_out: int, stride: int):
        super().__init__()
        self.stride = stride
        self.norm = nn.LayerNorm(w_in * stride * stride)
        self.reduction = nn.Linear(w_in * stride * stride, w_out, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 2:
            h, w = x.shape[1:3]
            x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
            x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return self.reduction(self.norm(x))

    @staticmethod
    def complexity(cx: C.Cx, w_in: int, w_out: int, stride: int) -> C.Cx:
        cx.h, cx.w = -(-cx.h // stride), -(-cx.w // stride)
        C.norm(cx, w_in * stride * stride)
        return C.linear(cx, w_in * stride * stride, w_out, tokens=cx.h * cx.w, bias=False)


def resampler(w_in: int, w_out: int, stride: int) -> nn.Module:
    """Patch merging or projection where the stage changes resolution or width, else identity."""
    return PatchMerging(w_in, w_out, stride) if needs_resample(w_in, w_out, stride) else nn.Identity()


def resample_cx(cx: C.Cx, w_in: int, w_out: int, stride: int) -> C.Cx:
    """Cost of `resampler`."""
    return PatchMerging.complexity(cx, w_in, w_out, stride) if needs_resample(w_in, w_out, stride) else cx


@register(
    "stem",
    "patch_embed",
    schema={
        "patch": Param(int, 4, "patch side = conv kernel = stride (Swin: 4, ViT-B/16: 16)", low=1, high=32),
        "norm": Param(bool, True, "LayerNorm over channels after the projection (Swin: yes, ViT: no)"),
    },
)
class PatchEmbed(nn.Module):
    """Non-overlapping patches: conv patch x patch, stride patch (with bias), optional LayerNorm."""

    def __init__(self, c_in: int, w_out: int, **params: Any):
        super().__init__()
        p = self.family.resolve(params)
        self.proj = nn.Conv2d(c_in, w_out, p["patch"], stride=p["patch"])
        self.norm = nn.LayerNorm(w_out) if p["norm"] else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)
        if self.norm is None:
            return x
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    @classmethod
    def complexity(cls, cx: C.Cx, c_in: int, w_out: int, **params: Any) -> C.Cx:
        p = cls.family.resolve(params)
        C.conv2d(cx, c_in, w_out, p["patch"], stride=p["patch"], padding=0, bias=True)
        return C.norm(cx, w_out) if p["norm"] else cx


class TokenHead(nn.Module):
    """LayerNorm on every token, then the first token (pool='cls') or their mean, linear to classes."""

    def __init__(self, w_in: int, num_classes: int, pool: str, eps: float):
        super().__init__()
        self.pool = pool
        self.norm = nn.LayerNorm(w_in, eps=eps)
        self.fc = nn.Linear(w_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.norm(x.flatten(2).transpose(1, 2))
        return self.fc(tokens[:, 0] if self.pool == "cls" else tokens.mean(1))

    @classmethod
    def complexity(cls, cx: C.Cx, w_in: int, num_classes: int, **params: Any) -> C.Cx:
        cls.family.resolve(params)  # refuses unknown or illegal parameters, as the constructor does
        C.norm(cx, w_in)
        C.global_pool(cx)
        return C.linear(cx, w_in, num_classes)


@register("head", "norm_pool")
class NormPoolHead(TokenHead):
    """LayerNorm on every token, average them (or take the first, pool='cls'), linear to classes."""

    def __init__(self, w_in: int, num_classes: int, **params: Any):
        self.family.resolve(params)  # refuses unknown parameters: the mean over tokens is fixed
        super().__init__(w_in, num_classes, "mean", LAYER_NORM_EPS)


class WindowStage(nn.Module):
    """[Patch merging] then pre-norm blocks whose token mixer alternates plain and shifted
    windows (Swin, Swin-MLP); NCHW in and out, NHWC inside."""

    def __init__(
        self,
        w_in: int,
        w_out: int,
        stride: int,
        depth: int,
        mixer: Callable[[bool], nn.Module],
        mlp_ratio: float,
        drop_path: float,
    ):
        super().__init__()
        self.resample = resampler(w_in, w_out, stride)
        self.blocks = nn.Sequential(
            *(
                PreNormBlock(w_out, mixer(i % 2 == 1), mlp_ratio, drop_path, LAYER_NORM_EPS)
                for i in range(depth)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.resample(x.permute(0, 2, 3, 1))).permute(0, 3, 1, 2)

    @staticmethod
    def stage_cx(
        cx: C.Cx,
        w_in: int,
        w_out: int,
        stride: int,
        depth: int,
        mixer_cx: Callable[[C.Cx, bool], C.Cx],
        mlp_ratio: float,
    ) -> C.Cx:
        """Cost of the stage, given the mixer's cost as mixer_cx(cx, shifted)."""
        resample_cx(cx, w_in, w_out, stride)
        for i in range(depth):
            mixer_cx(cx, i % 2 == 1)
            PreNormBlock.complexity(cx, w_out, mlp_ratio, tokens=cx.h * cx.w)
        return cx


HEAD_DIMS = (4, 8, 16, 24, 32, 48, 64, 96, 128)
HEAD_DIM_GRID = (8, 16, 32)  # what the mixed space draws: small heads for small widths
TOKEN_MLP = {
    "mlp_ratio": Param(float, 4.0, "MLP hidden width / width", low=0.25, high=8.0, grid=(2.0, 4.0)),
    "drop_path": Param(float, 0.0, "stochastic-depth rate of every block in the stage", low=0.0, high=0.5),
}

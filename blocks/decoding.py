"""What decoder families share: the conv-BN-ReLU unit, resizing to a feature's map, and finding the
feature a decoder takes at a given stride.

A decoder family takes `widths` and `strides` (of the stem's output, then every stage's, in
forward order) and `num_classes`; its forward takes the list of those features and returns class
logits; its `complexity` gets `sizes`, every feature's map, beside them. `aux` and `aux_index`,
where a decoder has them, are an auxiliary head and the feature it reads (in training only).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blocks import cx as C


class ConvBnReLU(nn.Sequential):
    """k x k conv without bias ('same' padding, optional rate), BN, ReLU."""

    def __init__(self, w_in: int, w_out: int, k: int = 1, dilation: int = 1):
        super().__init__(
            nn.Conv2d(w_in, w_out, k, padding=dilation * (k // 2), dilation=dilation, bias=False),
            nn.BatchNorm2d(w_out),
            nn.ReLU(inplace=True),
        )

    @staticmethod
    def complexity(cx: C.Cx, w_in: int, w_out: int, k: int = 1, dilation: int = 1) -> C.Cx:
        C.conv2d(cx, w_in, w_out, k, dilation=dilation)
        return C.norm(cx, w_out)


def resize(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """`x` resized bilinearly (corners not aligned) to `like`'s map."""
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


def at_stride(strides: tuple[int, ...], stride: int) -> int | None:
    """Index of the skip feature at `stride`: the deepest one at that resolution before the
    deepest feature of all (which a decoder takes anyway), or None."""
    found = [i for i, s in enumerate(strides[:-1]) if s == stride]
    return found[-1] if found else None


def stride_errors(strides: tuple[int, ...], wanted: dict[str, int]) -> list[tuple[str, str]]:
    """(parameter, message) for each wanted skip stride no feature before the deepest has."""
    return [
        (
            name,
            f"no feature before the deepest at stride {s}; the stem's and stages' outputs are at "
            f"strides {list(strides)}",
        )
        for name, s in wanted.items()
        if at_stride(strides, s) is None
    ]


def moved(cx: C.Cx, size: tuple[int, int]) -> C.Cx:
    """`cx` moved to a feature's map (a resize or a branch that starts from that feature)."""
    cx.h, cx.w = size
    return cx

"""Heads: from the last stage's feature map to class logits."""

from __future__ import annotations

import torch
from torch import nn

from blocks import cx as C
from blocks.registry import register
from blocks.schema import Param


@register(
    "head",
    "classifier",
    schema={"dropout": Param(float, 0.0, "dropout before the linear layer", low=0.0, high=0.99)},
)
class ClassifierHead(nn.Module):
    """Global average pool, optional dropout, linear layer to the classes."""

    def __init__(self, w_in: int, num_classes: int, dropout: float = 0.0):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(w_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(torch.flatten(self.pool(x), 1)))

    @staticmethod
    def complexity(cx: C.Cx, w_in: int, num_classes: int, dropout: float = 0.0) -> C.Cx:
        C.global_pool(cx)
        return C.linear(cx, w_in, num_classes)

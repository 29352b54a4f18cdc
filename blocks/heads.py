"""Heads: from the last stage's feature map to class logits."""

from __future__ import annotations

from typing import Any

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

    def __init__(self, w_in: int, num_classes: int, **params: Any):
        super().__init__()
        dropout = self.family.resolve(params)["dropout"]
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(w_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(torch.flatten(self.pool(x), 1)))

    @classmethod
    def complexity(cls, cx: C.Cx, w_in: int, num_classes: int, **params: Any) -> C.Cx:
        cls.family.resolve(params)  # refuses unknown or illegal parameters, as the constructor does
        C.global_pool(cx)
        return C.linear(cx, w_in, num_classes)

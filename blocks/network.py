"""Build an `nn.Module` from an ArchSpec through the block registry."""

from __future__ import annotations

import torch
from torch import nn

from blocks.spec import ArchSpec, parts


class Network(nn.Module):
    """Stem, a sequence of stages and a head: the AnyNet shape every spec takes."""

    def __init__(self, spec: ArchSpec):
        super().__init__()
        self.spec = spec
        stem, *stages, head = (part.build() for part in parts(spec))
        self.stem = stem
        self.stages = nn.Sequential(*stages)
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


def build(spec: ArchSpec) -> Network:
    """The network an ArchSpec describes, freshly initialised."""
    return Network(spec)

"""Build an `nn.Module` from an ArchSpec through the block registry."""

from __future__ import annotations

import torch
from torch import nn

from blocks.spec import ArchSpec, parts


class Network(nn.Module):
    """Stem, a sequence of stages and a head: the AnyNet shape every spec takes. A stage may carry
    an auxiliary classifier (`aux`, Inception-v3's): in training the network then returns its
    logits after the main ones, as torchvision's Inception3 does; in evaluation the main logits."""

    def __init__(self, spec: ArchSpec):
        super().__init__()
        self.spec = spec
        stem, *stages, head = (part.build() for part in parts(spec))
        self.stem = stem
        self.stages = nn.Sequential(*stages)
        self.head = head
        self.taps = [i for i, stage in enumerate(stages) if hasattr(stage, "aux")]

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        if not (self.training and self.taps):
            return self.head(self.stages(self.stem(x)))
        x, aux = self.stem(x), []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.taps:
                aux.append(stage.aux(x))
        return (self.head(x), *aux)


def build(spec: ArchSpec) -> Network:
    """The network an ArchSpec describes, freshly initialised."""
    return Network(spec)

"""Build an `nn.Module` from an ArchSpec through the block registry."""

from __future__ import annotations

import torch
from torch import nn

from blocks import registry
from blocks.spec import ArchSpec


class Network(nn.Module):
    """Stem, a sequence of stages and a head: the AnyNet shape every spec takes."""

    def __init__(self, spec: ArchSpec):
        super().__init__()
        self.spec = spec
        c_in = spec.input_shape[0]
        self.stem = registry.get("stem", spec.stem.type).build(c_in, spec.stem.width, **spec.stem.params)
        stages, w_in = [], spec.stem.width
        for st in spec.stages:
            fam = registry.get("stage", st.block)
            stages.append(fam.build(w_in, st.width, st.stride, st.depth, **st.params))
            w_in = st.width
        self.stages = nn.Sequential(*stages)
        self.head = registry.get("head", spec.head.type).build(
            w_in, spec.head.num_classes, **spec.head.params
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


def build(spec: ArchSpec) -> Network:
    """The network an ArchSpec describes, freshly initialised."""
    return Network(spec)

"""Build an `nn.Module` from an ArchSpec through the block registry."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blocks.dilation import dilate
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


class SegmentationNetwork(nn.Module):
    """Stem and stages (the dilated ones with their schedules set) hand the stem's and every stage's
    output to the decoder, whose logits are resized bilinearly to the input: [N, K, H, W]. A decoder
    with an auxiliary head (`aux`, on feature `aux_index`) adds its resized logits after the main
    ones in training, as torchvision's FCN and DeepLabv3 do; in evaluation the main logits."""

    def __init__(self, spec: ArchSpec):
        super().__init__()
        self.spec = spec
        stem, *stages, decoder = (part.build() for part in parts(spec))
        for stage, st in zip(stages, spec.stages):
            if st.dilations:
                dilate(stage, st.dilations)
        self.stem = stem
        self.stages = nn.Sequential(*stages)
        self.decoder = decoder
        self.has_aux = getattr(decoder, "aux", None) is not None

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        size = x.shape[-2:]
        feats = [self.stem(x)]
        for stage in self.stages:
            feats.append(stage(feats[-1]))
        main = _resize(self.decoder(feats), size)
        if not (self.training and self.has_aux):
            return main
        return main, _resize(self.decoder.aux(feats[self.decoder.aux_index]), size)


def _resize(x: torch.Tensor, size: torch.Size) -> torch.Tensor:
    """Logits at the input's size (bilinear, corners not aligned, as torchvision's heads)."""
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def build(spec: ArchSpec) -> Network | SegmentationNetwork:
    """The network an ArchSpec describes, freshly initialised."""
    return Network(spec) if spec.decoder is None else SegmentationNetwork(spec)

"""Analytic complexity of an ArchSpec, and PyTorch's own measurement to check it against."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from blocks.spec import ArchSpec, part_costs


@dataclass(frozen=True)
class Complexity:
    """FLOPs (multiply-adds), parameters and activations for one image."""

    flops: int
    params: int
    acts: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class StageCost:
    """Per-part summary used by `nas build`: output shape and the part's own cost."""

    name: str
    shape: tuple[int, int, int]
    flops: int
    params: int
    acts: int


def breakdown(spec: ArchSpec) -> list[StageCost]:
    """Stem, each stage and the head (or decoder) with output shape and their own FLOPs/params/acts."""
    out: list[StageCost] = []
    for i, (part, cx) in enumerate(part_costs(spec)):
        label = f"stage {i} ({part.name} x{part.args['depth']})" if part.kind == "stage" else None
        out.append(
            StageCost(
                label or f"{part.kind} ({part.name})", (part.width, cx.h, cx.w), cx.flops, cx.params, cx.acts
            )
        )
    return out


def complexity(spec: ArchSpec) -> Complexity:
    """Analytic totals from the spec alone, without building the model."""
    parts = breakdown(spec)
    return Complexity(*(sum(getattr(p, k) for p in parts) for k in ("flops", "params", "acts")))


def measure(model: nn.Module, input_shape: tuple[int, int, int]) -> Complexity:
    """What PyTorch measures on the built module for one image: FlopCounterMode / 2, numel,
    and output elements of every Conv2d and Linear layer. The image is made on the module's
    device, so a module built on the meta device is measured from shapes alone, in no time."""
    acts = 0

    def hook(_mod, _inp, out):
        nonlocal acts
        acts += out.numel()  # batch of one image

    handles = [
        m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            device = next((p.device for p in model.parameters()), torch.device("cpu"))
            model(torch.zeros(1, *input_shape, device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    params = sum(p.numel() for p in model.parameters())
    return Complexity(counter.get_total_flops() // 2, params, acts)

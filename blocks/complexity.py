"""Analytic complexity of an ArchSpec, and PyTorch's own measurement to check it against."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from blocks import registry
from blocks.cx import Cx
from blocks.spec import ArchSpec


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
    """Stem, each stage and the head with output shape and their own FLOPs/params/acts."""
    c, h, w = spec.input_shape
    cx = Cx(h, w)
    parts: list[StageCost] = []

    def close(name: str, width: int, before: Cx) -> None:
        parts.append(
            StageCost(
                name,
                (width, cx.h, cx.w),
                cx.flops - before.flops,
                cx.params - before.params,
                cx.acts - before.acts,
            )
        )

    before = Cx(cx.h, cx.w)
    registry.get("stem", spec.stem.type).complexity(cx, c, spec.stem.width, **spec.stem.params)
    close(f"stem ({spec.stem.type})", spec.stem.width, before)
    w_in = spec.stem.width
    for i, st in enumerate(spec.stages):
        before = Cx(cx.h, cx.w, cx.flops, cx.params, cx.acts)
        registry.get("stage", st.block).complexity(cx, w_in, st.width, st.stride, st.depth, **st.params)
        close(f"stage {i + 1} ({st.block} x{st.depth})", st.width, before)
        w_in = st.width
    before = Cx(cx.h, cx.w, cx.flops, cx.params, cx.acts)
    registry.get("head", spec.head.type).complexity(cx, w_in, spec.head.num_classes, **spec.head.params)
    close(f"head ({spec.head.type})", spec.head.num_classes, before)
    return parts


def complexity(spec: ArchSpec) -> Complexity:
    """Analytic totals from the spec alone, without building the model."""
    parts = breakdown(spec)
    return Complexity(*(sum(getattr(p, k) for p in parts) for k in ("flops", "params", "acts")))


def measure(model: nn.Module, input_shape: tuple[int, int, int]) -> Complexity:
    """What PyTorch measures on the built module for one image: FlopCounterMode / 2, numel,
    and output elements of every Conv2d and Linear layer."""
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
            model(torch.zeros(1, *input_shape))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    params = sum(p.numel() for p in model.parameters())
    return Complexity(counter.get_total_flops() // 2, params, acts)

"""Dilating a built stage: the convolutions a stage that traded its stride for resolution dilates,
and the gridding verdict of the schedule it cycles over them (HDC, Wang et al. 2018).

A stage family knows nothing of dilation: a segmentation spec records a schedule of rates on the
stage, and the network sets them on the stage's dilatable convolutions (a k x k conv, k > 1,
stride 1, rate 1, 'same' padding), in the order the module lists them, cycling the schedule as
the `hdc_dilated` family does. The padding grows with the rate, so every map keeps its size and
every conv its multiply-adds: the stage's analytic complexity is the undilated stage's.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING

import torch
from torch import nn

from blocks.gridding import check_schedule

if TYPE_CHECKING:
    from blocks.spec import ArchSpec, Part

GRID_TAG = "dilated"  # families that set their own rates (hdc_dilated, regseg's D-block)


def dilatable(module: nn.Module) -> list[nn.Conv2d]:
    """The module's convs a dilation can apply to without moving any map size, in module order."""
    out = []
    for m in module.modules():
        if not isinstance(m, nn.Conv2d) or m.padding_mode != "zeros" or isinstance(m.padding, str):
            continue
        k = m.kernel_size
        same = tuple(m.padding) == tuple((s - 1) // 2 for s in k) and all(s % 2 for s in k)
        if max(k) > 1 and same and tuple(m.stride) == (1, 1) and tuple(m.dilation) == (1, 1):
            out.append(m)
    return out


def cycled(rates: tuple[int, ...], count: int) -> list[int]:
    """The rate of each of `count` convs: the schedule cycled over them."""
    return [rates[j % len(rates)] for j in range(count)]


def dilate(module: nn.Module, rates: tuple[int, ...]) -> None:
    """Set the cycled schedule on the module's dilatable convs, padding each to keep its map size."""
    convs = dilatable(module)
    for conv, r in zip(convs, cycled(rates, len(convs))):
        conv.dilation = (r, r)
        conv.padding = tuple(r * (s - 1) // 2 for s in conv.kernel_size)


@lru_cache(maxsize=256)
def _kernels(kind: str, name: str, args: str, params: str) -> tuple[int, ...]:
    """Smallest spatial side (> 1) of each dilatable conv of a stage, built without weights."""
    from blocks.library import get

    with torch.device("meta"):
        module = get(kind, name).build(*json.loads(args), **json.loads(params))
    return tuple(min(s for s in c.kernel_size if s > 1) for c in dilatable(module))


def kernels(part: Part) -> tuple[int, ...]:
    """Smallest side of each dilatable conv of a stage part (what a schedule is cycled over)."""
    return _kernels(
        part.kind, part.name, json.dumps(list(part.args.values())), json.dumps(part.params, sort_keys=True)
    )


def verdict(rates: tuple[int, ...], sides: tuple[int, ...]) -> str:
    """'hole-free', or `nas hdc`'s message naming the holes of the cycled schedule; the check takes
    the smallest kernel of the stage, whose holes a larger kernel at the same rates only fills."""
    messages = check_schedule(cycled(rates, len(sides)), min(sides))
    return messages[0] if messages else "hole-free"


def _dilated(spec: ArchSpec) -> list[tuple[int, Part, tuple[int, ...]]]:
    from blocks.spec import parts

    stages = [p for p in parts(spec) if p.kind == "stage"]
    return [(i, p, st.dilations) for i, (p, st) in enumerate(zip(stages, spec.stages)) if st.dilations]


def verdicts(spec: ArchSpec) -> dict[str, str]:
    """Each dilated stage's field and the gridding verdict of its schedule, as recorded in the spec."""
    return {f"stages[{i}]": verdict(rates, kernels(p)) for i, p, rates in _dilated(spec) if kernels(p)}


def spec_errors(spec: ArchSpec) -> list[tuple[str, str]]:
    """A schedule on a stage that sets its own rates or has no conv a rate can apply to."""
    from blocks.library import get

    out = []
    for i, p, _ in _dilated(spec):
        if GRID_TAG in get("stage", p.name).tags:
            out.append((f"stages[{i}].dilations", f"stage '{p.name}' sets its own rates in its params"))
        elif not kernels(p):
            out.append(
                (
                    f"stages[{i}].dilations",
                    f"stage '{p.name}' has no k x k (k > 1) stride-1 'same'-padded conv to dilate; "
                    "leave its dilations empty",
                )
            )
    return out

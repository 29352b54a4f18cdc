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
from typing import Any

import torch
from torch import nn

from blocks.gridding import check_schedule

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
def _kernels(name: str, args: str, params: str) -> tuple[int, ...]:
    from blocks.library import get

    with torch.device("meta"):  # built without weights: only the layers' settings are read
        module = get("stage", name).build(*json.loads(args), **json.loads(params))
    return tuple(min(s for s in c.kernel_size if s > 1) for c in dilatable(module))


def kernels(name: str, args: tuple[int, ...], params: dict[str, Any]) -> tuple[int, ...]:
    """Smallest side (> 1) of each dilatable conv of a stage of family `name` built from its
    structural `args` and `params`: what a schedule is cycled over."""
    return _kernels(name, json.dumps(list(args)), json.dumps(params, sort_keys=True))


def verdict(rates: tuple[int, ...], sides: tuple[int, ...]) -> str:
    """'hole-free', or `nas hdc`'s message naming the holes of the cycled schedule; the check takes
    the smallest kernel of the stage, whose holes a larger kernel at the same rates only fills."""
    messages = check_schedule(cycled(rates, len(sides)), min(sides))
    return messages[0] if messages else "hole-free"

"""A segmentation spec from any classification backbone: drop its classifier, trade the last
stages' stride for dilation until the output stride is reached (torchvision's
`replace_stride_with_dilation`), draw each dilated stage's schedule, add a decoder and the dense head.

A dilated stage's schedule is drawn from the hole-free schedules (HDC's rule, blocks.gridding) for
its smallest kernel, or, for ablations (`schedule="gridded"`), a schedule with holes and the same
receptive field (the same sum of rates) as a hole-free one drawn the same way. The verdict of each
stage's cycled schedule is recorded in the spec (`gridding`), by the code `nas hdc` runs.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import numpy as np

from blocks import dilation
from blocks.errors import ParamError
from blocks.gridding import hole_free_schedules, widest_hole_free
from blocks.spec import (
    DENSE_HEAD,
    OUTPUT_STRIDES,
    ArchSpec,
    DecoderSpec,
    HeadSpec,
    feature_strides,
    from_dict,
    parts,
)

SCHEDULES = ("hdc", "gridded")


def segment(
    backbone: ArchSpec,
    *,
    decoder: str,
    num_classes: int,
    output_stride: int,
    decoder_params: dict[str, Any] | None = None,
    schedule: str = "hdc",
    rng: np.random.Generator | None = None,
    schedule_length: int = 3,
    max_rate: int = 9,
    twinned: bool = False,
) -> ArchSpec:
    """The segmentation spec of `backbone` with `decoder` at `output_stride`; without `rng` each
    dilated stage takes the widest schedule of its kind; `twinned` draws hdc schedules only among
    those with a gridded twin (ParamError names an illegal argument)."""
    if backbone.decoder is not None:
        raise ParamError("backbone", f"{backbone.name or 'the spec'} is a segmentation spec already")
    if schedule not in SCHEDULES:
        raise ParamError("schedule", f"expected one of {list(SCHEDULES)}, got {schedule!r}")
    first = traded_from(backbone, output_stride)
    stages = list(backbone.stages)
    for i in range(first, len(stages)):
        stages[i] = replace(stages[i], stride=1)
    plain = replace(backbone, stages=tuple(stages))
    for i, part in enumerate(p for p in parts(plain) if p.kind == "stage"):
        if i >= first and dilation.GRID_TAG not in dilation_tags(part.name):
            sides = dilation.kernels(part.name, tuple(part.args.values()), part.params)
            if sides:
                rates = draw(schedule, sides, schedule_length, max_rate, rng, twinned)
                stages[i] = replace(stages[i], dilations=tuple(rates))
    spec = ArchSpec(
        backbone.stem,
        tuple(stages),
        HeadSpec(num_classes, DENSE_HEAD),
        backbone.input_shape,
        f"{backbone.name}-{decoder}-os{output_stride}" if backbone.name else "",
        DecoderSpec(decoder, dict(decoder_params or {})),
        output_stride,
    )
    return from_dict(spec.to_dict(), f"segmentation of {backbone.name or 'the backbone'}")


def traded_from(backbone: ArchSpec, output_stride: int) -> int:
    """The first stage that trades its stride: the fewest last stages whose trade reaches the stride."""
    if output_stride not in OUTPUT_STRIDES:
        raise ParamError("output_stride", f"expected one of {list(OUTPUT_STRIDES)}, got {output_stride!r}")
    strides = feature_strides(backbone)
    at = [j for j, s in enumerate(strides) if s == output_stride]
    if not at:
        legal = sorted({s for s in strides if s in OUTPUT_STRIDES})
        raise ParamError(
            "output_stride",
            f"{output_stride} is not reached by the stem's and stages' strides {list(strides)}; legal: {legal}",
        )
    return at[-1]


def dilation_tags(name: str) -> tuple[str, ...]:
    """The tags of a stage family (those that set their own rates keep them)."""
    from blocks.library import get

    return get("stage", name).tags


def draw(
    schedule: str,
    sides: tuple[int, ...],
    length: int,
    max_rate: int,
    rng: np.random.Generator | None,
    twinned: bool = False,
) -> list[int]:
    """One stage's schedule for convs of these smallest sides: hole-free, or gridded with a hole-free
    one's receptive field; the widest such without `rng`. With `twinned` a hole-free schedule is
    drawn as a gridded one is, among those with gridded twins, consuming the generator alike, so
    for one generator the two kinds come out with the same receptive field, stage by stage."""
    k = min(sides)
    free = list(hole_free_schedules(length, k, max_rate))
    if rng is None:
        free = widest_hole_free(length, k, max_rate, top=len(free))
    else:
        free = [free[j] for j in rng.permutation(len(free))]
    if schedule == "hdc" and not twinned:
        return list(free[0])
    for sched in free:  # the first drawn that has gridded twins
        twins = gridded_twins(sched, sides, max_rate)
        if twins:
            twin = twins[0 if rng is None else int(rng.integers(len(twins)))]
            return list(sched if schedule == "hdc" else twin)
    raise ParamError(
        "schedule", f"no gridded schedule of {length} rates up to {max_rate} matches a hole-free one"
    )


def gridded_twins(free: tuple[int, ...], sides: tuple[int, ...], max_rate: int) -> list[tuple[int, ...]]:
    """Non-decreasing schedules with the same length and sum as `free` that leave holes, cycled
    over convs of these sides (as `nas hdc` judges them)."""
    rates = range(1, max_rate + 1)
    return [
        s
        for s in itertools.combinations_with_replacement(rates, len(free))
        if sum(s) == sum(free) and dilation.verdict(s, sides) != "hole-free"
    ]

"""HDC-dilated residual stage: basic-block units whose 3x3 convs follow a dilation schedule.

Each unit is conv a (3x3), BN, ReLU, conv b (3x3), BN, add the shortcut, ReLU, as in the
ResNet basic block, with padding equal to the rate so resolution is kept. The convs that
run at the stage's output resolution are numbered 0, 1, 2, ... in forward order (a then b,
unit by unit) and conv j uses dilations[j % len(dilations)], so the schedule cycles over the
stage as HDC's sawtooth does. With a stride s > 1 the first unit's conv a is a plain
stride-s 3x3 (rate 1, it runs at the input resolution) beside a 1x1 stride-s projection
shortcut, and the numbering starts at that unit's conv b.

Gridding is checked on that whole sequence of rates: a shortcut only adds paths through
fewer convs, whose offsets the full chain reaches anyway (every rate can contribute zero).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from blocks import cx as C
from blocks.gridding import check_schedule, hole_free_schedules
from blocks.registry import register
from blocks.residual import shortcut, shortcut_cost
from blocks.schema import Param


def conv_rates(stride: int, depth: int, dilations: tuple[int, ...]) -> list[int]:
    """The dilation of every resolution-keeping 3x3 conv of the stage, in forward order."""
    count = 2 * depth - (1 if stride != 1 else 0)
    return [dilations[j % len(dilations)] for j in range(count)]


def _unit_rates(stride: int, depth: int, dilations: tuple[int, ...]) -> list[tuple[int, int]]:
    """(rate of conv a, rate of conv b) per unit; a strided conv a has rate 1."""
    rates = ([1] if stride != 1 else []) + conv_rates(stride, depth, dilations)
    return list(zip(rates[::2], rates[1::2]))


class DilatedUnit(nn.Module):
    """Basic residual unit with dilated 3x3 convs: a, BN, ReLU, b, BN, add, ReLU."""

    def __init__(self, w_in: int, w_out: int, stride: int, rate_a: int, rate_b: int):
        super().__init__()
        self.a = nn.Conv2d(w_in, w_out, 3, stride=stride, padding=rate_a, dilation=rate_a, bias=False)
        self.a_bn = nn.BatchNorm2d(w_out)
        self.b = nn.Conv2d(w_out, w_out, 3, padding=rate_b, dilation=rate_b, bias=False)
        self.b_bn = nn.BatchNorm2d(w_out)
        self.proj = shortcut(w_in, w_out, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.b_bn(self.b(self.relu(self.a_bn(self.a(x)))))
        return self.relu(out + (x if self.proj is None else self.proj(x)))

    @staticmethod
    def complexity(cx: C.Cx, w_in: int, w_out: int, stride: int, rate_a: int, rate_b: int) -> C.Cx:
        shortcut_cost(cx, w_in, w_out, stride)
        C.conv2d(cx, w_in, w_out, 3, stride=stride, dilation=rate_a)
        C.norm(cx, w_out)
        C.conv2d(cx, w_out, w_out, 3, dilation=rate_b)
        return C.norm(cx, w_out)


def _check_gridding(stride: int, depth: int, dilations: tuple[int, ...], **_) -> list[tuple[str, str]]:
    """Reject a schedule that, cycled over the stage's convs, leaves gridding holes."""
    if not dilations:
        return [("", "dilations: expected a non-empty list of integers >= 1, e.g. [1, 2, 5]")]
    return [
        (
            "",
            f"dilations {list(dilations)} cycled over the stage's convs: {msg}; a hole-free schedule "
            "such as [1, 2, 5] is legal (see `nas hdc suggest`)",
        )
        for msg in check_schedule(conv_rates(stride, depth, dilations), 3)
    ]


def schedule_choices(schedules: Iterable[Sequence[int]]) -> list[str]:
    """Schedules as 'r1,r2,...' strings: categorical values an Optuna trial can store."""
    return [",".join(str(r) for r in s) for s in schedules]


def parse_choice(choice: str) -> list[int]:
    """The schedule a `schedule_choices` string stands for."""
    return [int(r) for r in choice.split(",")]


def draw_dilations(draw: Any, tag: str, options: Mapping[str, Any]) -> list[int]:
    """A hole-free schedule (every one is legal at any depth and stride), drawn as `{tag}_dilations`."""
    legal = schedule_choices(hole_free_schedules(options["schedule_length"], 3, options["max_rate"]))
    return parse_choice(draw.choice(f"{tag}_dilations", legal))


@register(
    "stage",
    "hdc_dilated",
    schema={
        "dilations": Param(
            int, (1, 2, 5), "3x3 conv rates, cycled over the stage's convs", is_list=True, low=1, high=64
        )
    },
    rules=(_check_gridding,),
    tags=("residual", "dilated"),
    samplers={"dilations": draw_dilations},
    sampling={
        "schedule_length": Param(
            int, 3, "rates per hdc_dilated schedule (hole-free ones only)", low=1, high=8
        ),
        "max_rate": Param(int, 9, "largest dilation rate drawn", low=1, high=64),
    },
)
class HDCDilatedStage(nn.Sequential):
    """Residual stage of dilated basic units; the rate schedule cycles over its 3x3 convs (HDC)."""

    def __init__(self, w_in: int, w_out: int, stride: int, depth: int, **params: Any):
        rates = _unit_rates(stride, depth, self.family.resolve(params)["dilations"])
        super().__init__(
            *(
                DilatedUnit(w_in if i == 0 else w_out, w_out, stride if i == 0 else 1, a, b)
                for i, (a, b) in enumerate(rates)
            )
        )

    @classmethod
    def complexity(cls, cx: C.Cx, w_in: int, w_out: int, stride: int, depth: int, **params: Any) -> C.Cx:
        rates = _unit_rates(stride, depth, cls.family.resolve(params)["dilations"])
        for i, (a, b) in enumerate(rates):
            DilatedUnit.complexity(cx, w_in if i == 0 else w_out, w_out, stride if i == 0 else 1, a, b)
        return cx

"""Branching modules as plain plans, the machinery of the Inception-v3, v4 and Inception-ResNet
families: one plan per module drives both `forward` and `complexity`.

A module is a list of branches concatenated; a branch is a chain of convs and pools, optionally
ending in convs run side by side on the chain's output (1x3 beside 3x1). Every conv is conv,
BN (eps 1e-3), ReLU, with 'same' padding unless unpadded ("valid"; stride-2 convs always are).

A `Grid` names a version's module kinds and its reductions; a stage of `depth` modules of one
kind is opened, at stride 2, by the reduction that leads into that kind's grid. Widths are
explicit or the reference widths scaled to the stage's width.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from blocks import cx as C
from blocks.inception import ConvUnit

# a conv: (width, (kh, kw), stride, unpadded?); a pool: (kind, kernel, stride, padding) where
# kind is "max", "avg" (padding counted, torchvision's Inception-v3) or "avg_excl" (not counted)
Conv = tuple[int, tuple[int, int], int, bool]
Pool = tuple[str, int, int, int]
Branch = tuple[list[Conv | Pool], list[Conv]]  # (chain, side-by-side convs at its end)
Plan = Callable[[tuple[int, ...]], list[Branch]]


def conv(width: int, kh: int, kw: int | None = None, stride: int = 1, valid: bool = False) -> Conv:
    """A conv of a plan; stride-2 convs are unpadded."""
    return (width, (kh, kh if kw is None else kw), stride, valid or stride == 2)


def _pool(op: Pool) -> nn.Module:
    kind, k, stride, pad = op
    if kind == "max":
        return nn.MaxPool2d(k, stride, pad)
    return nn.AvgPool2d(k, stride, pad, count_include_pad=kind == "avg")


class Path(nn.Module):
    """One branch: its chain of convs and pools, then its side-by-side convs concatenated."""

    def __init__(self, w_in: int, chain: list[Conv | Pool], split: list[Conv]):
        super().__init__()
        layers: list[nn.Module] = []
        for op in chain:
            if isinstance(op[0], str):
                layers.append(_pool(op))
            else:
                layers.append(ConvUnit(w_in, op[0], op[1], True, op[2], op[3]))
                w_in = op[0]
        self.chain = nn.Sequential(*layers)
        self.split = nn.ModuleList(ConvUnit(w_in, c[0], c[1], True, c[2], c[3]) for c in split)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.chain(x)
        return torch.cat([c(x) for c in self.split], 1) if self.split else x

    @staticmethod
    def complexity(cx: C.Cx, w_in: int, chain: list[Conv | Pool], split: list[Conv]) -> C.Cx:
        for op in chain:
            if isinstance(op[0], str):
                C.pool2d(cx, op[1], stride=op[2], padding=op[3])
            else:
                ConvUnit.complexity(cx, w_in, op[0], op[1], True, op[2], op[3])
                w_in = op[0]
        h, w = cx.h, cx.w
        for c in split:
            cx.h, cx.w = h, w
            ConvUnit.complexity(cx, w_in, c[0], c[1], True, c[2], c[3])
        return cx


class Module(nn.Module):
    """An Inception module or reduction: its branches side by side, concatenated."""

    def __init__(self, w_in: int, plan: list[Branch]):
        super().__init__()
        self.branches = nn.ModuleList(Path(w_in, *b) for b in plan)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([b(x) for b in self.branches], 1)

    @staticmethod
    def complexity(cx: C.Cx, w_in: int, plan: list[Branch]) -> C.Cx:
        h, w = cx.h, cx.w
        for branch in plan:
            cx.h, cx.w = h, w
            Path.complexity(cx, w_in, *branch)
        return cx


def plan_width(w_in: int, plan: list[Branch]) -> int:
    """Channels a module outputs: its branches' last widths (a bare pool passes its input on)."""
    out = 0
    for chain, split in plan:
        if split:
            out += sum(c[0] for c in split)
        else:
            convs = [op for op in chain if isinstance(op[0], int)]
            out += convs[-1][0] if convs else w_in
    return out


@dataclass(frozen=True)
class Grid:
    """A version's module kinds and reductions: for each, its reference widths and its plan.

    A reduction's `absorbs` is the index of the width that takes what rounding leaves, so
    that scaled widths still sum to the stage's width; a module's is always its 1x1 branch.
    """

    modules: dict[str, tuple[tuple[int, ...], Plan]]
    reductions: dict[str, tuple[tuple[int, ...], Plan, int]]
    opens: dict[str, str]  # module kind -> the reduction that opens a stride-2 stage of it


def scaled(reference: tuple[int, ...], plan: Plan, added: int, absorbs: int) -> tuple[int, ...]:
    """`reference` widths scaled so that the plan's convs output `added` channels in all."""
    total = plan_width(0, plan(reference))
    w = [max(1, round(v * added / total)) for v in reference]
    w[absorbs] = 0
    w[absorbs] = added - plan_width(0, plan(tuple(w)))
    return tuple(w)


def stage_plans(
    grid: Grid, w_in: int, w_out: int, stride: int, depth: int, p: dict[str, Any]
) -> list[list[Branch]]:
    """The plans of a stage's modules: the reduction at stride 2, then `depth` modules."""
    kind, branches = p["module"], p["branches"]
    reference, plan = grid.modules[kind]
    plans = []
    if stride == 2:
        red_ref, red_plan, absorbs = grid.reductions[grid.opens[kind]]
        widths = p["reduction"] or scaled(red_ref, red_plan, w_out - w_in, absorbs)
        plans.append(red_plan(tuple(widths)))
    n = len(reference)
    for i in range(depth):
        if not branches:
            widths = scaled(reference, plan, w_out, 0)
        else:
            widths = branches[n * i : n * i + n] if len(branches) == n * depth else branches
        plans.append(plan(tuple(widths)))
    return plans


def inputs(w_in: int, plans: list[list[Branch]]) -> list[int]:
    """Each module's input width, then the stage's output width."""
    out = [w_in]
    for plan in plans:
        out.append(plan_width(out[-1], plan))
    return out


def grid_errors(
    grid: Grid, w_in: int, w_out: int, stride: int, depth: int, p: dict[str, Any]
) -> list[tuple[str, str]]:
    """Why a stage of `grid` cannot be built: width counts, empty branches, a width that does not add up."""
    branches, reduction = p["branches"], p["reduction"]
    n = len(grid.modules[p["module"]][0])
    if branches and len(branches) not in (n, n * depth):
        return [
            (
                "branches",
                f"module '{p['module']}' takes {n} widths, or {n} per module ({n * depth}); got {len(branches)}",
            )
        ]
    if reduction and stride != 2:
        return [("reduction", "only a stride-2 stage opens with a reduction")]
    if reduction and len(reduction) != len(grid.reductions[grid.opens[p["module"]]][0]):
        expected = len(grid.reductions[grid.opens[p["module"]]][0])
        return [("reduction", f"expected {expected} ints, got {len(reduction)}")]
    plans = stage_plans(grid, w_in, w_out, stride, depth, p)
    flat = [c[0] for plan in plans for chain, split in plan for c in chain + split if isinstance(c[0], int)]
    if min(flat) < 1:
        return [
            ("", f"branch widths must all be >= 1 (from width {w_out} and input {w_in}); raise the width")
        ]
    widths = inputs(w_in, plans)
    if widths[-1] != w_out:
        return [("", f"width {w_out} must equal the last module's concatenated branches ({widths[-1]})")]
    return []

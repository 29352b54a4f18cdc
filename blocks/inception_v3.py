"""Inception-v3 family (Szegedy et al. 2016) as torchvision builds it, and its stem.

Every conv is conv, BN (eps 1e-3), ReLU, with 'same' padding except the stride-2 convs of the
reductions and the stem's unpadded ones. A module is a list of branches concatenated; each
branch is a chain of convs and pools, optionally ending in convs run side by side on the chain's
output (module E's 1x3 and 3x1). One plan per module drives both `forward` and `complexity`.

A stage holds `depth` modules of one kind: "a" (35x35 grid: 1x1, 5x5, double 3x3, pool), "c"
(17x17: 1x1, 1x7-7x1, double 7x1-1x7, pool) or "e" (8x8: 1x1, 1x3|3x1, 3x3 then 1x3|3x1, pool).
At stride 2 a reduction opens the stage: torchvision's Mixed_6a (3x3/2; 1x1, 3x3, 3x3/2; max
pool) before "a" and "c" modules, Mixed_7a (1x1, 3x3/2; 1x1, 1x7, 7x1, 3x3/2; max pool) before
"e". Widths are explicit (`branches`, `reduction`) or scaled from torchvision's to the width.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from blocks import cx as C
from blocks.inception import ConvUnit
from blocks.registry import register
from blocks.schema import Param

# a conv: (width, (kh, kw), stride, unpadded?); a pool: ("max" | "avg", kernel, stride, padding)
Conv = tuple[int, tuple[int, int], int, bool]
Pool = tuple[str, int, int, int]
Branch = tuple[list[Conv | Pool], list[Conv]]  # (chain, side-by-side convs at its end)

MODULES = ("a", "c", "e")
# torchvision's widths per module kind and the output they sum to: (1x1, reduce, out, double
# reduce, double out, pool proj); "e" outputs its out and double out twice (1x3 and 3x1)
TORCHVISION = {
    "a": ((64, 48, 64, 64, 96, 64), 288),
    "c": ((192, 160, 192, 160, 192, 192), 768),
    "e": ((320, 384, 384, 448, 384, 192), 2048),
}


def conv(width: int, kh: int, kw: int | None = None, stride: int = 1, valid: bool = False) -> Conv:
    """A conv of the plan; stride-2 convs are unpadded."""
    return (width, (kh, kh if kw is None else kw), stride, valid or stride == 2)


def module_plan(kind: str, widths: tuple[int, ...]) -> list[Branch]:
    """The branches of a module of `kind` with its six widths."""
    w1, r, w, rd, wd, wp = widths
    pool: list[Conv | Pool] = [("avg", 3, 1, 1), conv(wp, 1)]
    if kind == "a":
        return [
            ([conv(w1, 1)], []),
            ([conv(r, 1), conv(w, 5)], []),
            ([conv(rd, 1), conv(wd, 3), conv(wd, 3)], []),
            (pool, []),
        ]
    if kind == "c":
        double = [conv(rd, 1), conv(rd, 7, 1), conv(rd, 1, 7), conv(rd, 7, 1), conv(wd, 1, 7)]
        return [
            ([conv(w1, 1)], []),
            ([conv(r, 1), conv(r, 1, 7), conv(w, 7, 1)], []),
            (double, []),
            (pool, []),
        ]
    return [
        ([conv(w1, 1)], []),
        ([conv(r, 1)], [conv(w, 1, 3), conv(w, 3, 1)]),
        ([conv(rd, 1), conv(wd, 3)], [conv(wd, 1, 3), conv(wd, 3, 1)]),
        (pool, []),
    ]


def reduction_plan(kind: str, widths: tuple[int, ...]) -> list[Branch]:
    """Mixed_6a ("b") or Mixed_7a ("d"): two conv branches ending at stride 2 and a 3x3/2 max pool."""
    a, b, c = widths
    if kind == "b":
        convs = [[conv(a, 3, stride=2)], [conv(b, 1), conv(c, 3), conv(c, 3, stride=2)]]
    else:
        convs = [
            [conv(a, 1), conv(b, 3, stride=2)],
            [conv(c, 1), conv(c, 1, 7), conv(c, 7, 1), conv(c, 3, stride=2)],
        ]
    return [(convs[0], []), (convs[1], []), ([("max", 3, 2, 0)], [])]


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


def scaled(kind: str, w_out: int) -> tuple[int, ...]:
    """torchvision's widths of a `kind` module scaled to output w_out; the 1x1 takes the remainder."""
    widths, total = TORCHVISION[kind]
    w = [max(1, round(v * w_out / total)) for v in widths]
    w[0] = w_out - plan_width(0, module_plan(kind, (0, *w[1:])))
    return tuple(w)


def reduction_widths(kind: str, w_in: int, w_out: int) -> tuple[int, ...]:
    """Widths of a reduction that widens w_in to w_out, its two conv branches splitting the added
    channels as torchvision's do (Mixed_6a 384:96, reduce 2/3; Mixed_7a 320:192, reduce 3/5)."""
    added = w_out - w_in
    if kind == "b":
        w3 = max(1, round(added * 0.8))
        return (w3, max(1, round((added - w3) * 2 / 3)), added - w3)
    w3 = max(1, round(added * 0.625))
    return (max(1, round(w3 * 0.6)), w3, added - w3)


class Path(nn.Module):
    """One branch: its chain of convs and pools, then its side-by-side convs concatenated."""

    def __init__(self, w_in: int, chain: list[Conv | Pool], split: list[Conv]):
        super().__init__()
        layers: list[nn.Module] = []
        for op in chain:
            if isinstance(op[0], str):
                kind, k, stride, pad = op
                layers.append(nn.MaxPool2d(k, stride, pad) if kind == "max" else nn.AvgPool2d(k, stride, pad))
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


def stage_plans(w_in: int, w_out: int, stride: int, depth: int, p: dict[str, Any]) -> list[list[Branch]]:
    """The plans of a stage's modules: the reduction at stride 2, then `depth` modules."""
    kind, branches = p["module"], p["branches"]
    plans = []
    if stride == 2:
        red = "d" if kind == "e" else "b"
        widths = p["reduction"] or reduction_widths(red, w_in, w_out)
        plans.append(reduction_plan(red, tuple(widths)))
    for i in range(depth):
        if not branches:
            widths = scaled(kind, w_out)
        else:
            widths = branches[6 * i : 6 * i + 6] if len(branches) == 6 * depth else branches
        plans.append(module_plan(kind, tuple(widths)))
    return plans


def _widths(w_in: int, plans: list[list[Branch]]) -> list[int]:
    """Each module's input width, then the stage's output width."""
    out = [w_in]
    for plan in plans:
        out.append(plan_width(out[-1], plan))
    return out


def _check(w_in: int, w_out: int, stride: int, depth: int, **p: Any) -> list[tuple[str, str]]:
    branches, reduction = p["branches"], p["reduction"]
    if branches and len(branches) not in (6, 6 * depth):
        return [("branches", f"expected 6 ints or 6 per module ({6 * depth}), got {len(branches)}")]
    if reduction and len(reduction) != 3:
        return [("reduction", f"expected 3 ints, got {len(reduction)}")]
    if reduction and stride != 2:
        return [("reduction", "only a stride-2 stage opens with a reduction")]
    plans = stage_plans(w_in, w_out, stride, depth, p)
    flat = [c[0] for plan in plans for chain, split in plan for c in chain + split if isinstance(c[0], int)]
    if min(flat) < 1:
        return [
            ("", f"branch widths must all be >= 1 (from width {w_out} and input {w_in}); raise the width")
        ]
    widths = _widths(w_in, plans)
    if widths[-1] != w_out:
        return [("", f"width {w_out} must equal the last module's concatenated branches ({widths[-1]})")]
    return []


@register(
    "stage",
    "inception_v3",
    schema={
        "module": Param(
            str,
            "a",
            "module kind: a (35x35), c (17x17, 7x1/1x7), e (8x8, 1x3|3x1)",
            choices=MODULES,
            grid=MODULES,
        ),
        "branches": Param(
            int,
            (),
            "explicit module widths (1x1, reduce, out, double reduce, double out, pool proj), 6 shared "
            "or 6 per module; empty: torchvision's scaled to the width",
            low=1,
            is_list=True,
        ),
        "reduction": Param(
            int,
            (),
            "explicit widths of the stride-2 reduction (Mixed_6a: 3x3/2, reduce, 3x3/2; Mixed_7a: "
            "reduce, 3x3/2, 7x7); empty: it widens the input to the stage's width",
            low=1,
            is_list=True,
        ),
    },
    rules=(_check,),
    tags=("multibranch",),
)
class InceptionV3Stage(nn.Sequential):
    """Inception-v3 modules of one kind, opened at stride 2 by the matching grid reduction."""

    def __init__(self, w_in: int, w_out: int, stride: int, depth: int, **params: Any):
        plans = stage_plans(w_in, w_out, stride, depth, self.family.resolve(params))
        super().__init__(*(Module(w, plan) for w, plan in zip(_widths(w_in, plans), plans)))

    @classmethod
    def complexity(cls, cx: C.Cx, w_in: int, w_out: int, stride: int, depth: int, **params: Any) -> C.Cx:
        plans = stage_plans(w_in, w_out, stride, depth, cls.family.resolve(params))
        for w, plan in zip(_widths(w_in, plans), plans):
            Module.complexity(cx, w, plan)
        return cx


# torchvision's stem: 3x3/2 32, 3x3 32, 3x3 64 (padded), 3x3/2 max pool, 1x1 80, 3x3 to the width
STEM: list[Conv | Pool] = [
    conv(32, 3, stride=2),
    conv(32, 3, valid=True),
    conv(64, 3),
    ("max", 3, 2, 0),
    conv(80, 1),
]


@register("stem", "inception_v3")
class InceptionV3Stem(Path):
    """3x3/2, 3x3, 3x3 convs, 3x3/2 max pool, 1x1 and unpadded 3x3 convs, 3x3/2 max pool: 299 to 35."""

    def __init__(self, c_in: int, w_out: int, **params: Any):
        self.family.resolve(params)  # refuses any parameter: this stem has none
        super().__init__(c_in, [*STEM, conv(w_out, 3, valid=True), ("max", 3, 2, 0)], [])

    @classmethod
    def complexity(cls, cx: C.Cx, c_in: int, w_out: int, **params: Any) -> C.Cx:
        cls.family.resolve(params)
        return Path.complexity(cx, c_in, [*STEM, conv(w_out, 3, valid=True), ("max", 3, 2, 0)], [])

"""Inception-v3 family (Szegedy et al. 2016) as torchvision builds it, and its stem.

A stage holds `depth` modules of one kind: "a" (35x35 grid: 1x1, 5x5, double 3x3, pool), "c"
(17x17: 1x1, 1x7-7x1, double 7x1-1x7, pool) or "e" (8x8: 1x1, 1x3|3x1, 3x3 then 1x3|3x1, pool),
average pools counting their padding as torchvision's do. At stride 2 a reduction opens the
stage: Mixed_6a (3x3/2; 1x1, 3x3, 3x3/2; max pool) before "a" and "c" modules, Mixed_7a (1x1,
3x3/2; 1x1, 1x7, 7x1, 3x3/2; max pool) before "e". See `blocks.branches` for the machinery.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from blocks import cx as C
from blocks.branches import Branch, Conv, Grid, Module, Path, Pool, conv, grid_errors, inputs, stage_plans
from blocks.inception import ConvUnit
from blocks.registry import register
from blocks.schema import Param


def _module(kind: str, widths: tuple[int, ...]) -> list[Branch]:
    """Module `kind` from (1x1, reduce, out, double reduce, double out, pool proj); "e" outputs its
    out and double out twice, as 1x3 and 3x1 side by side."""
    w1, r, w, rd, wd, wp = widths
    pool: list[Conv | Pool] = [("avg", 3, 1, 1), conv(wp, 1)]
    if kind == "a":
        double = [conv(rd, 1), conv(wd, 3), conv(wd, 3)]
        return [([conv(w1, 1)], []), ([conv(r, 1), conv(w, 5)], []), (double, []), (pool, [])]
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


def _mixed_6a(widths: tuple[int, ...]) -> list[Branch]:
    """(3x3/2, double reduce, double out): 3x3/2; 1x1, 3x3, 3x3/2; 3x3/2 max pool."""
    w, rd, wd = widths
    return [
        ([conv(w, 3, stride=2)], []),
        ([conv(rd, 1), conv(wd, 3), conv(wd, 3, stride=2)], []),
        ([("max", 3, 2, 0)], []),
    ]


def _mixed_7a(widths: tuple[int, ...]) -> list[Branch]:
    """(reduce, 3x3/2, 7x7 width): 1x1, 3x3/2; 1x1, 1x7, 7x1, 3x3/2; 3x3/2 max pool."""
    r, w, w7 = widths
    seven = [conv(w7, 1), conv(w7, 1, 7), conv(w7, 7, 1), conv(w7, 3, stride=2)]
    return [([conv(r, 1), conv(w, 3, stride=2)], []), (seven, []), ([("max", 3, 2, 0)], [])]


MODULES = ("a", "c", "e")
V3 = Grid(
    modules={
        kind: (widths, lambda w, kind=kind: _module(kind, w))
        for kind, widths in (
            ("a", (64, 48, 64, 64, 96, 64)),  # Mixed_5c: 288 out
            ("c", (192, 160, 192, 160, 192, 192)),  # Mixed_6c: 768
            ("e", (320, 384, 384, 448, 384, 192)),  # Mixed_7b: 2048
        )
    },
    reductions={"6a": ((384, 64, 96), _mixed_6a, 0), "7a": ((192, 320, 192), _mixed_7a, 1)},
    opens={"a": "6a", "c": "6a", "e": "7a"},
)


class AuxClassifier(nn.Module):
    """torchvision's InceptionAux: 5x5/3 average pool, 1x1 conv to 128, 5x5 conv (unpadded) to 768,
    global average pool and a linear layer. Only training runs it (its loss weighs AUX_WEIGHT), so
    it adds parameters to a network's count but no FLOPs or activations to its (eval) cost."""

    def __init__(self, w_in: int, classes: int):
        super().__init__()
        self.pool = nn.AvgPool2d(5, stride=3)
        self.conv0 = ConvUnit(w_in, 128, (1, 1), True)
        self.conv1 = ConvUnit(128, 768, (5, 5), True, valid=True)
        self.fc = nn.Linear(768, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(self.conv0(self.pool(x)))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))

    @staticmethod
    def complexity(cx: C.Cx, w_in: int, classes: int) -> C.Cx:
        """Its parameters only (evaluation never runs it); its maps still shrink `cx.smallest`, so
        a stage output too small for its 5x5/3 pool and unpadded 5x5 conv is refused."""
        h, w, flops, acts = cx.h, cx.w, cx.flops, cx.acts
        C.pool2d(cx, 5, stride=3, padding=0)
        C.conv2d(cx, w_in, 128, 1, bias=False)
        C.norm(cx, 128)
        C.conv2d(cx, 128, 768, 5, padding=0, bias=False)
        C.norm(cx, 768)
        C.linear(cx, 768, classes)
        cx.h, cx.w, cx.flops, cx.acts = h, w, flops, acts
        return cx


def grid_schema(modules: tuple[str, ...], doc: str, widths: str, reductions: str) -> dict[str, Param]:
    """The parameters of a grid family: module kind, explicit module widths, explicit reduction widths."""
    return {
        "module": Param(str, modules[0], doc, choices=modules, grid=modules),
        "branches": Param(
            int,
            (),
            f"explicit module widths ({widths}), one set shared or one per module; empty: the "
            "reference widths scaled to the stage's width",
            low=1,
            is_list=True,
        ),
        "reduction": Param(
            int,
            (),
            f"explicit widths of the stride-2 reduction ({reductions}); empty: it widens the input to the stage's width",
            low=1,
            is_list=True,
        ),
    }


def _check(**p: Any) -> list[tuple[str, str]]:
    return grid_errors(V3, p.pop("w_in"), p.pop("w_out"), p.pop("stride"), p.pop("depth"), p)


@register(
    "stage",
    "inception_v3",
    schema={
        **grid_schema(
            MODULES,
            "module kind: a (35x35), c (17x17, 7x1/1x7), e (8x8, 1x3|3x1)",
            "1x1, reduce, out, double reduce, double out, pool proj",
            "Mixed_6a: 3x3/2, reduce, 3x3/2; Mixed_7a: reduce, 3x3/2, 7x7",
        ),
        "aux_classes": Param(
            int,
            0,
            "classes of an auxiliary classifier on the stage's output, trained beside the main head "
            "(torchvision's AuxLogits on Mixed_6e; 0: none)",
            low=0,
            high=1_000_000,
            grid=(0,),
        ),
    },
    rules=(_check,),
    tags=("multibranch",),
)
class InceptionV3Stage(nn.Sequential):
    """Inception-v3 modules of one kind, opened at stride 2 by the matching grid reduction."""

    def __init__(self, w_in: int, w_out: int, stride: int, depth: int, **params: Any):
        params = self.family.resolve(params)
        classes = params.pop("aux_classes")
        plans = stage_plans(V3, w_in, w_out, stride, depth, params)
        super().__init__(*(Module(w, plan) for w, plan in zip(inputs(w_in, plans), plans)))
        if classes:
            self.aux = AuxClassifier(w_out, classes)  # run by Network in training, not here

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name, module in self.named_children():
            if name != "aux":
                x = module(x)
        return x

    @classmethod
    def complexity(cls, cx: C.Cx, w_in: int, w_out: int, stride: int, depth: int, **params: Any) -> C.Cx:
        params = cls.family.resolve(params)
        classes = params.pop("aux_classes")
        plans = stage_plans(V3, w_in, w_out, stride, depth, params)
        for w, plan in zip(inputs(w_in, plans), plans):
            Module.complexity(cx, w, plan)
        return AuxClassifier.complexity(cx, w_out, classes) if classes else cx


def stem_chain(w_out: int) -> list[Conv | Pool]:
    """torchvision's stem: 3x3/2 32, 3x3 32, padded 3x3 64, 3x3/2 max pool, 1x1 80, 3x3 to
    w_out, 3x3/2 max pool (299 to 35); Inception-ResNet-v2's begins so too."""
    return [
        conv(32, 3, stride=2),
        conv(32, 3, valid=True),
        conv(64, 3),
        ("max", 3, 2, 0),
        conv(80, 1),
        conv(w_out, 3, valid=True),
        ("max", 3, 2, 0),
    ]


@register("stem", "inception_v3")
class InceptionV3Stem(Path):
    """3x3/2, 3x3 and 3x3 convs, 3x3/2 max pool, 1x1 and unpadded 3x3 convs, 3x3/2 max pool."""

    def __init__(self, c_in: int, w_out: int, **params: Any):
        self.family.resolve(params)  # refuses any parameter: this stem has none
        super().__init__(c_in, stem_chain(w_out), [])

    @classmethod
    def complexity(cls, cx: C.Cx, c_in: int, w_out: int, **params: Any) -> C.Cx:
        cls.family.resolve(params)  # refuses any parameter: this stem has none
        return Path.complexity(cx, c_in, stem_chain(w_out), [])

"""Inception-v4 family (Szegedy et al. 2017) as timm builds it, and its stem.

A stage holds `depth` modules of one kind, Inception-A (35x35: 1x1, 3x3, double 3x3, pool),
-B (17x17: 1x1, 1x7-7x1, double 7x1-1x7, pool) or -C (8x8: 1x1, 1x3|3x1, 3x1-1x3 then 1x3|3x1,
pool), average pools leaving their padding out of the mean. At stride 2 Reduction-A (3x3/2;
1x1, 3x3, 3x3/2; max pool) opens A and B stages, Reduction-B (1x1, 3x3/2; 1x1, 1x7, 7x1, 3x3/2;
max pool) C stages. See `blocks.branches` for the machinery.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from blocks import cx as C
from blocks.branches import Branch, Conv, Grid, Module, Pool, conv, grid_errors, inputs, stage_plans
from blocks.inception_v3 import grid_schema
from blocks.registry import register

_POOL = ("avg_excl", 3, 1, 1)


def _a(widths: tuple[int, ...]) -> list[Branch]:
    """(1x1, reduce, 3x3, double reduce, double 3x3, pool proj)."""
    w0, r1, w1, r2, w2, wp = widths
    double = [conv(r2, 1), conv(w2, 3), conv(w2, 3)]
    return [([conv(w0, 1)], []), ([conv(r1, 1), conv(w1, 3)], []), (double, []), ([_POOL, conv(wp, 1)], [])]


def _b(widths: tuple[int, ...]) -> list[Branch]:
    """(1x1, reduce, 1x7, 7x1, double reduce, double middle, double out, pool proj)."""
    w0, r1, m1, w1, r2, m2, w2, wp = widths
    double = [conv(r2, 1), conv(r2, 7, 1), conv(m2, 1, 7), conv(m2, 7, 1), conv(w2, 1, 7)]
    seven = [conv(r1, 1), conv(m1, 1, 7), conv(w1, 7, 1)]
    return [([conv(w0, 1)], []), (seven, []), (double, []), ([_POOL, conv(wp, 1)], [])]


def _c(widths: tuple[int, ...]) -> list[Branch]:
    """(1x1, reduce, 1x3|3x1, double reduce, 3x1, 1x3, double 1x3|3x1, pool proj)."""
    w0, r1, w1, r2, m2, n2, w2, wp = widths
    return [
        ([conv(w0, 1)], []),
        ([conv(r1, 1)], [conv(w1, 1, 3), conv(w1, 3, 1)]),
        ([conv(r2, 1), conv(m2, 3, 1), conv(n2, 1, 3)], [conv(w2, 1, 3), conv(w2, 3, 1)]),
        ([_POOL, conv(wp, 1)], []),
    ]


def reduction_a(widths: tuple[int, ...]) -> list[Branch]:
    """(3x3/2, reduce, 3x3, 3x3/2): 3x3/2; 1x1, 3x3, 3x3/2; 3x3/2 max pool (Inception-ResNet's too)."""
    w0, r1, m1, w1 = widths
    return [
        ([conv(w0, 3, stride=2)], []),
        ([conv(r1, 1), conv(m1, 3), conv(w1, 3, stride=2)], []),
        ([("max", 3, 2, 0)], []),
    ]


def _reduction_b(widths: tuple[int, ...]) -> list[Branch]:
    """(reduce, 3x3/2, 7x7 reduce, 7x7 out): 1x1, 3x3/2; 1x1, 1x7, 7x1, 3x3/2; 3x3/2 max pool."""
    r0, w0, r1, w1 = widths
    seven = [conv(r1, 1), conv(r1, 1, 7), conv(w1, 7, 1), conv(w1, 3, stride=2)]
    return [([conv(r0, 1), conv(w0, 3, stride=2)], []), (seven, []), ([("max", 3, 2, 0)], [])]


MODULES = ("a", "b", "c")
V4 = Grid(
    modules={
        "a": ((96, 64, 96, 64, 96, 96), _a),  # 384 out
        "b": ((384, 192, 224, 256, 192, 224, 256, 128), _b),  # 1024
        "c": ((256, 384, 256, 384, 448, 512, 256, 256), _c),  # 1536
    },
    reductions={"a": ((384, 192, 224, 256), reduction_a, 0), "b": ((192, 192, 256, 320), _reduction_b, 1)},
    opens={"a": "a", "b": "a", "c": "b"},
)


def _check(**p: Any) -> list[tuple[str, str]]:
    return grid_errors(V4, p.pop("w_in"), p.pop("w_out"), p.pop("stride"), p.pop("depth"), p)


@register(
    "stage",
    "inception_v4",
    schema=grid_schema(
        MODULES,
        "module kind: Inception-A (35x35), -B (17x17, 7x1/1x7), -C (8x8, 1x3|3x1)",
        "A: 1x1, reduce, 3x3, double reduce, double 3x3, pool proj; B: 1x1, reduce, 1x7, 7x1, double "
        "reduce, double middle, double out, pool proj; C: 1x1, reduce, 1x3|3x1, double reduce, 3x1, 1x3, "
        "double 1x3|3x1, pool proj",
        "Reduction-A: 3x3/2, reduce, 3x3, 3x3/2; Reduction-B: reduce, 3x3/2, 7x7 reduce, 7x7 out",
    ),
    rules=(_check,),
    tags=("multibranch",),
)
class InceptionV4Stage(nn.Sequential):
    """Inception-v4 modules of one kind, opened at stride 2 by Reduction-A (A, B) or -B (C)."""

    def __init__(self, w_in: int, w_out: int, stride: int, depth: int, **params: Any):
        plans = stage_plans(V4, w_in, w_out, stride, depth, self.family.resolve(params))
        super().__init__(*(Module(w, plan) for w, plan in zip(inputs(w_in, plans), plans)))

    @classmethod
    def complexity(cls, cx: C.Cx, w_in: int, w_out: int, stride: int, depth: int, **params: Any) -> C.Cx:
        plans = stage_plans(V4, w_in, w_out, stride, depth, cls.family.resolve(params))
        for w, plan in zip(inputs(w_in, plans), plans):
            Module.complexity(cx, w, plan)
        return cx


def stem_plans(w_out: int) -> list[list[Branch]]:
    """The stem as modules: three convs (3x3/2 32, 3x3 32, padded 3x3 64), then Mixed3a (3x3/2 max
    pool | 3x3/2 conv 96), Mixed4a (1x1, 3x3 | 1x1, 1x7, 7x1, 3x3; each w_out/4 wide) and
    Mixed5a (3x3/2 conv | 3x3/2 max pool) to w_out: 384 at 35x35 from 299."""
    quarter = w_out // 4
    convs: list[Conv | Pool] = [conv(32, 3, stride=2), conv(32, 3, valid=True), conv(64, 3)]
    return [
        [(convs, [])],
        [([("max", 3, 2, 0)], []), ([conv(96, 3, stride=2)], [])],
        [
            ([conv(64, 1), conv(quarter, 3, valid=True)], []),
            ([conv(64, 1), conv(64, 1, 7), conv(64, 7, 1), conv(quarter, 3, valid=True)], []),
        ],
        [([conv(w_out - 2 * quarter, 3, stride=2)], []), ([("max", 3, 2, 0)], [])],
    ]


def _check_stem(w_out: int, **_: Any) -> list[tuple[str, str]]:
    return (
        []
        if w_out >= 4
        else [("", f"width {w_out}: Mixed4a's branches are a quarter of it each, so it must be >= 4")]
    )


@register("stem", "inception_v4", rules=(_check_stem,))
class InceptionV4Stem(nn.Sequential):
    """Three convs, then Mixed3a, Mixed4a and Mixed5a, each two branches concatenated (299 to 35)."""

    def __init__(self, c_in: int, w_out: int, **params: Any):
        self.family.resolve(params)  # refuses any parameter: this stem has none
        plans = stem_plans(w_out)
        super().__init__(*(Module(w, plan) for w, plan in zip(inputs(c_in, plans), plans)))

    @classmethod
    def complexity(cls, cx: C.Cx, c_in: int, w_out: int, **params: Any) -> C.Cx:
        cls.family.resolve(params)  # refuses any parameter: this stem has none
        plans = stem_plans(w_out)
        for w, plan in zip(inputs(c_in, plans), plans):
            Module.complexity(cx, w, plan)
        return cx

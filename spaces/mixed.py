"""`mixed`: each stage draws its block family, then that family's parameters from its schema.

Parameters with legal choices in the schema are drawn from those choices; numeric ones
are drawn from the sampling grids below (a schema's legal range is what a block accepts,
not what is worth sampling), which the `grids` option overrides per "family.param".
Anything else keeps the schema default. Combinations a family refuses are redrawn.
"""

from __future__ import annotations

from typing import Any

from blocks import registry
from blocks.schema import Param
from blocks.spec import StageSpec
from spaces.base import Context, Space, make_spec
from spaces.draw import Draw
from spaces.hdc import schedules
from spaces.registry import register

GRIDS: dict[str, dict[str, list]] = {
    "res_bottleneck_x": {"bottleneck_ratio": [1.0, 2.0, 4.0], "group_width": [1, 2, 4, 8, 16, 32]},
    "res_bottleneck_y": {
        "bottleneck_ratio": [1.0, 2.0, 4.0],
        "group_width": [1, 2, 4, 8, 16, 32],
        "se_ratio": [0.25],
    },
    "mbconv": {"expand_ratio": [1.0, 3.0, 6.0], "se_ratio": [0.0, 0.25]},
    "inception": {"ratio_3x3": [0.25, 0.375, 0.5], "ratio_5x5": [0.125, 0.25], "ratio_pool": [0.125, 0.25]},
    "dense": {"growth_rate": [8, 12, 16, 32], "bn_size": [2, 4]},
    "swin": {"window_size": [2, 4, 7], "head_dim": [8, 16, 32], "mlp_ratio": [2.0, 4.0]},
    "swin_mlp": {"window_size": [2, 4, 7], "head_dim": [8, 16, 32], "mlp_ratio": [2.0, 4.0]},
    "vit": {"head_dim": [8, 16, 32], "mlp_ratio": [2.0, 4.0]},
    "shift_mlp": {"mlp_ratio": [1.0, 2.0]},
}
FIXED = {"drop_path", "branches", "class_token", "qkv_bias", "norm", "dilations", "pos_grid"}

OPTIONS = {
    "stages": Param(int, 4, "number of stages", low=1, high=8),
    "families": Param(
        str, sorted(GRIDS) + ["hdc_dilated", "res_basic"], "families a stage may use", is_list=True
    ),
    "max_depth": Param(int, 4, "d_i in 1..max_depth", low=1, high=64),
    "min_width": Param(int, 8, "smallest w_i", low=1, high=4096),
    "max_width": Param(int, 256, "largest w_i", low=1, high=4096),
    "width_step": Param(int, 8, "w_i is a multiple of this", low=1, high=512),
    "strides": Param(
        int, [2, 2, 2, 2], "stride of each stage (2 beyond the list)", is_list=True, choices=(1, 2)
    ),
    "grids": Param(dict, {}, "sampling grid per 'family.param', e.g. {'mbconv.kernel': [3, 5]}"),
    "schedule_length": Param(int, 3, "rates per hdc_dilated schedule (hole-free ones only)", low=1, high=8),
    "max_rate": Param(int, 9, "largest dilation rate drawn", low=1, high=64),
}


def _check(opt: dict[str, Any]) -> list[tuple[str, str]]:
    stage_names = registry.names("stage")
    out = [
        ("families", f"unknown family '{f}'; legal: {stage_names}")
        for f in opt["families"]
        if f not in stage_names
    ]
    if not opt["families"]:
        out.append(("families", "expected at least one family"))
    for key, values in opt["grids"].items():
        fam, _, param = key.partition(".")
        if fam not in stage_names or param not in registry.get("stage", fam).schema:
            out.append(
                (
                    f"grids.{key}",
                    "expected 'family.param' naming a parameter of a stage family (`nas blocks`)",
                )
            )
        elif not isinstance(values, list) or not values:
            out.append((f"grids.{key}", f"expected a non-empty list of values, got {values!r}"))
        else:
            bad = [v for v in values if registry.get("stage", fam).schema[param].check(v)]
            if bad:
                why = registry.get("stage", fam).schema[param].check(bad[0])
                out.append((f"grids.{key}", why))
    return out


def grid(opt: dict[str, Any], family: str, name: str, param: Param) -> list | None:
    """Values a parameter is drawn from, or None to keep its default."""
    override = opt["grids"].get(f"{family}.{name}")
    if override is not None:
        return list(override)
    if name in FIXED:
        return None
    if name in GRIDS.get(family, {}):
        return GRIDS[family][name]
    return list(param.choices) if param.choices is not None else None


def define(draw: Draw, opt: dict[str, Any], ctx: Context):
    """Per stage: family, depth, width, then the family's parameters."""
    n, step = opt["stages"], opt["width_step"]
    lo_w = max(step, -(-opt["min_width"] // step) * step)
    hi_w = opt["max_width"] // step * step
    strides = (list(opt["strides"]) + [2] * n)[:n]
    stages = []
    for i in range(n):
        tag = f"s{i + 1}"
        family = draw.choice(f"{tag}_family", opt["families"])
        depth = draw.int(f"{tag}_d", 1, opt["max_depth"])
        width = draw.int(f"{tag}_w", lo_w, hi_w, step=step)
        params: dict[str, Any] = {}
        for name, param in registry.get("stage", family).schema.items():
            values = grid(opt, family, name, param)
            if values is not None:
                params[name] = draw.choice(f"{tag}_{family}_{name}", values)
        if family == "hdc_dilated" and "hdc_dilated.dilations" not in opt["grids"]:
            legal = schedules({"schedules": [], **opt})
            params["dilations"] = [int(r) for r in draw.choice(f"{tag}_dilations", legal).split(",")]
        stages.append(StageSpec(family, depth, width, strides[i], params))
    return make_spec(ctx, stages)


register(
    Space(
        "mixed",
        "Mixed: every stage draws its block family and that family's parameters",
        define,
        OPTIONS,
        "mixed",
        _check,
    )
)

"""`mixed`: each stage draws its block family, then that family's parameters, all read from the
block registry.

A parameter is drawn from the `grid` its family declares (a legal range is what a block
accepts, not what is worth sampling) or by the family's own sampler where the grid must be
computed (hdc_dilated's hole-free schedules); the `grids` option overrides either per
"family.param". Anything else keeps its default. Combinations a family refuses, and specs
whose maps shrink away, are redrawn. The option defaults (families, grids, the samplers'
options) are read from the registry when the space is built; the draw reads each family's
declaration as it is then, so a family registered later (a test's throwaway one) can be
drawn by naming it in `families`.
"""

from __future__ import annotations

from typing import Any

from blocks import library
from blocks.schema import Param
from blocks.spec import StageSpec
from spaces.base import Context, Law, Space, make_spec, stage_strides, strides_option
from spaces.draw import Draw
from spaces.registry import register


def declared_grids() -> dict[str, list]:
    """Every stage family's declared sampling grids, as the `grids` option spells them."""
    return {
        f"{fam.name}.{name}": list(param.grid)
        for fam in library.families("stage")
        for name, param in fam.schema.items()
        if param.grid is not None
    }


def default_families() -> list[str]:
    """Families with declared grids, then the rest, each sorted: the order seeds have drawn from."""
    names = {f.name for f in library.families("stage")}
    gridded = sorted({key.partition(".")[0] for key in declared_grids()})
    return gridded + sorted(names - set(gridded))


def options() -> dict[str, Param]:
    """The space's options: its own, then what the families' samplers read."""
    return {
        "stages": Param(int, 4, "number of stages", low=1, high=8),
        "families": Param(str, default_families(), "families a stage may use", is_list=True),
        "max_depth": Param(int, 4, "d_i in 1..max_depth", low=1, high=64),
        "min_width": Param(int, 8, "smallest w_i", low=1, high=4096),
        "max_width": Param(int, 256, "largest w_i", low=1, high=4096),
        "width_step": Param(int, 8, "w_i is a multiple of this", low=1, high=512),
        "strides": strides_option(),
        "grids": Param(
            dict,
            declared_grids(),
            "sampling grid per 'family.param' (the families' own unless given here), e.g. "
            "{'mbconv.kernel': [3, 5]}",
        ),
        **{k: p for fam in library.families("stage") for k, p in fam.sampling.items()},
    }


def _check(opt: dict[str, Any]) -> list[tuple[str, str]]:
    stage_names = library.names("stage")
    out = [
        ("families", f"unknown family '{f}'; legal: {stage_names}")
        for f in opt["families"]
        if f not in stage_names
    ]
    if not opt["families"]:
        out.append(("families", "expected at least one family"))
    for key, values in opt["grids"].items():
        fam, _, param = key.partition(".")
        if fam not in stage_names or param not in library.get("stage", fam).schema:
            out.append(
                (
                    f"grids.{key}",
                    "expected 'family.param' naming a parameter of a stage family (`nas blocks`)",
                )
            )
        elif not isinstance(values, list) or not values:
            out.append((f"grids.{key}", f"expected a non-empty list of values, got {values!r}"))
        else:
            bad = [v for v in values if library.get("stage", fam).schema[param].check(v)]
            if bad:
                why = library.get("stage", fam).schema[param].check(bad[0])
                out.append((f"grids.{key}", why))
    return out


def draw_params(draw: Draw, opt: dict[str, Any], tag: str, family: str) -> dict[str, Any]:
    """A stage's family parameters, in the order its schema declares them."""
    fam = library.get("stage", family)
    # a family registered after the space was built samples with its options' defaults
    sampling = {k: opt.get(k, p.default) for k, p in fam.sampling.items()}
    params: dict[str, Any] = {}
    for name, param in fam.schema.items():
        values = opt["grids"].get(f"{family}.{name}")
        if values is None and name in fam.samplers:
            params[name] = fam.samplers[name](draw, tag, sampling)
            continue
        values = param.grid if values is None else values
        if values is not None:
            params[name] = draw.choice(f"{tag}_{family}_{name}", values)
    return params


def define(draw: Draw, opt: dict[str, Any], ctx: Context):
    """Per stage: family, depth, width, then the family's parameters."""
    n, step = opt["stages"], opt["width_step"]
    lo_w = max(step, -(-opt["min_width"] // step) * step)
    hi_w = opt["max_width"] // step * step
    strides = stage_strides(opt["strides"], n)
    stages = []
    for i in range(n):
        tag = f"s{i + 1}"
        family = draw.choice(f"{tag}_family", opt["families"])
        depth = draw.int(f"{tag}_d", 1, opt["max_depth"])
        width = draw.int(f"{tag}_w", lo_w, hi_w, step=step)
        stages.append(StageSpec(family, depth, width, strides[i], draw_params(draw, opt, tag, family)))
    return make_spec(ctx, stages)


# this project's own space (no paper samples it), so every law is plain uniform
LAWS = (
    Law("family_i", "uniform on the grid", "families", "this project"),
    Law("d_i", "uniform", "1..max_depth", "this project"),
    Law("w_i", "uniform on the grid", "min_width..max_width, multiples of width_step", "this project"),
    Law("family params", "uniform on the grid", "grids (the families' declared grids)", "this project"),
)

register(
    Space(
        "mixed",
        "Mixed: every stage draws its block family and that family's parameters",
        define,
        options(),
        "mixed",
        _check,
        laws=LAWS,
    )
)

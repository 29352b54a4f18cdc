"""`hdc_resnet`: a dilated residual backbone (as in DeepLab-style segmentation nets) whose last
stages keep resolution and use hybrid dilated convolution schedules.

Only hole-free schedules are ever drawn: either from the user's `schedules` (each checked
at load, holes named) or from every non-decreasing hole-free schedule of `schedule_length`
rates up to `max_rate` (blocks.gridding.hole_free_schedules).
"""

from __future__ import annotations

from typing import Any

from blocks.dilated import parse_choice, schedule_choices
from blocks.gridding import check_schedule, hole_free_schedules
from blocks.schema import Param
from blocks.spec import StageSpec
from spaces.base import Context, Law, Space, make_spec
from spaces.draw import Draw
from spaces.registry import register

OPTIONS = {
    "stages": Param(int, 4, "number of stages", low=2, high=8),
    "dilated_stages": Param(int, 2, "how many of the last stages are dilated (stride 1)", low=1, high=7),
    "max_depth": Param(int, 4, "units per stage in 1..max_depth", low=1, high=32),
    "min_width": Param(int, 16, "smallest stage width", low=1, high=4096),
    "max_width": Param(int, 256, "largest stage width", low=1, high=4096),
    "width_step": Param(int, 8, "widths are multiples of this", low=1, high=512),
    "schedule_length": Param(int, 3, "rates per drawn schedule", low=1, high=8),
    "max_rate": Param(int, 9, "largest rate a drawn schedule may use", low=1, high=64),
    "schedules": Param(list, [], "explicit schedules to draw from (each must be hole-free)", is_list=True),
}


def _check(opt: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    if opt["dilated_stages"] >= opt["stages"]:
        out.append(("dilated_stages", f"must be below stages ({opt['stages']}): the first stage downsamples"))
    for i, sched in enumerate(opt["schedules"]):
        if not sched or not all(isinstance(r, int) and not isinstance(r, bool) and r >= 1 for r in sched):
            out.append((f"schedules[{i}]", f"expected a list of positive int rates, got {sched!r}"))
            continue
        out.extend((f"schedules[{i}]", msg) for msg in check_schedule(sched, 3))
    return out


def schedules(opt: dict[str, Any]) -> list[str]:
    """The legal schedules as 'r1,r2,...' strings (categorical values Optuna can store)."""
    return schedule_choices(
        opt["schedules"] or hole_free_schedules(opt["schedule_length"], 3, opt["max_rate"])
    )


def define(draw: Draw, opt: dict[str, Any], ctx: Context):
    """Plain residual stages that downsample, then dilated stages at constant resolution."""
    n, k, step = opt["stages"], opt["dilated_stages"], opt["width_step"]
    lo_w = max(step, -(-opt["min_width"] // step) * step)
    hi_w = opt["max_width"] // step * step
    legal = schedules(opt)
    stages = []
    for i in range(n):
        depth = draw.int(f"d{i + 1}", 1, opt["max_depth"])
        width = draw.int(f"w{i + 1}", lo_w, hi_w, step=step)
        if i < n - k:
            stages.append(StageSpec("res_basic", depth, width, 1 if i == 0 else 2, {}))
        else:
            sched = parse_choice(draw.choice(f"schedule{i + 1}", legal))
            stages.append(StageSpec("hdc_dilated", depth, width, 1, {"dilations": sched}))
    return make_spec(ctx, stages)


# this project's own space (no paper samples it), so every law is plain uniform
LAWS = (
    Law("d_i", "uniform", "1..max_depth", "this project"),
    Law("w_i", "uniform on the grid", "min_width..max_width, multiples of width_step", "this project"),
    Law(
        "schedule_i",
        "uniform on the grid",
        "`schedules`, else every hole-free schedule of schedule_length rates <= max_rate",
        "Wang et al. 2018 (HDC) for what is hole-free",
    ),
)

register(
    Space(
        "hdc_resnet",
        "HDC ResNet: downsampling residual stages, then dilated stages with hole-free schedules",
        define,
        OPTIONS,
        "hdc",
        _check,
        laws=LAWS,
    )
)

"""Planning a sweep: validate the experiment against the registry and the spaces, sample each
space's specs (sample mode) and write each run's experiment and plan files before Ray starts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from blocks.errors import UserError
from nas.config import Experiment
from nas.sweeping import store
from nas.sweeping.records import PlanEntry
from nas.training import datasets as datamod
from spaces import Context, Space, get, sample


def context(exp: Experiment, data: datamod.Dataset) -> Context:
    """The fixed parts of every spec: the dataset's input and classes, the experiment's stem and
    head (checked against the registry when the experiment was read)."""
    return Context(data.input_shape, data.num_classes, exp.model.stem, dict(exp.model.head))


def space_options(exp: Experiment, index: int) -> tuple[Space, dict[str, Any]]:
    """The space of `exp.spaces[index]` and its validated options; errors name file and field."""
    sc = exp.spaces[index]
    where = "space" if len(exp.spaces) == 1 else f"spaces[{index}]"
    try:
        space = get(sc.name)
    except UserError as err:
        raise UserError(f"{exp.source}: {where}.name: {err}") from None
    return space, space.resolve(sc.options, where=f"{exp.source}: {where}.options")


def plan_space(exp: Experiment, index: int, ctx: Context) -> list[PlanEntry]:
    """Sample the experiment's specs for one space: one entry per trial index."""
    space, options = space_options(exp, index)
    try:
        samples = sample(space, exp.samples, exp.seed, ctx=ctx, options=options, limits=exp.constraints)
    except UserError as err:
        raise UserError(f"{exp.source}: constraints: {err}") from None
    return [PlanEntry.drawn(i, space.name, exp.seed, s) for i, s in enumerate(samples)]


def prepare(exp: Experiment, out: Path, data: datamod.Dataset) -> list[Run]:
    """Sample every space (sample mode) and write each run's experiment and plan files."""
    ctx = context(exp, data)
    optimize = exp.search.mode == "optimize"
    if optimize:
        for i in range(len(exp.spaces)):
            space_options(exp, i)  # validate now; Optuna draws later
        plans = [[] for _ in exp.spaces]
    else:
        plans = [plan_space(exp, i, ctx) for i in range(len(exp.spaces))]
    runs = []
    for sc, plan in zip(exp.spaces, plans, strict=True):
        run_dir = out / sc.name
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / store.EXPERIMENT).write_text(yaml.safe_dump(exp.to_dict(), sort_keys=False))
        with open(run_dir / store.PLAN, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(p.to_dict(), sort_keys=True) + "\n" for p in plan)
        if optimize:
            runs.append(SearchRun(sc.name, run_dir, exp.samples, 0))
        else:
            runs.append(SampleRun(sc.name, run_dir, plan, [p.trial_index for p in plan]))
    return runs


def resume_runs(out: Path, exp: Experiment) -> list[Run]:
    """Re-read the runs under a sweep folder: what is planned or asked and has no row yet."""
    runs = []
    for run_dir in store.find_runs([str(out)]):
        plan = store.plan_entries(run_dir)
        rows = store.rows(run_dir)
        done = {r["trial_index"] for r in rows}
        space = plan[0].space if plan else run_dir.name
        if exp.search.mode == "optimize":
            runs.append(SearchRun(space, run_dir, max(0, exp.samples - len(rows)), max(done, default=-1) + 1))
        else:
            runs.append(
                SampleRun(space, run_dir, plan, [p.trial_index for p in plan if p.trial_index not in done])
            )
    return runs


@dataclass
class Run:
    """One design space of a sweep and the folder its files go to."""

    space: str
    dir: Path


@dataclass
class SampleRun(Run):
    """A run of specs sampled before it starts (sample mode): its plan and the indices with no row yet."""

    plan: list[PlanEntry]
    pending: list[int]

    @property
    def todo(self) -> int:
        """Trials still to run."""
        return len(self.pending)


@dataclass
class SearchRun(Run):
    """A run whose specs Optuna draws as it goes (optimize mode): trials left and the next index."""

    remaining: int
    next_index: int

    @property
    def todo(self) -> int:
        """Trials still to run."""
        return self.remaining

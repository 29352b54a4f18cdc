"""Planning a sweep: validate the experiment against the registry and the spaces, sample each
space's specs (sample mode) and write each run's experiment and plan files before Ray starts.

Each run also keeps `planned.json`, the experiment exactly as planned, written once. Resuming
compares the run's `experiment.yaml` (and an experiment file given with `--resume`) with it and
refuses any change but `resources`, which may differ between the machines that finish a sweep."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from blocks.complexity import complexity
from blocks.errors import ArgError, SpecError, UserError, literal
from blocks.segment import segment
from nas import config as cfgmod
from nas.config import Experiment, Segmentation
from nas.outputs import unlinked
from nas.records import store
from nas.records.rows import PlanEntry
from nas.sweeping import compare, interrupts, memory
from nas.training import datasets as datamod
from spaces import Context, Sample, Space, get, sample

PLANNED = "planned.json"
FREE_TO_CHANGE = ("resources",)  # fields a resumed sweep may take from an edited experiment


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


def plan_space(exp: Experiment, index: int, ctx: Context, n: int | None = None) -> list[PlanEntry]:
    """Sample the experiment's specs for one space: one entry per trial index (`n`, by default
    its samples); an impossible constraint is refused as soon as the draws show it."""
    space, options = space_options(exp, index)
    try:
        samples = sample(
            space,
            n or exp.samples,
            exp.seed,
            ctx=ctx,
            options=options,
            limits=memory.fits(exp),
            dedupe=exp.dedupe,
        )
    except UserError as err:
        raise UserError(f"{exp.source}: constraints: {err}") from None
    seg = cfgmod.space_segmentation(exp, index)
    if seg is not None:
        try:
            samples = [segmented(seg, exp.seed, i, s) for i, s in enumerate(samples)]
        except UserError as err:
            raise UserError(f"{exp.source}: segmentation: {err}") from None
    run = exp.spaces[index].run  # entries are named by their run (a label tells one space's runs apart)
    return [PlanEntry.drawn(i, run, exp.seed, s) for i, s in enumerate(samples)]


def segmented(seg: Segmentation, seed: int, index: int, drawn: Sample) -> Sample:
    """Trial `index`'s drawn backbone made the experiment's segmentation network; its dilation
    schedules come from a generator of the seed and the index, so every space draws the same ones
    for the same trial index (the constraints judged the backbone)."""
    try:
        spec = segment(
            drawn.spec,
            decoder=seg.decoder,
            num_classes=drawn.spec.head.num_classes,
            output_stride=seg.output_stride,
            decoder_params=seg.decoder_params,
            schedule=seg.schedule,
            rng=np.random.default_rng([seed, index]),
            schedule_length=seg.schedule_length,
            max_rate=seg.max_rate,
            twinned=seg.twinned,
        )
    except UserError as err:
        raise SpecError(f"trial {index}: {err}") from None  # optimize mode records it as a refused draw
    return Sample(spec, drawn.values, complexity(spec))


def prepare(exp: Experiment, out: Path, data: datamod.Dataset) -> list[Run]:
    """Sample every space (sample mode) and write each run's experiment and plan files."""
    memory.check_samples(exp)
    ctx = context(exp, data)
    optimize = exp.search.mode == "optimize"
    if optimize:
        for i in range(len(exp.spaces)):
            plan_space(exp, i, ctx, n=1)  # options valid, constraints reachable; Optuna draws later
        plans = [[] for _ in exp.spaces]
    else:
        with interrupts.raising():  # drawing may stop anywhere; writing the runs below may not
            plans = [plan_space(exp, i, ctx) for i in range(len(exp.spaces))]
    runs = []
    for sc, plan in zip(exp.spaces, plans, strict=True):
        run_dir = out / sc.run
        run_dir.mkdir(parents=True, exist_ok=True)
        unlinked(run_dir / store.EXPERIMENT).write_text(yaml.safe_dump(exp.to_dict(), sort_keys=False))
        unlinked(run_dir / PLANNED).write_text(json.dumps(exp.to_dict(), indent=1, sort_keys=True))
        unlinked(run_dir / datamod.PREPROCESSING).write_text(json.dumps(data.preprocessing(), indent=1))
        with open(unlinked(run_dir / store.PLAN), "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(p.to_dict(), sort_keys=True) + "\n" for p in plan)
        if optimize:
            runs.append(SearchRun(sc.run, run_dir, list(range(exp.samples))))
        else:
            runs.append(SampleRun(sc.run, run_dir, plan, [p.trial_index for p in plan]))
    if exp.compare:
        compare.start(exp, out)
    return runs


def resume(out: Path, given: str | None = None) -> tuple[Experiment, list[Run]]:
    """The experiment and pending runs of a sweep folder to finish. Refused: a run whose
    experiment.yaml (or the `given` file) changed since planning, a space with no run, or a
    sample-mode run without its plan."""
    dirs = store.find_runs([str(out)])
    exp = cfgmod.load(given) if given else recorded(dirs[0])
    for run_dir in dirs:
        check_unchanged(run_dir, recorded(run_dir), literal(run_dir / store.EXPERIMENT))
        if given:
            check_unchanged(run_dir, exp, f"{literal(given)} (given with {{resume}})")
    missing = sorted({sc.run for sc in exp.spaces} - {d.name for d in dirs})
    if missing and not store.is_run(out):  # a run given itself finishes alone
        raise UserError(f"{out}: no run folder for space(s) {', '.join(missing)} of the experiment")
    return exp, resume_runs(out, exp)


def recorded(run_dir: Path) -> Experiment:
    """The experiment a run folder holds; a missing or corrupt file is one line."""
    return cfgmod.load(run_dir / store.EXPERIMENT)


def check_unchanged(run_dir: Path, exp: Experiment, what: str) -> None:
    """Refuse `exp` (read from `what`, in an ArgError's words: {resume} names that argument) when
    it differs from what `run_dir` was planned with."""
    path = run_dir / PLANNED
    if not path.exists():
        return  # planned before planned.json existed: nothing to compare with
    try:
        planned = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"{path}: unreadable ({type(err).__name__}); cannot check the experiment") from None
    now = json.loads(json.dumps(exp.to_dict()))
    diff = changes(_fixed(planned), _fixed(now))
    if diff:
        raise ArgError(
            "",
            f"{what} differs from what {literal(run_dir)} was planned with: {literal('; '.join(diff))}; "
            f"only {', '.join(FREE_TO_CHANGE)} may change on {{resume}} (restore it, or start a new sweep)",
            ["resume"],
        )


def _fixed(exp: Any) -> Any:
    """An experiment mapping without the fields a resume may change."""
    return {k: v for k, v in exp.items() if k not in FREE_TO_CHANGE} if isinstance(exp, dict) else exp


def changes(old: Any, new: Any, name: str = "") -> list[str]:
    """Where two plain mappings differ, as 'field: old -> new' (nested fields dotted)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            out += changes(
                old.get(key, "(absent)"), new.get(key, "(absent)"), f"{name}.{key}" if name else str(key)
            )
        return out
    return [] if old == new else [f"{name or '(top level)'}: {old!r} -> {new!r}"]


def resume_runs(out: Path, exp: Experiment) -> list[Run]:
    """Re-read the runs under a sweep folder: what is planned or asked and has no row yet."""
    runs = []
    for run_dir in store.find_runs([str(out)]):
        rows = store.trial_rows(run_dir)
        done = {r.entry.trial_index for r in rows}
        if exp.search.mode == "optimize":
            missing = [i for i in range(exp.samples) if i not in done]
            runs.append(SearchRun(run_dir.name, run_dir, missing[: max(0, exp.samples - len(rows))]))
            continue
        plan = _sampled_plan(run_dir, exp)
        runs.append(
            SampleRun(run_dir.name, run_dir, plan, [p.trial_index for p in plan if p.trial_index not in done])
        )
    return runs


def _sampled_plan(run_dir: Path, exp: Experiment) -> list[PlanEntry]:
    """A sample-mode run's plan, refused when missing or not the experiment's samples."""
    if not (run_dir / store.PLAN).is_file():
        raise UserError(f"{store.PLAN} missing in {run_dir}: cannot know the planned trials")
    plan = store.plan_entries(run_dir)
    if sorted(p.trial_index for p in plan) != list(range(exp.samples)):
        raise UserError(
            f"{run_dir / store.PLAN}: holds {len(plan)} planned trial(s), not trials 0..{exp.samples - 1} "
            f"of the experiment's samples: {exp.samples}; cannot know the planned trials"
        )
    return plan


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
    """A run whose specs Optuna draws as it goes (optimize mode): the trial indices with no row yet,
    a trial an interrupt cut short among them, so a resumed search ends with indices 0..samples-1."""

    pending: list[int]

    @property
    def todo(self) -> int:
        """Trials still to run."""
        return len(self.pending)

"""An exploration on real sweeps, in one folder: every round a sweep of its own (its experiment
file beside it), every step a line of steps.jsonl as it ends, so a killed exploration resumes at
the step it was in: recorded steps are replayed, a half-trained round finished by the sweep's own
resume. At the end: the final space as an experiment file, the path as a table and a figure, and
runs.txt listing the accepted path's runs, which `nas analyze FOLDER` reads (one EDF per space).

    OUT/experiment.yaml   the experiment as given        OUT/exploration.json  settings, start
    OUT/steps.jsonl       one decided step per line      OUT/rounds/LABEL.yaml and LABEL/ (a sweep)
    OUT/final.yaml        the last accepted space        OUT/path.csv, OUT/path.png, OUT/runs.txt
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from blocks.errors import ArgError, UserError, literal
from nas.exploring.candidates import Candidate, Round
from nas.exploring.path import Settings, Step, explore, label
from nas.records import store

STATE, STEPS, ROUNDS, FINAL = "exploration.json", "steps.jsonl", "rounds", "final.yaml"
TABLE, FIGURE = "path.csv", "path.png"
MEASURE = "flops"  # the complexity the EDFs are normalised by

Trainer = Callable[[Path, Path | None], None]  # (round experiment file, or None: resume; sweep folder)


@dataclass
class Exploration:
    """A finished exploration: its folder, its steps, and the space it ended in."""

    folder: Path
    steps: list[Step]
    final: Candidate

    @property
    def written(self) -> list[Path]:
        """The files that describe the path: the final space, the path's table and its figure."""
        return [self.folder / name for name in (FINAL, TABLE, FIGURE)]

    def table(self) -> list[dict[str, Any]]:
        """The path as table rows (see `rows`)."""
        return rows(self.steps)


def settings_of(raw: dict[str, Any], ex: Any) -> Settings:
    """Settings from the experiment's validated `explore` section (None: the defaults), seeded by it."""
    from nas.config import Explore

    ex = ex or Explore()
    return Settings(
        models=ex.models,
        margin=ex.margin,
        level=ex.level,
        steps=ex.steps,
        budget=ex.budget or None,
        kinds=tuple(ex.kinds),
        seed=int(raw.get("seed", 0)),
    )


def start_of(exp: Any, source: str) -> Candidate:
    """The experiment's one space, in sample mode with no comparison, as the path's start."""
    if len(exp.spaces) != 1:
        raise UserError(
            f"{source}: spaces: explore starts from one space; the experiment has {len(exp.spaces)}"
        )
    if exp.search.mode != "sample" or exp.compare is not None:
        raise UserError(f"{source}: search.mode: explore needs sample (random draws, no compare section)")
    return Candidate(exp.spaces[0].name, dict(exp.spaces[0].options))


def round_experiment(raw: dict[str, Any], cand: Candidate, name: str, n: int, seed: int) -> dict[str, Any]:
    """The experiment of one round: the explored one with the candidate's space, n samples, its seed."""
    out = {k: v for k, v in raw.items() if k not in ("space", "spaces", "explore", "compare", "name")}
    return {
        "name": name,
        "spaces": [{"name": cand.space, "options": cand.options}],
        **out,
        "samples": n,
        "seed": seed,
    }


def finished(folder: Path) -> Path | None:
    """The run of a sweep folder whose planned trials all have a row, else None."""
    runs = [d for d in folder.iterdir() if d.is_dir() and store.is_run(d)] if folder.is_dir() else []
    if len(runs) != 1:
        return None
    from nas.analysis import frame

    d = frame.load(runs[0])
    return runs[0] if d.planned and len(d.error) >= d.planned else None


def read_round(run: Path) -> Round:
    """A trained round: errors (NaN for a model that did not finish ok), complexities, drawn values."""
    from nas.analysis import frame
    from nas.records.rows import Status

    d = frame.load(run)
    ok = d.status == Status.OK
    return Round(np.where(ok, d.error, np.nan), d.complexity[MEASURE], dict(d.params))


def sweep_trainer(address: str | None, held: ExitStack) -> Trainer:
    """Train a round through `nas sweep` (a new sweep, or the killed one resumed); the first call
    starts one Ray for all of them (unless one is connected), which `held` closes."""
    started = []

    def train(experiment: Path | None, folder: Path) -> None:
        from nas.sweeping.driver import sweep
        from nas.sweeping.ray_start import ray_held

        if not started:
            held.enter_context(ray_held(address))
            started.append(True)

        if experiment is None:
            sweep(None, resume=str(folder), address=address)
        else:
            sweep(str(experiment), out=str(folder), address=address)

    return train


def _runner(out: Path, raw: dict[str, Any], trainer: Trainer):
    """A path.Runner over sweeps in OUT/rounds: a finished round is read, a begun one resumed."""
    name = raw.get("name") or "explore"

    def run(lab: str, cand: Candidate, n: int, seed: int) -> Round:
        folder = out / ROUNDS / lab
        done = finished(folder)
        if done is None:
            begun = folder.is_dir() and any(store.is_run(d) for d in folder.iterdir() if d.is_dir())
            if folder.is_dir() and not begun:
                shutil.rmtree(folder)  # a sweep killed before it planned: nothing trained there
            if begun:
                trainer(None, folder)
            else:
                path = out / ROUNDS / f"{lab}.yaml"
                path.parent.mkdir(parents=True, exist_ok=True)
                mapping = round_experiment(raw, cand, f"{name}-{lab}", n, seed)
                path.write_text(yaml.safe_dump(mapping, sort_keys=False))
                trainer(path, folder)
            done = finished(folder)
            if done is None:
                raise UserError(
                    f"{folder}: the round's sweep ended with trials unrecorded; resume the exploration"
                )
        return read_round(done)

    return run


def recorded_steps(out: Path) -> list[Step]:
    """The steps a folder has recorded, in order."""
    path = out / STEPS
    lines = path.read_text().splitlines() if path.exists() else []
    return [Step.from_dict(json.loads(line)) for line in lines if line.strip()]


def run_folder(raw: dict[str, Any], exp: Any, out: Path, trainer: Trainer, resume: bool) -> Exploration:
    """Explore from the experiment in folder `out` (new, or resumed as recorded), then write its
    final experiment, table, figure and run list."""
    source = exp.source or "experiment"
    start, settings = start_of(exp, source), settings_of(raw, exp.explore)
    state = {"start": start.to_dict(), "settings": {**asdict(settings), "kinds": list(settings.kinds)}}
    if resume:
        if json.loads((out / STATE).read_text()) != state:
            raise UserError(
                f"{out / STATE}: the recorded exploration differs from {source}; resume it without one"
            )
    else:
        out.mkdir(parents=True, exist_ok=True)
        (out / store.EXPERIMENT).write_text(yaml.safe_dump(raw, sort_keys=False))
        (out / STATE).write_text(json.dumps(state, indent=1))

    def record(step: Step) -> None:
        with open(out / STEPS, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(step.to_dict(), sort_keys=True) + "\n")

    steps = explore(start, _runner(out, raw, trainer), settings, recorded_steps(out), record)
    final = next((s.chosen for s in reversed(steps) if s.chosen), start)
    write_outputs(out, raw, start, steps, final)
    return Exploration(out, steps, final)


def accepted_runs(out: Path, steps: list[Step]) -> list[Path]:
    """The run of every accepted space along the path: the start round, then each chosen round."""
    labels = [label(0, 0)] + [label(s.index, s.accepted + 1) for s in steps if s.chosen]
    return [finished(out / ROUNDS / lab) for lab in labels]


def rows(steps: list[Step]) -> list[dict[str, Any]]:
    """The path as table rows: one per candidate tested, one per step that tested none."""
    out = []
    for s in steps:
        base = {"step": s.index, "parent": s.parent.space, "parent_options": json.dumps(s.parent.options)}
        if not s.tests:
            out.append(
                {**base, "kind": "", "change": "", "pi": "", "p": "", "decision": s.stop, "models": s.models}
            )
        for j, t in enumerate(s.tests):
            decision = "accepted" if j == s.accepted else "passed" if t["passed"] else "not shown no worse"
            out.append(
                {
                    **base,
                    "kind": t["candidate"]["kind"],
                    "change": t["candidate"]["change"],
                    "pi": round(t["test"]["pi"], 4),
                    "p": float(f"{t['test']['p']:.3g}"),
                    "decision": decision + (f"; {s.stop}" if s.stop and j == len(s.tests) - 1 else ""),
                    "models": s.models if j == 0 else "",
                }
            )
    return out


def write_outputs(
    out: Path, raw: dict[str, Any], start: Candidate, steps: list[Step], final: Candidate
) -> None:
    """final.yaml (validated), path.csv, path.png and runs.txt."""
    from nas import config
    from nas.exploring.figure import path_figure

    rest = {k: v for k, v in raw.items() if k not in ("name", "space", "spaces", "explore")}
    name = f"{raw.get('name') or 'explore'}_explored"
    mapping = {"name": name, "spaces": [{"name": final.space, "options": final.options}], **rest}
    config.parse(mapping, str(out / FINAL))
    moves = [f"#   step {s.index}: {s.chosen.kind}: {s.chosen.change}" for s in steps if s.chosen]
    head = [f"# explored by `nas explore` from {start.space} {start.options} in {len(steps)} step(s)", *moves]
    (out / FINAL).write_text("\n".join(head) + "\n" + yaml.safe_dump(mapping, sort_keys=False))
    table = rows(steps)
    with open(out / TABLE, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(table[0]) if table else ["step"])
        w.writeheader()
        w.writerows(table)
    runs = accepted_runs(out, steps)
    (out / store.RUNS_LIST).write_text("".join(f"{r.relative_to(out)}\n" for r in runs))
    path_figure(steps, out / FIGURE)


def explore_folder(
    experiment: str | None,
    out: str | None,
    resume: str | None,
    overrides: tuple[str, ...] | list[str],
    trainer: Trainer,
) -> Exploration:
    """Start an exploration of an experiment file in a new folder (default runs/NAME_explore), or
    resume a killed one from its folder, with the experiment recorded there."""
    from nas import config

    if resume:
        folder = Path(resume)
        if not (folder / STATE).is_file():
            raise UserError(
                f"{folder}: not an exploration folder (no {STATE}); start one with an experiment file"
            )
        if experiment or overrides:
            raise UserError(
                "resume: a resumed exploration keeps its recorded experiment; give the folder alone"
            )
        source = folder / store.EXPERIMENT
        raw = yaml.safe_load(source.read_text())
        exp = config.parse(raw, str(source))
        return run_folder(exp.to_dict(), exp, folder, trainer, resume=True)
    if experiment is None:
        raise UserError("experiment: give an experiment file, or resume a folder")
    exp = config.load(experiment, list(overrides))
    folder = Path(out) if out else Path("runs") / f"{exp.name}_explore"
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ArgError(
            "",
            f"{literal(folder)}: exists and is not empty; resume it ({{resume}} {literal(folder)}) or pick another {{out}}",
            ["resume", "out"],
        )
    return run_folder(exp.to_dict(), exp, folder, trainer, resume=False)

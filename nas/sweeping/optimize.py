"""Guided search (`search.mode: optimize`): Optuna samplers through Ray Tune's OptunaSearch,
ASHA early stopping, and the Pareto front of several objectives.

The design space is the same define-by-run function random sampling uses, drawn here
from the Optuna trial; the drawn spec travels to the trainable inside the trial config.
"""

from __future__ import annotations

import json
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from blocks.spec import SpecError
from nas.config import Experiment, Segmentation
from nas.outputs import unlinked
from nas.records.rows import PlanEntry, Status, TrialRow
from nas.stats.pareto import nondominated
from nas.sweeping.plan import segmented
from spaces import Context, Limits, get
from spaces.base import draw_one
from spaces.draw import OptunaDraw, Reject

METRICS = {"error": "val_error", "flops": "flops", "params": "params", "latency": "latency_ms"}
WORST_ERROR = (
    100.0  # what a rejected, failed or diverged trial reports to Tune (the study FAILs a rejected one)
)


class DefineByRun:
    """What OptunaSearch calls per trial: draws a spec and returns it as a trial entry.

    A class rather than a closure because Ray pickles the searcher to checkpoint it; the
    space is looked up by name for the same reason."""

    def __init__(
        self,
        space: str,
        options: dict,
        ctx: Context,
        limits: Limits,
        seed: int,
        pending: list[int],
        segmentation: Segmentation | None = None,
        run: str = "",
    ):
        self.space, self.options, self.ctx, self.limits = space, options, ctx, limits
        self.run = run or space  # the name its entries carry: the space's label, else its name
        self.seed, self.segmentation = seed, segmentation
        self.pending = deque(pending)  # taken from the left, one per trial: no list shifted each time
        self.after = max(pending, default=-1) + 1  # should Tune ask for more trials than are pending
        self.seconds = 0.0  # spent drawing specs: the sweep's own work, not Optuna's

    def __call__(self, trial: Any) -> dict[str, Any]:
        """The next pending index (a trial an interrupt cut short gets a fresh draw) and its entry."""
        start = time.perf_counter()
        try:
            return self._entry(trial)
        finally:
            self.seconds += time.perf_counter() - start

    def _entry(self, trial: Any) -> dict[str, Any]:
        """The next index's entry, drawn from the Optuna trial."""
        if self.pending:
            index = self.pending.popleft()
        else:
            index, self.after = self.after, self.after + 1
        draw = OptunaDraw(trial)
        try:
            sample = draw_one(get(self.space), draw, self.options, self.ctx, self.limits)
            if self.segmentation is not None:
                sample = segmented(self.segmentation, self.seed, index, sample)
        except (Reject, SpecError) as why:
            entry = PlanEntry.refused(index, self.run, self.seed, dict(draw.values), str(why))
        else:
            entry = PlanEntry.drawn(index, self.run, self.seed, sample)
        return {"nas_entry": json.dumps(entry.to_dict())}


JOURNAL = "optuna.journal"  # a run's study: Optuna's journal file, one line per change
SQLITE = "optuna.db"  # a study that sweeps kept in SQLite before: read and continued there


def study_storage(run_dir: Path) -> Any:
    """The Optuna storage of a run's study: RUN_DIR/optuna.db when an earlier sweep made one,
    else Optuna's journal file RUN_DIR/optuna.journal. Each change of a journal study is one
    line appended, and reads come from memory (`journal.Journal` spares `ask` its walk over
    every trial): a trial costs about the same at the 10,000th as at the first, where SQLite's
    cost grows with the trials it holds (0.10 s a trial over the first 100, 0.27 s over trials
    300-600, measured here). Opened with the sweep's lock held, so nothing else writes the
    journal: a lock file left beside it is a killed driver's, and a last line without its end
    one it was writing; both are removed, so the study reads on."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    from nas.sweeping.journal import Journal

    old = unlinked(run_dir / SQLITE)
    if old.exists():
        return optuna.storages.RDBStorage(f"sqlite:///{old.resolve()}")
    path = unlinked(run_dir / JOURNAL).resolve()
    lock = unlinked(path.with_name(path.name + ".lock"))
    lock.unlink(missing_ok=True)
    if path.exists():
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(path, "r+b") as fh:
                fh.truncate(data.rfind(b"\n") + 1)
    return Journal(JournalFileBackend(str(path), JournalFileOpenLock(str(path))))


def searcher(define: DefineByRun, exp: Experiment, run_dir: Path):
    """OptunaSearch (as `Study`) with the experiment's sampler, its study kept in the run's
    folder (`study_storage`) so a resumed sweep continues the same study (see `continue_study`)."""
    import optuna

    from nas.sweeping.study import OnGrid, Study

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = study_storage(run_dir)
    seed = continue_study(storage, run_dir.name, exp.seed)
    algo = exp.search.algorithm
    if algo == "tpe":
        inner = optuna.samplers.TPESampler(seed=seed, multivariate=True)
    elif algo == "nsga2":
        inner = optuna.samplers.NSGAIISampler(seed=seed)
    else:
        inner = optuna.samplers.RandomSampler(seed=seed)
    sampler = OnGrid(inner)
    metrics = [METRICS[o] for o in exp.search.objectives]
    return Study(
        space=define,
        metric=metrics if len(metrics) > 1 else metrics[0],
        mode=["min"] * len(metrics) if len(metrics) > 1 else "min",
        sampler=sampler,
        storage=storage,
        study_name=run_dir.name,
        metric_names=metrics,
    )


def continue_study(storage: Any, name: str, seed: int) -> int:
    """The sampler seed that continues study `name` without replaying it: `seed` for a new
    study, else one derived from `seed` and the trials it holds (a sampler re-seeded with
    `seed` would draw the first trials' specs again). Trials a killed driver left running
    are marked failed so samplers do not wait on them."""
    from optuna.trial import TrialState

    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return seed
    trials = storage.get_all_trials(study_id, deepcopy=False)
    for trial in trials:
        if trial.state is TrialState.RUNNING:
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    if not trials:
        return seed
    return int(np.random.SeedSequence([seed, len(trials)]).generate_state(1)[0])


def scheduler(exp: Experiment):
    """ASHA on per-epoch validation error, or first-in-first-out; both choose the next trial
    among live trials only (`nas.sweeping.schedulers`)."""
    from nas.sweeping.schedulers import LiveASHA, LiveFIFO

    if exp.search.scheduler != "asha":
        return LiveFIFO()
    return LiveASHA(
        time_attr="training_iteration",
        metric="val_error",
        mode="min",
        max_t=exp.training.epochs,
        grace_period=min(exp.search.grace_period, exp.training.epochs),
        reduction_factor=exp.search.reduction_factor,
    )


def objective_values(row: TrialRow, objectives: tuple[str, ...]) -> list[float]:
    """A row's values of the chosen objectives (all minimised)."""
    out = []
    for o in objectives:
        if o == "error":
            out.append(row.error)
        elif o == "latency":
            out.append(row.latency_ms or float("inf"))
        else:
            out.append(row.entry.complexity[o])
    return out


def pareto_front(rows: list[TrialRow], objectives: tuple[str, ...]) -> list[TrialRow]:
    """The ok rows no other ok row dominates on the objectives, sorted by error."""
    ok = [r for r in rows if r.status is Status.OK]
    if not ok:
        return []
    keep = nondominated(np.array([objective_values(r, objectives) for r in ok], dtype=float))
    return sorted((ok[i] for i in keep), key=lambda r: r.error)


def write_pareto(run_dir: Path, rows: list[TrialRow], objectives: tuple[str, ...]) -> list[TrialRow]:
    """Record the Pareto front of a run in RUN_DIR/pareto.json and return it."""
    front = pareto_front(rows, objectives)
    summary = [
        {
            "trial_index": r.entry.trial_index,
            "model_id": r.entry.model_id,
            **dict(zip(objectives, objective_values(r, objectives))),
        }
        for r in front
    ]
    unlinked(run_dir / "pareto.json").write_text(
        json.dumps({"objectives": list(objectives), "front": summary}, indent=2)
    )
    return front


def closing_line(space: str, run_dir: Path, front: list[TrialRow], objectives: tuple[str, ...]) -> str:
    """What a finished search prints: its Pareto front with several objectives, its best model with one."""
    if len(objectives) > 1:
        return (
            f"{space}: Pareto front on {list(objectives)}: {len(front)} model(s) -> {run_dir / 'pareto.json'}"
        )
    if not front:
        return f"{space}: no trial finished training"
    best = front[0]
    return (
        f"{space}: best model {best.entry.model_id} (trial #{best.entry.trial_index}), "
        f"error {best.error:.2f}% after {best.epochs} epochs"
    )

"""`nas explore`'s folder without training: each round a run directory written as a sweep writes
it (plan, rows through the store), scored by the synthetic truth; the final experiment, the path's
table, figure and run list, `nas analyze` of the folder, a crash inside a round resumed, refusals."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

import spaces
from blocks.errors import UserError
from nas import config
from nas.analysis.figures import default_dir
from nas.api import analyze
from nas.exploring import synthetic
from nas.exploring.folder import FIGURE, FINAL, ROUNDS, STEPS, TABLE, explore_folder
from nas.records import store
from nas.records.rows import PlanEntry
from tests.synth import CTX, row


@pytest.fixture(autouse=True)
def no_fsync(monkeypatch):
    """Durability is not under test here: a thousand fsynced rows cost seconds on a busy disk."""
    monkeypatch.setattr(store.os, "fsync", lambda fd: None)


OPTIONS = {"stages": 3, "max_depth": 12, "max_width": 64, "strides": [1, 2, 2]}


def experiment(tmp_path: Path, **explore) -> Path:
    """An AnyNetX_A experiment with a small explore section."""
    exp = {
        "name": "tiny",
        "space": {"name": "anynet_x_a", "options": OPTIONS},
        "seed": 3,
        "explore": {"models": 60, "steps": 3, "margin": 0.25, "level": 0.2, **explore},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(exp))
    return path


class Trainer:
    """Writes each round as a sweep would, with errors from the truth; `crash` names a round
    (label) to stop in after half its rows, once. Records its calls."""

    def __init__(self, crash: str = ""):
        self.crash, self.calls = crash, []

    def __call__(self, exp_file: Path | None, folder: Path) -> None:
        self.calls.append((None if exp_file is None else exp_file.stem, folder.name))
        if exp_file is None:  # resume: finish the planned trials without a row
            run = next(d for d in folder.iterdir() if d.is_dir())
            done = {r.entry.trial_index for r in store.trial_rows(run)}
            entries = [
                PlanEntry.from_dict(json.loads(x)) for x in (run / store.PLAN).read_text().splitlines()
            ]
            self._rows(run, [e for e in entries if e.trial_index not in done])
            return
        exp = config.load(exp_file)
        sc = exp.spaces[0]
        run = folder / sc.name
        run.mkdir(parents=True)
        (run / store.EXPERIMENT).write_text(yaml.safe_dump(exp.to_dict(), sort_keys=False))
        samples = spaces.sample(spaces.get(sc.name), exp.samples, exp.seed, ctx=CTX, options=sc.options)
        entries = [PlanEntry.drawn(i, sc.name, exp.seed, s) for i, s in enumerate(samples)]
        for e in entries:
            store.append(run / store.PLAN, e.to_dict())
        if folder.name == self.crash:
            self.crash = ""
            self._rows(run, entries[: len(entries) // 2])
            raise RuntimeError("killed")
        self._rows(run, entries)

    @staticmethod
    def _rows(run: Path, entries: list) -> None:
        truth = synthetic.Truth()
        for e in entries:  # each trial's error from its own seed, as a trial's training is
            rng = np.random.default_rng([int(e.seed), e.trial_index])
            err = synthetic.score([e.values], np.array([e.complexity["flops"]]), truth, rng)[0]
            store.append_row(run, row(e, error=float(err)))


def test_explore_folder_writes_the_path(tmp_path):
    trainer = Trainer()
    done = explore_folder(str(experiment(tmp_path)), str(tmp_path / "ex"), None, (), trainer)
    out = done.folder
    accepted = [s for s in done.steps if s.chosen]
    assert accepted, "the planted truth gives at least one candidate shown no worse here"
    # every round trained once, each a run of 60 rows in the store
    labels = [folder for _, folder in trainer.calls]
    assert len(labels) == len(set(labels)) == 1 + sum(1 + len(s.tests) for s in done.steps if s.tests)
    for lab in labels:
        run = next((out / ROUNDS / lab).iterdir())
        assert len(store.trial_rows(run)) == 60
    final = config.load(out / FINAL)
    assert (final.spaces[0].name, final.spaces[0].options) == (done.final.space, done.final.options)
    assert final.explore is None and final.name == "tiny_explored"
    with open(out / TABLE) as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == sum(max(1, len(s.tests)) for s in done.steps)
    assert sum(r["decision"].startswith("accepted") for r in table) == len(accepted)
    assert (out / FIGURE).stat().st_size > 10_000
    result = analyze(out, bins=1)  # one EDF per accepted space: the start, then each accepted
    assert len(result.runs) == 1 + len(accepted)
    assert default_dir([r.dir for r in result.runs.values()]) == out / "analysis"


def test_a_crash_inside_a_round_resumes_there(tmp_path):
    whole = explore_folder(str(experiment(tmp_path)), str(tmp_path / "whole"), None, (), Trainer())
    assert len(whole.steps) >= 2
    crashing = Trainer(crash="step2-parent")
    with pytest.raises(RuntimeError, match="killed"):
        explore_folder(str(experiment(tmp_path)), str(tmp_path / "ex"), None, (), crashing)
    before = (tmp_path / "ex" / STEPS).read_text()
    assert [json.loads(x)["index"] for x in before.splitlines()] == [1]
    again = Trainer()
    done = explore_folder(None, None, str(tmp_path / "ex"), (), again)
    assert again.calls[0] == (None, "step2-parent")  # the half-trained round finished, not redrawn
    assert all(f.startswith(("step2", "step3")) for _, f in again.calls)  # earlier rounds read, not trained
    assert [s.to_dict() for s in done.steps] == [s.to_dict() for s in whole.steps]


def test_refusals(tmp_path):
    exp = experiment(tmp_path)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(
        UserError, match=r"full: exists and is not empty; resume it \(resume .*full\) or pick another out$"
    ):
        explore_folder(str(exp), str(tmp_path / "full"), None, (), Trainer())
    with pytest.raises(UserError, match="not an exploration folder"):
        explore_folder(None, None, str(tmp_path / "full"), (), Trainer())
    two = tmp_path / "two.yaml"
    two.write_text(yaml.safe_dump({"spaces": ["anynet_x_a", "anynet_x_b"]}))
    with pytest.raises(UserError, match="spaces: explore starts from one space; the experiment has 2"):
        explore_folder(str(two), str(tmp_path / "o"), None, (), Trainer())
    with pytest.raises(UserError, match="explore.kinds: expected list of str in"):
        explore_folder(str(exp), str(tmp_path / "o2"), None, ("explore.kinds=[linear]",), Trainer())


def test_a_listing_folder_names_a_missing_run(tmp_path):
    (tmp_path / "ex").mkdir()
    (tmp_path / "ex" / store.RUNS_LIST).write_text("rounds/start/anynet_x_a\n")
    with pytest.raises(UserError, match=r"runs.txt: .*rounds/start/anynet_x_a is not a run directory"):
        store.find_runs([str(tmp_path / "ex")])
    (tmp_path / "ex" / store.RUNS_LIST).write_text("\n")
    with pytest.raises(UserError, match="runs.txt: it lists none"):
        store.find_runs([str(tmp_path / "ex")])

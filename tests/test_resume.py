"""Resume finishes exactly the planned work: an edited experiment, a missing plan or a corrupt
experiment file is refused in one line; kept weights belong to one trial; optimize mode
continues its study instead of replaying it; --out never takes a user's own folder."""

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml

from blocks.errors import UserError
from nas import config as cfgmod
from nas.cli import main
from nas.records import store
from nas.records.rows import PlanEntry, TrialRow
from nas.records.weights import weights_owner
from nas.sweeping import driver, ray_start, resources, sweep_folder
from nas.sweeping.optimize import continue_study, study_storage
from nas.sweeping.plan import SearchRun, changes, prepare, resume
from nas.sweeping.trial import keep_weights
from nas.training import datasets as datamod
from tests.synth import tiny_experiment, write_run


def _planned(tmp_path, samples=3):
    """A sweep folder planned (not trained) from the tiny experiment, and the experiment's path."""
    path = tiny_experiment(tmp_path, samples=samples, seed=1, epochs=1)
    exp = cfgmod.load(path)
    out = tmp_path / "out"
    prepare(exp, out, datamod.load(exp.dataset.name, exp.dataset.params, exp.source))
    return out, path


def _edit(path, **fields):
    data = yaml.safe_load(path.read_text())
    for dotted, value in fields.items():
        *parents, last = dotted.split("__")
        node = data
        for key in parents:
            node = node[key]
        node[last] = value
    path.write_text(yaml.safe_dump(data))


def test_changes_names_each_field_old_and_new():
    old = {"samples": 4, "training": {"epochs": 2, "lr": 0.1}, "seed": 0}
    new = {"samples": 4, "training": {"epochs": 5, "lr": 0.1}, "seed": 1, "extra": 2}
    assert changes(old, new) == ["extra: '(absent)' -> 2", "seed: 0 -> 1", "training.epochs: 2 -> 5"]


def test_unchanged_sweep_resumes_every_planned_trial(tmp_path):
    out, _ = _planned(tmp_path)
    exp, runs = resume(out)
    assert [r.space for r in runs] == ["anynet_x_c", "regnet_x"] and [r.todo for r in runs] == [3, 3]


@pytest.mark.parametrize(
    "edit, said",
    [
        ({"training__epochs": 5}, "training.epochs: 1 -> 5"),
        ({"samples": 9}, "samples: 3 -> 9"),
        ({"seed": 2}, "seed: 1 -> 2"),
        ({"dataset__params__num_samples": 50}, "dataset.params.num_samples: 96 -> 50"),
    ],
)
def test_edited_experiment_is_refused_with_what_changed(tmp_path, edit, said):
    out, _ = _planned(tmp_path)
    _edit(out / "regnet_x" / store.EXPERIMENT, **edit)
    with pytest.raises(UserError, match="differs from what .* was planned with") as err:
        resume(out)
    assert said in str(err.value) and "\n" not in str(err.value)


def test_resources_may_change_on_resume(tmp_path):
    out, path = _planned(tmp_path)
    _edit(path, resources__max_concurrent=1)
    exp, _ = resume(out, str(path))
    assert exp.resources.max_concurrent == 1


def test_experiment_file_given_with_resume_must_match(tmp_path):
    out, path = _planned(tmp_path)
    _edit(path, training__epochs=4)
    with pytest.raises(UserError, match=r"given with resume\) differs .*training.epochs: 1 -> 4"):
        resume(out, str(path))


def test_missing_plan_is_named(tmp_path):
    out, _ = _planned(tmp_path)
    store.append(out / "anynet_x_c" / store.TRIALS, {"trial_index": 0, "status": "ok"})
    (out / "anynet_x_c" / store.PLAN).unlink()
    with pytest.raises(UserError, match="plan.jsonl missing in .*anynet_x_c: cannot know the planned trials"):
        resume(out)


def test_truncated_plan_is_named(tmp_path):
    out, _ = _planned(tmp_path)
    plan = out / "regnet_x" / store.PLAN
    plan.write_text(plan.read_text().splitlines(keepends=True)[0])
    with pytest.raises(UserError, match="holds 1 planned trial"):
        resume(out)


def test_missing_run_folder_is_named(tmp_path):
    out, _ = _planned(tmp_path)
    for f in (out / "regnet_x").iterdir():
        f.unlink()
    (out / "regnet_x").rmdir()
    with pytest.raises(UserError, match="no run folder for space.*regnet_x"):
        resume(out)


def test_corrupt_experiment_is_one_line(tmp_path):
    out, _ = _planned(tmp_path)
    (out / "anynet_x_c" / store.EXPERIMENT).write_text("name: [unclosed\n  samples: {")
    with pytest.raises(UserError, match="experiment.yaml") as err:
        resume(out)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("make", ["file", "user folder", "runs"])
def test_new_sweep_refuses_an_out_it_could_overwrite(tmp_path, make):
    out = tmp_path / "out"
    if make == "file":
        out.write_text("mine")
    elif make == "user folder":
        out.mkdir()
        (out / "edf.png").write_bytes(b"my figure")
    else:
        out, _ = _planned(tmp_path)
    with pytest.raises(UserError, match="names a file|is a file|not a sweep folder|already holds runs"):
        sweep_folder.check_new_out(out)


def test_empty_or_new_out_is_fine(tmp_path):
    sweep_folder.check_new_out(tmp_path / "new")
    sweep_folder.check_new_out(tmp_path)


MODEL = "0123456789ab"


def _entry(index, model=MODEL):
    return PlanEntry(index, "s", index, model, {}, {}, {})


def test_kept_weights_belong_to_one_trial(tmp_path):
    first, second = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    assert keep_weights(first, str(tmp_path), _entry(0))
    assert not keep_weights(second, str(tmp_path), _entry(5))  # same model id, another trial
    saved = torch.load(tmp_path / "weights" / f"{MODEL}.pt", weights_only=True)
    assert torch.equal(saved["weight"], first.weight)
    assert weights_owner(tmp_path / "weights" / f"{MODEL}.pt") == "0"
    assert keep_weights(second, str(tmp_path), _entry(0))  # a retry of the owner rewrites them
    assert torch.equal(
        torch.load(tmp_path / "weights" / f"{MODEL}.pt", weights_only=True)["weight"], second.weight
    )


def test_export_pairs_a_row_only_with_its_own_trials_weights(tmp_path):
    from nas.exporting.export import run_job
    from nas.exporting.select import Candidate
    from nas.zoo import load_spec

    spec = load_spec("resnet18")
    keep_weights(torch.nn.Linear(2, 2), str(tmp_path), _entry(0, spec.model_id))
    line = {"model_id": spec.model_id, "spec": spec.to_dict(), "trial_index": 0, "seed": 0, "error": 1.0}
    row = TrialRow.from_dict({**line, "status": "ok"})
    assert run_job(Candidate(row, tmp_path), None).weights is not None  # the owner's row
    other = TrialRow.from_dict({**line, "status": "ok", "trial_index": 5})  # trained again, not kept
    assert run_job(Candidate(other, tmp_path), None).weights is None


def test_weights_kept_before_owners_are_never_overwritten(tmp_path):
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / f"{MODEL}.pt").write_bytes(b"old")
    assert not keep_weights(torch.nn.Linear(2, 2), str(tmp_path), _entry(3))
    assert (tmp_path / "weights" / f"{MODEL}.pt").read_bytes() == b"old"


def test_continue_study_does_not_replay(tmp_path):
    import optuna
    from optuna.trial import TrialState

    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'optuna.db'}")
    assert continue_study(storage, "s", 7) == 7  # a new study keeps the experiment's seed
    study = optuna.create_study(
        storage=storage, study_name="s", sampler=optuna.samplers.RandomSampler(seed=7)
    )
    for _ in range(3):
        study.tell(study.ask({"x": optuna.distributions.FloatDistribution(0, 1)}), 0.5)
    study.ask()  # a trial the killed driver left running
    seed = continue_study(storage, "s", 7)
    assert seed != 7
    assert {t.state for t in study.get_trials()} == {TrialState.COMPLETE, TrialState.FAIL}
    again = optuna.load_study(
        storage=storage, study_name="s", sampler=optuna.samplers.RandomSampler(seed=seed)
    )
    first = [t.params["x"] for t in study.get_trials() if t.params]
    assert again.ask({"x": optuna.distributions.FloatDistribution(0, 1)}).params["x"] not in first


def test_a_new_study_is_a_journal_an_old_sqlite_study_is_kept_and_a_killed_write_is_cut(tmp_path):
    import optuna
    from optuna.trial import TrialState

    storage = study_storage(tmp_path)
    assert isinstance(storage, optuna.storages.JournalStorage) and not (tmp_path / "optuna.db").exists()
    study = optuna.create_study(storage=storage, study_name="s")
    for x in (0.25, 0.5):
        study.tell(study.ask({"x": optuna.distributions.FloatDistribution(0, 1)}), x)
    study.ask()  # left running by a driver killed while it wrote its next change:
    journal = tmp_path / "optuna.journal"
    with open(journal, "ab") as fh:
        fh.write(b'{"op_code": 6, "worker_id"')
    (tmp_path / "optuna.journal.lock").write_bytes(b"")
    again = study_storage(tmp_path)
    assert not (tmp_path / "optuna.journal.lock").exists() and journal.read_bytes().endswith(b"}\n")
    seed = continue_study(again, "s", 7)
    assert seed != 7
    states = [t.state for t in optuna.load_study(storage=again, study_name="s").trials]
    assert states == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.FAIL]
    old = tmp_path / "old"
    old.mkdir()
    optuna.create_study(storage=f"sqlite:///{old / 'optuna.db'}", study_name="s")
    assert (
        isinstance(study_storage(old), optuna.storages.RDBStorage) and not (old / "optuna.journal").exists()
    )


def test_request_no_node_can_grant_is_refused(monkeypatch, tmp_path):
    import ray

    node = {"Alive": True, "Resources": {"CPU": 2.0}}
    monkeypatch.setattr(ray, "nodes", lambda: [node])
    exp = cfgmod.load(tiny_experiment(tmp_path, samples=1, seed=0, epochs=1))
    gpu = SimpleNamespace(source="x.yaml", resources=SimpleNamespace(cpus_per_trial=1, gpus_per_trial=1))
    with pytest.raises(UserError, match=r"x.yaml: resources.gpus_per_trial: 1 asked .* has 0 GPU"):
        resources.check_fits(gpu)
    cpu = SimpleNamespace(source="x.yaml", resources=SimpleNamespace(cpus_per_trial=3, gpus_per_trial=0))
    with pytest.raises(UserError, match=r"resources.cpus_per_trial: 3 asked .* has 2 CPU"):
        resources.check_fits(cpu)
    resources.check_fits(exp)


def test_a_local_request_this_machine_cannot_grant_is_refused_before_ray_starts(monkeypatch, tmp_path):
    import ray

    exp = cfgmod.load(tiny_experiment(tmp_path, samples=1, seed=0, epochs=1))
    gpus = replace(exp, resources=replace(exp.resources, gpus_per_trial=1.0))
    monkeypatch.setattr(resources, "this_machine", lambda: {"CPU": 2.0, "GPU": 0.0})
    monkeypatch.setattr(ray_start, "init_ray", lambda address: pytest.fail("Ray started"))
    assert not ray.is_initialized()
    with pytest.raises(UserError, match=r"resources.gpus_per_trial: 1 asked .* this machine has 0 GPU"):
        driver.execute(gpus, [SearchRun("s", tmp_path, [0])], None, tmp_path, None)


def _optimize_experiment(tmp_path):
    exp = {
        "name": "opt",
        "space": {
            "name": "anynet_x_c",
            "options": {"stages": 2, "max_depth": 3, "max_width": 64, "strides": [1, 2]},
        },
        "samples": 6,
        "seed": 3,
        "search": {"mode": "optimize", "algorithm": "random", "scheduler": "none"},
        "keep_weights": "all",
        "model": {"stem": {"type": "simple", "width": 8, "params": {"stride": 1}}},
        "dataset": {"name": "synthetic", "params": {"num_samples": 200, "size": 8, "num_classes": 3}},
        "training": {"epochs": 2, "batch_size": 32},
        "resources": {"cpus_per_trial": 1, "max_concurrent": 1},
    }
    path = tmp_path / "opt.yaml"
    path.write_text(yaml.safe_dump(exp))
    return path


def _sweep(args, log):
    return subprocess.Popen(
        [sys.executable, "-m", "nas.cli", "sweep", *args, "--no-analyze"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _weights(run):
    return {p.name: p.read_bytes() for p in (run / "weights").glob("*.pt")}


@pytest.mark.slow
def test_optimize_resume_after_sigkill_continues_the_study(tmp_path):
    import time

    out = tmp_path / "out"
    run, log_path = out / "anynet_x_c", tmp_path / "log.txt"
    with open(log_path, "w") as log:
        proc = _sweep([str(_optimize_experiment(tmp_path)), "--out", str(out)], log)
        end = time.time() + 120
        while time.time() < end and len(store.read_jsonl(run / store.TRIALS)) < 2:
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    before = {r["trial_index"]: r for r in store.read_jsonl(run / store.TRIALS)}
    assert 2 <= len(before) < 6, log_path.read_text()
    kept = _weights(run)
    with open(log_path, "w") as log:
        assert _sweep(["--resume", str(out)], log).wait(timeout=180) == 0, log_path.read_text()
    rows = [json.loads(x) for x in (run / store.TRIALS).read_text().splitlines() if x.strip()]
    assert len(rows) == 6 and len({r["trial_index"] for r in rows}) == 6  # exactly the samples, once each
    for index, row in before.items():
        assert next(r for r in rows if r["trial_index"] == index)["finished_at"] == row["finished_at"]
    after = _weights(run)
    assert all(after[name] == data for name, data in kept.items() if name in after)  # none overwritten
    first = [r["values"] for r in sorted(before.values(), key=lambda r: r["trial_index"])]
    resumed = [r["values"] for r in rows if r["trial_index"] not in before]
    assert resumed[: len(first)] != first[: len(resumed)]  # the study went on; it did not replay


def test_a_rerun_of_the_same_command_gets_a_new_folder_and_a_refused_one_leaves_none(
    tmp_path, monkeypatch, capsys
):
    """Without --out a second sweep of a name goes to runs/NAME-STAMP beside the first (as Hydra
    and Ray Tune do), leaving the first's bytes alone; a sweep refused before training (its trials
    ask for more CPUs than the machine has) removes the folder it made, so nothing is left to
    refuse the next try with 'already holds runs'."""
    monkeypatch.chdir(tmp_path)
    raw = yaml.safe_load(tiny_experiment(tmp_path, samples=2, seed=0, epochs=1).read_text())
    first = tmp_path / "runs" / "tiny"
    write_run(first, "anynet_x_c", 3, lambda v, rng: 5.0)
    before = {p: p.read_bytes() for p in first.rglob("*") if p.is_file()}
    raw["resources"]["cpus_per_trial"] = 999
    path = tmp_path / "too_big.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["sweep", str(path), "--no-analyze"]) == 2
    captured = capsys.readouterr()
    assert f"{Path('runs/tiny')} holds an earlier sweep (resume that folder to finish it)" in captured.out
    assert "resources.cpus_per_trial: 999 asked per trial" in captured.err
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["tiny"]  # the new one is gone
    assert {p: p.read_bytes() for p in first.rglob("*") if p.is_file()} == before


def test_asking_the_journal_study_walks_its_trials_only_while_one_may_wait(tmp_path, monkeypatch):
    """Optuna's `ask` looks for a queued trial first, which the journal answers by walking
    every trial; the run's storage skips the walk while none can wait, and still hands out a
    queued trial, queued in this process or left queued by an earlier one."""
    import optuna
    from optuna.storages.journal import _storage
    from optuna.trial import TrialState

    walks = []
    walk = _storage.JournalStorageReplayResult.get_all_trials
    monkeypatch.setattr(
        _storage.JournalStorageReplayResult,
        "get_all_trials",
        lambda self, study_id, states: (
            walks.append(states == (TrialState.WAITING,)) or walk(self, study_id, states)
        ),
    )
    x = {"x": optuna.distributions.FloatDistribution(0, 1)}
    study = optuna.create_study(storage=study_storage(tmp_path), study_name="s")
    for _ in range(50):
        study.tell(study.ask(x), 0.5)
    assert sum(walks) == 1  # the first ask looked at what an earlier process left; none since
    study.enqueue_trial({"x": 0.125})
    assert study.ask(x).params["x"] == 0.125
    study.enqueue_trial({"x": 0.375})  # left queued for the next process
    again = optuna.load_study(storage=study_storage(tmp_path), study_name="s")
    assert again.ask(x).params["x"] == 0.375 and again.ask(x).params["x"] != 0.375

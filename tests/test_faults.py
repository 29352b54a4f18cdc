"""Faults: failing, diverging, out-of-memory and rejected trials become rows; a killed worker
is retried; a driver killed with SIGKILL is resumed without losing or repeating a trial."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from nas.records import store
from nas.records.rows import PlanEntry, Status
from nas.sweeping.trial import TrialSetup, run_trial
from nas.training.config import TrainingConfig
from nas.training.datasets import synthetic
from tests.polling import wait_for
from tests.synth import one_space_experiment

SPEC = {
    "input_shape": [3, 6, 6],
    "stem": {"type": "simple", "width": 8, "params": {"stride": 1}},
    "stages": [{"block": "res_basic", "depth": 1, "width": 8, "stride": 2, "params": {}}],
    "head": {"num_classes": 3, "type": "classifier", "params": {}},
}


def _entry(spec=SPEC, rejected=""):
    return PlanEntry(0, "s", 0, "m", spec, {}, {}, rejected)


def _setup(**kw):
    return TrialSetup("e", TrainingConfig(epochs=2, batch_size=16, **kw), 1, ("error",), {})


DATA = synthetic(num_samples=64, size=6, num_classes=3)


def test_ok_trial_reports_every_epoch_but_the_last():
    reports = []
    row = run_trial(_entry(), DATA, _setup(), reports.append)
    assert row.status is Status.OK and row.epochs == 2 and len(row.val_errors) == 2
    assert row.error == row.val_errors[-1] and 0.0 <= row.error <= 100.0
    assert [r["epoch"] for r in reports] == [1]  # the last epoch travels with the row


def test_exception_becomes_failed_row():
    bad = _entry(spec={**SPEC, "stages": [{"block": "nope", "depth": 1, "width": 8, "stride": 2}]})
    row = run_trial(bad, DATA, _setup(), lambda m: None)
    assert row.status is Status.FAILED and "unknown stage" in row.reason and row.error is None


def test_nan_loss_becomes_diverged_row():
    row = run_trial(_entry(), DATA, _setup(lr=1e12, momentum=0.0), lambda m: None)
    assert row.status is Status.DIVERGED and "loss became" in row.reason


def test_out_of_memory_becomes_failed_row(monkeypatch):
    def oom(*a, **k):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr("nas.sweeping.trial.train", oom)
    row = run_trial(_entry(), DATA, _setup(), lambda m: None)
    assert row.status is Status.FAILED and "OutOfMemoryError: CUDA out of memory" in row.reason


def test_rejected_entry_is_recorded_without_training():
    row = run_trial(_entry(rejected="flops 9 outside [1, 2]"), DATA, _setup(), lambda m: None)
    assert row.status is Status.REJECTED and row.reason == "flops 9 outside [1, 2]" and row.epochs == 0


def _experiment(tmp_path, samples, epochs, num_samples):
    resources = {"max_concurrent": 1, "max_retries": 2}
    return one_space_experiment(tmp_path, "faults", samples, epochs, num_samples, resources)


def _start(args, log):
    return subprocess.Popen(
        [sys.executable, "-m", "nas.cli", *args], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:  # the process ended while we looked
        return ""


def _trial_workers(sweep: subprocess.Popen) -> list[int]:
    """PIDs of the Ray workers running a trial of this test's own sweep: descendants of its
    driver (the local Ray it starts is its child) whose process title names the trainable."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _read(stat).rpartition(")")[2].split()
        if fields:
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [sweep.pid]
    while todo:
        for pid in children.get(todo.pop(), []):
            todo.append(pid)
            if "ray::ImplicitFunc" in _read(Path(f"/proc/{pid}/cmdline")):
                found.append(pid)
    return found


@pytest.mark.slow
def test_killed_worker_is_retried(tmp_path):
    path = _experiment(tmp_path, samples=2, epochs=8, num_samples=1500)
    out = tmp_path / "out"
    with open(tmp_path / "log.txt", "w") as log:
        proc = _start(["sweep", str(path), "--out", str(out), "--no-analyze"], log)
        assert wait_for(lambda: _trial_workers(proc), 90), "no trial worker appeared"
        time.sleep(1.0)  # let the trial get into training
        for pid in _trial_workers(proc):
            os.kill(pid, signal.SIGKILL)
        assert proc.wait(timeout=240) == 0, (tmp_path / "log.txt").read_text()
    rows = store.rows(out / "anynet_x_c")
    assert sorted(r["trial_index"] for r in rows) == [0, 1]
    assert all(r["status"] == "ok" for r in rows)
    assert max(r["retries"] for r in rows) == 1


@pytest.mark.slow
def test_resume_after_driver_sigkill(tmp_path):
    path = _experiment(tmp_path, samples=6, epochs=3, num_samples=600)
    out = tmp_path / "out"
    trials = out / "anynet_x_c" / store.TRIALS
    with open(tmp_path / "log.txt", "w") as log:
        proc = _start(["sweep", str(path), "--out", str(out), "--no-analyze"], log)
        ok = wait_for(lambda: trials.exists() and len(store.read_jsonl(trials)) >= 2, 180)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert ok, (tmp_path / "log.txt").read_text()
    before = {r["trial_index"]: r for r in store.read_jsonl(trials)}
    assert 2 <= len(before) < 6
    with open(tmp_path / "log2.txt", "w") as log:
        proc = _start(["sweep", "--resume", str(out), "--no-analyze"], log)
        assert proc.wait(timeout=240) == 0, (tmp_path / "log2.txt").read_text()
    lines = [json.loads(x) for x in trials.read_text().splitlines() if x.strip()]
    indices = [r["trial_index"] for r in lines]
    assert sorted(indices) == list(range(6))  # every trial once: none lost, none repeated
    for index, row in before.items():
        assert next(r for r in lines if r["trial_index"] == index)["finished_at"] == row["finished_at"]


def test_tune_does_not_print_each_failed_try_during_a_sweep():
    """A full disk failed every try of a trial, and Tune's controller printed each worker traceback
    (90 lines) before the sweep's own one line; the sweep records the failure, Tune's error.txt the
    traceback. Quiet inside the sweep only."""
    import logging

    from nas.sweeping.ray_start import QUIET_LOGGERS, tune_env

    controller = logging.getLogger(QUIET_LOGGERS[0])
    assert controller.name == "ray.tune.execution.tune_controller"
    before = controller.level
    with tune_env():
        assert not controller.isEnabledFor(logging.ERROR)
    assert controller.level == before and controller.isEnabledFor(logging.ERROR)


def test_a_full_disk_when_keeping_weights_keeps_the_trials_row(tmp_path, monkeypatch):
    """The model trained: a weights write that finds the disk full leaves its row ok, saying the
    weights were not kept, instead of failing the trial into Tune's retries; no claim is left."""
    import errno

    import torch

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", no_space)
    setup = TrialSetup("e", TrainingConfig(epochs=1, batch_size=16), 1, ("error",), {"s": str(tmp_path)})
    row = run_trial(replace(_entry(), model_id="3f9a0c12be47"), DATA, setup, lambda m: None)
    assert row.status is Status.OK and row.error is not None
    assert row.reason == "weights not kept: No space left on device"
    assert list((tmp_path / "weights").iterdir()) == []


def test_tune_tracks_only_the_numbers_a_scheduler_or_searcher_reads(monkeypatch):
    """Tune keeps statistics and two deques per number a trial reports, for every trial of its
    Tuner, and pickles them into each snapshot: the trainable tells it val_error (and the
    objectives) as numbers, every other value in one JSON string the sweep's callbacks read."""
    import ray
    from ray import tune
    from ray.tune.experiment import Trial

    from nas.sweeping import tuners
    from nas.sweeping.trial import reported

    sent = []
    monkeypatch.setattr(tune, "report", sent.append)
    monkeypatch.setattr(ray, "get_runtime_context", lambda: SimpleNamespace(get_node_id=lambda: "n"))
    entry = PlanEntry(0, "s", 0, "m", SPEC, {}, {"flops": 1000, "params": 50})
    shared = SimpleNamespace(get=lambda: {"s/0": entry})
    setup = replace(_setup(), numbers=("val_error", "flops"))
    tuners._trainable({"keys": ["s/0"]}, shared, SimpleNamespace(get=lambda: DATA), setup)
    assert len(sent) == 2  # epoch 1, then epoch 2 with the row

    trial = Trial("t", stub=True)
    tunes_own = {"done": False, "training_iteration": 1, "time_this_iter_s": 0.1, "time_total_s": 0.1}
    tunes_own |= {"time_since_restore": 0.1, "iterations_since_restore": 1, "pid": 1, "timestamp": 2}
    for result in sent:
        trial.update_last_result({**result, **tunes_own})
    tracked = [k for k in tunes_own if k not in ("pid", "timestamp")]  # Tune's own numbers it tracks
    assert sorted(trial.run_metadata.metric_analysis) == sorted([*tracked, "val_error", "flops"])
    first, last = reported(sent[0]), reported(trial.last_result)
    assert first["epoch"] == 1 and last["epoch"] == 2 and last["params"] == 50 and last["flops"] == 1000
    assert {"loss", "train_error", "val_loss"} <= first.keys() and {
        "loss",
        "train_error",
        "val_loss",
    } <= last.keys()
    row = json.loads(last["row"])
    assert row["status"] == "ok" and last["val_error"] == row["error"] == row["val_errors"][-1]

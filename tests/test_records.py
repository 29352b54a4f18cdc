"""The sweep's records: their dicts are the plan.jsonl and trials.jsonl formats, they read back
what they wrote, and planning and resuming build them without Ray."""

import json
import os

import yaml

import spaces
from nas.config import load
from nas.records import store
from nas.records.rows import PlanEntry, Status, TrialRow, trial_seed
from nas.sweeping.optimize import DefineByRun
from nas.sweeping.plan import SampleRun, SearchRun, prepare, resume_runs
from nas.sweeping.trial import make_row
from nas.training.datasets import synthetic
from spaces import Context, Limits
from tests.synth import tiny_experiment

ENTRY_KEYS = {"trial_index", "space", "seed", "model_id", "spec", "values", "complexity"}
ROW_KEYS = ENTRY_KEYS | {
    "experiment",
    "status",
    "reason",
    "error",
    "val_errors",
    "train_errors",
    "epochs",
    "wall_time",
    "train_time",
    "images_per_sec",
    "latency_ms",
    "retries",
    "device",
    "host",
    "finished_at",
    "versions",
}
DATA = synthetic(num_samples=96, size=6, num_classes=3)


def _entry(**kw) -> PlanEntry:
    fields = {
        "trial_index": 2,
        "space": "s",
        "seed": 7,
        "model_id": "m",
        "spec": {"a": 1},
        "values": {"w": 8},
    }
    return PlanEntry(**{**fields, "complexity": {"flops": 10, "params": 3, "acts": 4}, **kw})


def test_status_values_are_the_row_strings():
    assert [s.value for s in Status] == ["ok", "failed", "diverged", "stopped", "rejected"]
    assert json.dumps({"status": Status.DIVERGED}) == '{"status": "diverged"}'
    assert Status("stopped") is Status.STOPPED and Status.OK == "ok" and f"{Status.FAILED}" == "failed"


def test_trial_seed_rule():
    assert trial_seed(0, 5) == 5 and trial_seed(3, 4) == 300_013


def test_plan_entry_dict_round_trip_and_keys():
    entry = _entry()
    assert set(entry.to_dict()) == ENTRY_KEYS and PlanEntry.from_dict(entry.to_dict()) == entry
    refused = PlanEntry.refused(4, "s", 3, {"w": 9}, "flops 9 outside [1, 2]")
    drawn = {"trial_index": 4, "space": "s", "seed": 300_013, "model_id": "", "spec": {}, "values": {"w": 9}}
    assert refused.to_dict() == {**drawn, "complexity": {}, "rejected": "flops 9 outside [1, 2]"}
    assert PlanEntry.from_dict(refused.to_dict()) == refused and refused.key == "s/4"


def test_trial_row_dict_has_the_row_keys_and_reads_back():
    row = make_row(_entry(rejected="too big"), "exp", Status.REJECTED, reason="too big")
    data = row.to_dict()
    assert set(data) == ROW_KEYS and data["status"] == "rejected" and type(data["status"]) is str
    assert data["error"] is None and data["val_errors"] == [] and data["epochs"] == 0 and data["retries"] == 0
    assert data["seed"] == 7 and data["complexity"]["flops"] == 10 and data["finished_at"] > 0
    assert {"nas", "torch", "ray", "python"} == set(data["versions"])
    back = TrialRow.from_dict(json.loads(json.dumps(data)))
    assert back.to_dict() == data and back.status is Status.REJECTED and back.entry.rejected == ""
    ran = TrialRow(_entry(), "exp", Status.OK, error=12.5, val_errors=[20.0, 12.5], epochs=2, node_id="n1")
    assert set(ran.to_dict()) == ROW_KEYS | {"node_id"} and ran.to_dict()["node_id"] == "n1"
    assert TrialRow.from_dict(ran.to_dict()) == ran


def test_store_reads_typed_rows_and_names_a_broken_one(tmp_path, capsys):
    older = TrialRow(_entry(), "exp", Status.OK, error=3.0).to_dict()
    del older["latency_ms"], older["retries"]  # rows written before these fields existed
    store.append(tmp_path / store.TRIALS, older)
    store.append_row(tmp_path, TrialRow(_entry(trial_index=3), "exp", Status.FAILED, reason="boom"))
    rows = store.trial_rows(tmp_path)
    assert [(r.entry.trial_index, r.status, r.error) for r in rows] == [
        (2, Status.OK, 3.0),
        (3, Status.FAILED, None),
    ]
    assert rows[0].latency_ms is None and rows[0].retries == 0
    store.append(tmp_path / store.TRIALS, {"trial_index": 4, "status": "lost"})
    assert store.trial_rows(tmp_path) == rows  # named and skipped
    assert "trials.jsonl:3: not a trial row ('status' is 'lost'" in capsys.readouterr().err


def test_the_stores_checks_and_the_tables_columns_read_the_declarations():
    """A field declared on PlanEntry or TrialRow is checked by the store with its declared type
    (one line makes a new field), and every column of `nas results --csv` is a declared field."""
    from dataclasses import fields

    from nas.records import table
    from nas.records.rows import _json_types, row_fields

    declared = {f.name for r in (PlanEntry, TrialRow) for f in fields(r)} - {"entry"}
    assert set(row_fields()) == declared
    assert list(row_fields())[:2] == ["trial_index", "status"]  # the required, checked first
    assert [n for n, (_, required) in row_fields().items() if required] == ["trial_index", "status"]
    assert row_fields()["host"] == ((str,), False) and row_fields()["error"] == ((int, float), False)
    assert _json_types(float | None) == ((int, float), True)
    assert _json_types(list[float]) == ((list,), False) and _json_types(Status) == ((str,), False)
    assert set(table.COLUMNS) - declared == {"run", *table.MEASURES}


def test_a_field_the_store_never_listed_is_checked_by_its_declared_type(tmp_path, capsys):
    good = TrialRow(_entry(), "exp", Status.OK, error=3.0).to_dict()
    store.append(tmp_path / store.TRIALS, {**good, "host": 5})
    store.append(tmp_path / store.TRIALS, {**good, "trial_index": 3, "val_errors": "none"})
    assert store.trial_rows(tmp_path) == []
    err = capsys.readouterr().err
    assert "trials.jsonl:1: not a trial row ('host' is 5, not str), skipped" in err
    assert "trials.jsonl:2: not a trial row ('val_errors' is \"none\", not list), skipped" in err


def test_prepare_writes_plan_entries_and_resume_finds_what_is_left(tmp_path):
    exp = load(tiny_experiment(tmp_path, samples=3, seed=2, epochs=1))
    runs = prepare(exp, tmp_path / "out", DATA)
    assert [type(r) for r in runs] == [SampleRun, SampleRun] and [r.todo for r in runs] == [3, 3]
    run = runs[1]
    lines = [json.loads(x) for x in (run.dir / store.PLAN).read_text().splitlines()]
    assert [set(x) for x in lines] == [ENTRY_KEYS] * 3
    assert [x["seed"] for x in lines] == [200_006, 200_007, 200_008]
    assert store.plan_entries(run.dir) == run.plan and run.plan[0].space == "regnet_x"
    store.append_row(run.dir, make_row(run.plan[1], exp.name, Status.OK, error=50.0))
    again = resume_runs(tmp_path / "out", exp)
    assert [(r.space, r.pending) for r in again] == [("anynet_x_c", [0, 1, 2]), ("regnet_x", [0, 2])]


def test_optimize_mode_plans_search_runs(tmp_path):
    raw = yaml.safe_load(tiny_experiment(tmp_path, samples=4, seed=0, epochs=1).read_text())
    raw["search"] = {"mode": "optimize", "scheduler": "none", "objectives": ["error", "flops"]}
    (tmp_path / "opt.yaml").write_text(yaml.safe_dump(raw))
    exp = load(tmp_path / "opt.yaml")
    runs = prepare(exp, tmp_path / "out", DATA)
    assert [(type(r), r.pending) for r in runs] == [(SearchRun, [0, 1, 2, 3])] * 2
    assert (runs[0].dir / store.PLAN).read_text() == ""
    store.append_row(
        runs[0].dir, TrialRow(_entry(space="anynet_x_c", trial_index=0), exp.name, Status.OK, error=10.0)
    )
    assert [r.pending for r in resume_runs(tmp_path / "out", exp)] == [[1, 2, 3], [0, 1, 2, 3]]
    # an interrupt cut trial 0 short after trial 1 kept its row: the resume runs 0 again, not 4
    store.append_row(
        runs[1].dir, TrialRow(_entry(space="regnet_x", trial_index=1), exp.name, Status.OK, error=10.0)
    )
    assert [r.pending for r in resume_runs(tmp_path / "out", exp)] == [[1, 2, 3], [0, 2, 3]]


def test_a_search_hands_out_the_pending_indices_first():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    options = spaces.get("anynet_x_c").resolve({"stages": 2})
    define = DefineByRun("anynet_x_c", options, Context((3, 8, 8), 3), Limits(), 0, [0, 3])
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    entries = [PlanEntry.from_dict(json.loads(define(study.ask())["nas_entry"])) for _ in range(3)]
    assert [e.trial_index for e in entries] == [0, 3, 4]
    assert all(e.space == "anynet_x_c" for e in entries)


def test_tune_settings_are_scoped_to_the_sweep(monkeypatch):
    from nas.sweeping.ray_start import TUNE_ENV, tune_env

    monkeypatch.delenv("RAY_AIR_NEW_OUTPUT", raising=False)
    monkeypatch.setenv("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "0")  # the user's own choice wins
    with tune_env():
        assert os.environ["RAY_AIR_NEW_OUTPUT"] == TUNE_ENV["RAY_AIR_NEW_OUTPUT"]
        assert os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] == "0"
    assert "RAY_AIR_NEW_OUTPUT" not in os.environ
    assert os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] == "0"

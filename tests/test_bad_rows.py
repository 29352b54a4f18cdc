"""A catalogue of bad rows in a run's trials.jsonl: each is checked whole before any reader uses it,
named (FILE:LINE) in one warning line and skipped, never averaged, counted, dropped silently or
crashing a command; the file itself is left as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nas.cli import main
from nas.records import store
from tests import synth

GONE = object()  # the field is removed from the row

SPEC_STAGE = {"block": "res_basic", "depth": 1, "width": 8, "stride": 2, "params": {}}
BAD_ROWS = {
    # the error: a percentage from 0 to 100, present when the trial is ok
    "error-nan": ({"error": float("nan")}, "'error' is nan, not a percentage from 0 to 100"),
    "error-inf": ({"error": float("inf")}, "'error' is inf"),
    "error-minus-inf": ({"error": float("-inf")}, "'error' is -inf"),
    "error-negative": ({"error": -50}, "'error' is -50"),
    "error-just-below": ({"error": -0.001}, "'error' is -0.001"),
    "error-just-above": ({"error": 100.5}, "'error' is 100.5"),
    "error-huge": ({"error": 1e300}, "'error' is 1e+300"),
    "error-text": ({"error": "low"}, "'error' is \"low\", not int or float"),
    "error-bool": ({"error": True}, "'error' is true"),
    "error-list": ({"error": [1]}, "'error' is [1]"),
    "error-mapping": ({"error": {}}, "'error' is {}"),
    "ok-error-null": ({"error": None}, "'status' is 'ok' but it has no 'error'"),
    "ok-error-missing": ({"error": GONE}, "'status' is 'ok' but it has no 'error'"),
    # the trial index: one of the plan's
    "index-past-the-plan": ({"trial_index": 99}, "'trial_index' is 99, not 0..5, the plan's trials"),
    "index-just-past-the-plan": ({"trial_index": 6}, "'trial_index' is 6, not 0..5"),
    "index-negative": ({"trial_index": -1}, "'trial_index' is -1"),
    "index-float": ({"trial_index": 2.0}, "'trial_index' is 2.0, not int"),
    "index-text": ({"trial_index": "2"}, "'trial_index' is \"2\", not int"),
    "index-bool": ({"trial_index": True}, "'trial_index' is true, not int"),
    "index-null": ({"trial_index": None}, "no 'trial_index'"),
    "index-missing": ({"trial_index": GONE}, "no 'trial_index'"),
    # the status: one of the Status values
    "status-unknown": ({"status": "great"}, "'status' is 'great', not one of"),
    "status-upper": ({"status": "OK"}, "'status' is 'OK'"),
    "status-number": ({"status": 1}, "'status' is 1, not str"),
    "status-null": ({"status": None}, "no 'status'"),
    "status-missing": ({"status": GONE}, "no 'status'"),
    # epochs and times: finite numbers from 0
    "epochs-negative": ({"epochs": -1}, "'epochs' is -1, not a finite number from 0"),
    "epochs-float": ({"epochs": 1.5}, "'epochs' is 1.5, not int"),
    "epochs-text": ({"epochs": "2"}, "'epochs' is \"2\""),
    "wall-time-negative": ({"wall_time": -3.0}, "'wall_time' is -3.0"),
    "wall-time-inf": ({"wall_time": float("inf")}, "'wall_time' is inf"),
    "wall-time-nan": ({"wall_time": float("nan")}, "'wall_time' is nan"),
    "wall-time-text": ({"wall_time": "1s"}, "'wall_time' is \"1s\""),
    # complexity: a mapping of finite numbers from 0
    "flops-nan": ({"complexity": {"flops": float("nan"), "params": 1, "acts": 1}}, "(flops: NaN)"),
    "flops-inf": ({"complexity": {"flops": float("inf"), "params": 1, "acts": 1}}, "(flops: Infinity)"),
    "flops-negative": ({"complexity": {"flops": -5, "params": 1, "acts": 1}}, "(flops: -5)"),
    "flops-text": ({"complexity": {"flops": "many", "params": 1, "acts": 1}}, '(flops: "many")'),
    "params-bool": ({"complexity": {"flops": 1, "params": False, "acts": 1}}, "(params: false)"),
    "acts-list": ({"complexity": {"flops": 1, "params": 1, "acts": [1]}}, "(acts: [1])"),
    "complexity-list": ({"complexity": [1, 2]}, "'complexity' is [1, 2], not dict"),
    "complexity-text": ({"complexity": "big"}, "'complexity' is \"big\", not dict"),
    # the spec: the shape analysis reads
    "spec-text": ({"spec": "resnet"}, "'spec' is \"resnet\", not dict"),
    "spec-list": ({"spec": [1]}, "'spec' is [1], not dict"),
    "stages-text": ({"spec": {"stages": "x"}}, "'spec.stages' is \"x\", not a list of stages"),
    "stages-mapping": ({"spec": {"stages": {"a": 1}}}, "'spec.stages' is {\"a\": 1}"),
    "stage-number": ({"spec": {"stages": [1]}}, "'spec.stages[0]' is 1, not a mapping"),
    "stage-block-missing": (
        {"spec": {"stages": [{**SPEC_STAGE, "block": None}]}},
        "'spec.stages[0].block' is null, not a block name",
    ),
    "stage-block-number": ({"spec": {"stages": [{**SPEC_STAGE, "block": 3}]}}, "'spec.stages[0].block' is 3"),
    "stage-depth-zero": ({"spec": {"stages": [{**SPEC_STAGE, "depth": 0}]}}, "'spec.stages[0].depth' is 0"),
    "stage-depth-negative": (
        {"spec": {"stages": [SPEC_STAGE, {**SPEC_STAGE, "depth": -2}]}},
        "'spec.stages[1].depth' is -2, not a positive int",
    ),
    "stage-depth-text": (
        {"spec": {"stages": [{**SPEC_STAGE, "depth": "2"}]}},
        "'spec.stages[0].depth' is \"2\"",
    ),
    "stage-width-float": (
        {"spec": {"stages": [{**SPEC_STAGE, "width": 8.5}]}},
        "'spec.stages[0].width' is 8.5",
    ),
    "stage-width-bool": (
        {"spec": {"stages": [{**SPEC_STAGE, "width": True}]}},
        "'spec.stages[0].width' is true",
    ),
    "stage-params-list": (
        {"spec": {"stages": [{**SPEC_STAGE, "params": [1]}]}},
        "'spec.stages[0].params' is [1], not a mapping",
    ),
    "stem-text": (
        {"spec": {"stages": [SPEC_STAGE], "stem": "conv"}},
        "'spec.stem' is \"conv\", not a mapping",
    ),
    "head-number": ({"spec": {"stages": [SPEC_STAGE], "head": 5}}, "'spec.head' is 5, not a mapping"),
    # the other fields readers use
    "values-list": ({"values": [1, 2]}, "'values' is [1, 2], not dict"),
    "model-id-number": ({"model_id": 5}, "'model_id' is 5, not str"),
    "space-number": ({"space": 5}, "'space' is 5, not str"),
    "reason-list": ({"reason": ["x"]}, "'reason' is [\"x\"], not str"),
}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A run of six ok trials (errors 10..60), planned and recorded as a sweep writes them."""
    root = tmp_path_factory.mktemp("sweep")
    errors = iter([10.0, 20.0, 30.0, 40.0, 50.0, 60.0])
    return synth.write_run(root, "anynet_x_a", 6, lambda values, rng: next(errors))


@pytest.fixture
def run(template, tmp_path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "anynet_x_a"))


def _spoil(run: Path, change: dict) -> bytes:
    """Row 2 (line 3) of the run changed by `change`; returns the file's bytes afterwards."""
    path = run / store.TRIALS
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for key, value in change.items():
        if value is GONE:
            del rows[2][key]
        else:
            rows[2][key] = value
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))  # NaN and Infinity as Python writes them
    return path.read_bytes()


def _warned(err: str, run: Path, message: str) -> None:
    """`err` is exactly the one warning naming line 3 of the run's rows and `message`."""
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    assert err.startswith(f"warning: {run / store.TRIALS}:3: not a trial row ("), err
    assert message in err and err.endswith("), skipped\n"), (message, err)


@pytest.mark.parametrize("change, message", BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_results_name_and_skip_a_bad_row(run, capsys, change, message):
    written = _spoil(run, change)
    assert main(["results", str(run), "--jsonl"]) == 0
    out, err = capsys.readouterr()
    _warned(err, run, message)
    shown = [json.loads(line) for line in out.splitlines()]
    assert [r["trial_index"] for r in shown] == [0, 1, 3, 4, 5]  # the row of trial 2 is the bad one
    assert (run / store.TRIALS).read_bytes() == written


ANALYZED = ["error-nan", "error-inf", "error-negative", "error-huge", "index-past-the-plan", "stages-text"]


@pytest.mark.parametrize("case", ANALYZED)
def test_analysis_never_averages_counts_or_crashes_on_a_bad_row(run, tmp_path, capsys, case):
    change, message = BAD_ROWS[case]
    written = _spoil(run, change)
    figure = tmp_path / "figures" / "edf.png"
    assert main(["analyze", str(run), "--bootstrap", "0", "--figure", str(figure)]) == 0
    out, err = capsys.readouterr()
    _warned(err, run, message)
    line = next(line for line in out.splitlines() if line.startswith("anynet_x_a "))
    # n=5 of errors 10, 20, 40, 50, 60: mean 36, median 40; the sixth planned trial is pending
    assert line.split()[1:5] == ["5", "10.00", "40.00", "36.00"] and "0 / 6, 1 pending" in line, line
    assert (run / store.TRIALS).read_bytes() == written

"""benchmarks/harness_scale.py's split of a sweep's time per trial by Tuner, on hand-made rows."""

import importlib.util
import math
import sys
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "harness_scale.py"


def _bench():
    spec = importlib.util.spec_from_file_location("harness_scale", PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["harness_scale"] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


def test_the_time_per_trial_is_split_into_inside_tuners_and_their_changes():
    ends = [10, 11, 12, 14, 20, 21, 22, 23, 30]  # trial i ends at ends[i]; Tuners of 4 trials
    rows = [{"trial_index": i, "finished_at": float(t)} for i, t in reversed(list(enumerate(ends)))]
    f = _bench().tuner_spans(rows, 4)
    # inside: Tuner 0 (14-10)/3, Tuner 1 (23-20)/3 = 1, Tuner 2 one row (left out): median 7/6
    assert f["inside"] == pytest.approx(7 / 6)
    # halves: Tuner 0 (11-10)/1 and (14-12)/1, Tuner 1 1 and 1 -> means 1.0 and 1.5
    assert f["first_half"] == pytest.approx(1.0) and f["second_half"] == pytest.approx(1.5)
    # changes: 20-14 = 6 and 30-23 = 7 -> median 6.5
    assert f["changes"] == 2 and f["change_s"] == pytest.approx(6.5)


def test_a_sweep_of_one_tuner_has_no_change_to_time():
    rows = [{"trial_index": i, "finished_at": 2.0 * i} for i in range(3)]
    f = _bench().tuner_spans(rows, 1000)
    assert f["inside"] == pytest.approx(2.0) and f["changes"] == 0
    assert math.isnan(f["change_s"]) and math.isnan(f["first_half"])

"""The progress lines of a sweep, driven with fake rows and a fake clock: per-trial lines with
the running count, throttled epoch lines, and a time left from finished trials' wall times."""

import io

from nas.records.rows import PlanEntry, Status, TrialRow
from nas.sweeping.progress import Progress, duration


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _row(index: int, status: Status = Status.OK, error: float | None = 10.0, wall: float = 20.0) -> TrialRow:
    entry = PlanEntry(index, "regnet_x", index, f"m{index}", {}, {}, {})
    return TrialRow(
        entry,
        "tiny",
        status,
        reason="boom" if status in (Status.FAILED, Status.REJECTED) else "",
        error=error,
        epochs=5,
        wall_time=wall,
    )


def _progress(total: int = 8) -> tuple[Progress, io.StringIO, Clock]:
    out, clock = io.StringIO(), Clock()
    return Progress(total, epochs=5, stream=out, clock=clock, every=5.0), out, clock


def test_eta_says_estimating_until_a_trial_finishes_then_uses_wall_times_and_concurrency():
    progress, out, clock = _progress(total=8)
    progress.running(2)
    assert progress.eta() == "estimating..."
    clock.now += 21.0  # Ray start-up and the first trials: not part of the estimate
    progress.finished(_row(0, wall=20.0))
    # 7 left, 20 s each, 2 at a time: 70 s (elapsed time / done would say 147 s)
    assert progress.eta() == "~1m10s"
    progress.finished(_row(1, wall=40.0))
    assert progress.eta() == "~1m30s"  # 6 left x 30 s mean / 2
    line = out.getvalue().splitlines()[-1]
    assert line.startswith("[2/8] regnet_x #1 ") and "running 2" in line and "best 10.00%" in line
    assert "left ~1m30s" in line and "elapsed 21s" in line


def test_fewer_trials_left_than_slots_are_not_divided_by_the_slots():
    progress, _, _ = _progress(total=3)
    progress.running(4)
    progress.finished(_row(0, wall=10.0))
    progress.finished(_row(1, wall=10.0))
    assert progress.eta() == "~10s"
    progress.finished(_row(2, wall=10.0))
    assert progress.eta() == "0s"


def test_epoch_lines_are_throttled_and_name_each_running_trial():
    progress, out, clock = _progress()
    progress.running(2)
    progress.epoch("a", "regnet_x #0", 1, 50.0)  # less than 5 s after the start: no line
    assert out.getvalue() == ""
    clock.now += 6.0
    progress.epoch("b", "regnet_x #1", 1, 60.0)
    clock.now += 1.0
    progress.epoch("a", "regnet_x #0", 2, 40.0)  # 1 s after the last line: none
    lines = out.getvalue().splitlines()
    assert lines == [
        "running 2: regnet_x #0 epoch 1/5 (50.0%), regnet_x #1 epoch 1/5 (60.0%) | elapsed 6s, left estimating..."
    ]
    clock.now += 5.0
    progress.left("b")
    progress.running(1)
    progress.epoch("a", "regnet_x #0", 3, 30.0)
    assert out.getvalue().splitlines()[-1].startswith("running 1: regnet_x #0 epoch 3/5 (30.0%) |")


def test_failed_and_stopped_lines_and_the_closing_count():
    progress, out, clock = _progress(total=3)
    progress.finished(_row(0, Status.FAILED, error=None))
    progress.finished(_row(1, Status.STOPPED, error=70.0))
    progress.finished(_row(2, error=12.5))
    clock.now += 125.0
    progress.close()
    lines = out.getvalue().splitlines()
    assert "failed: boom" in lines[0] and "failed 1" in lines[0] and "best -" in lines[0]
    assert "stopped after epoch 5 at error 70.00%" in lines[1]
    assert "best 12.50%" in lines[2]
    assert lines[3] == "finished 3 trials (1 failed or diverged) in 2m05s"


def test_rejected_draws_are_counted_apart_from_failures():
    progress, out, clock = _progress(total=3)
    progress.finished(_row(0, Status.REJECTED, error=None))
    progress.finished(_row(1, Status.FAILED, error=None))
    progress.finished(_row(2, error=12.5))
    clock.now += 5.0
    progress.close()
    lines = out.getvalue().splitlines()
    assert "rejected: boom" in lines[0] and "| failed 0, rejected 1 |" in lines[0]
    assert "| failed 1, rejected 1 |" in lines[1] and "best 12.50%" in lines[2]
    assert lines[3] == "finished 3 trials (1 failed or diverged, rejected 1) in 5s"


def test_duration():
    assert [duration(s) for s in (7, 185, 3720)] == ["7s", "3m05s", "1h02m"]


def test_a_comparison_counts_and_estimates_the_round_at_hand():
    progress, out, _ = _progress(total=200)  # a comparison's whole budget: most never runs
    progress.running(2)
    progress.upto(20, " in round 1")
    progress.finished(_row(0, wall=10.0))
    line = out.getvalue().splitlines()[-1]
    assert line.startswith("[ 1/20] ") and line.endswith("left ~1m35s in round 1")  # 19 x 10 s / 2
    for i in range(1, 20):
        progress.finished(_row(i, wall=10.0))
    progress.upto(20, " in round 2")
    assert progress.total == 40 and progress.eta() == "~1m40s"  # 20 x 10 s / 2

"""Ctrl-C (SIGINT) and SIGTERM stop a running sweep: one line saying how far it got and how to
finish it, exit 130 / 143, Ray shut down with no process of the sweep left behind, and no
analysis of the partial run."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from nas.records import store
from tests.polling import wait_for
from tests.synth import tiny_experiment


def _session(sid: int) -> list[int]:
    """PIDs of the live processes in session `sid` (the sweep's own, started with a new session)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # the process ended while we looked
            continue
        if len(fields) > 3 and int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _rows(out: Path) -> int:
    return sum(len(store.read_jsonl(run / store.TRIALS)) for run in out.glob("*") if run.is_dir())


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_the_sweep_and_says_how_to_finish(tmp_path, signum, code):
    path = tiny_experiment(tmp_path, samples=6, seed=0, epochs=3)
    out, log_path = tmp_path / "out", tmp_path / "log.txt"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nas.cli", "sweep", str(path), "--out", str(out)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            assert wait_for(lambda: _rows(out) >= 1, 120), log_path.read_text()
            if signum == signal.SIGINT:
                os.killpg(proc.pid, signum)  # Ctrl-C reaches the whole foreground group
            else:
                os.kill(proc.pid, signum)  # what `timeout` and schedulers send the driver
            assert proc.wait(timeout=60) == code, log_path.read_text()
            gone = wait_for(lambda: not _session(proc.pid), 20)
        finally:
            if _session(proc.pid):
                os.killpg(proc.pid, signal.SIGKILL)  # only this test's own session
    text = log_path.read_text()
    done = _rows(out)
    assert f"interrupted: {done} of 12 trials done; finish with `nas sweep --resume {out}`" in text, text
    assert done < 12 and "finished" not in text and "Traceback" not in text
    assert not (out / "analysis").exists() and "next: nas analyze" not in text  # no analysis
    assert gone, f"left behind: {_session(proc.pid)}"

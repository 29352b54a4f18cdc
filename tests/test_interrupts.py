"""Ctrl-C (SIGINT) and SIGTERM stop a running sweep: one line saying how far it got and how to
finish it, exit 130 / 143, Ray shut down with no process of the sweep left behind, and no
analysis of the partial run."""

import importlib.util
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from blocks.errors import UserError
from nas.sweeping import interrupts, store
from nas.sweeping.driver import sweep
from nas.sweeping.interrupts import Interrupted
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


# --- the handler: it records, and raises only where asked --------------------------------------


def test_a_signal_is_recorded_where_it_lands_and_raised_on_leaving_the_block():
    before = {n: signal.getsignal(n) for n in interrupts.SIGNALS}
    reached = False
    with pytest.raises(Interrupted) as stop, interrupts.catching():
        os.kill(os.getpid(), signal.SIGTERM)
        reached = True  # nothing was raised into this code
        assert interrupts.caught() == signal.SIGTERM
        os.kill(os.getpid(), signal.SIGINT)  # a second signal is ignored: the first one counts
    assert reached and stop.value.exit_code == 143
    assert {n: signal.getsignal(n) for n in interrupts.SIGNALS} == before


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_pure_python_phase_stops_at_once(signum, code):
    after = []
    with pytest.raises(Interrupted) as stop, interrupts.catching(), interrupts.raising():
        os.kill(os.getpid(), signum)
        after.append("ran on")
    assert after == [] and stop.value.exit_code == code


def test_a_signal_recorded_earlier_stops_the_next_pure_python_phase():
    with pytest.raises(Interrupted) as stop, interrupts.catching():
        os.kill(os.getpid(), signal.SIGHUP)
        with interrupts.raising():
            pytest.fail("entered a phase after the signal")
    assert stop.value.exit_code == 129


def _blocked(pid: int) -> int:
    """The signal mask (SigBlk) of process `pid`."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigBlk:")), 16)


def test_while_ray_starts_nobody_replaces_the_handlers_and_its_processes_block_sighup():
    with pytest.raises(Interrupted) as stop, interrupts.catching():
        ours = signal.getsignal(signal.SIGTERM)
        with interrupts.starting_ray():
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # what ray.init does
            assert signal.getsignal(signal.SIGTERM) is ours
            old = signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # others are set as asked
            assert signal.getsignal(signal.SIGUSR1) == signal.SIG_IGN
            signal.signal(signal.SIGUSR1, old)
            child = subprocess.Popen(["sleep", "30"])  # as Ray starts its processes
            os.kill(os.getpid(), signal.SIGHUP)  # recorded now or, if every thread blocks it, after
        try:
            assert _blocked(child.pid) & 1 << (signal.SIGHUP - 1)  # a closed terminal's SIGHUP waits
            assert not _blocked(os.getpid()) & 1 << (signal.SIGHUP - 1)
        finally:
            child.kill()
            child.wait()
        assert interrupts.caught() == signal.SIGHUP
        os.kill(os.getpid(), signal.SIGTERM)  # ignored (the first counts), not the default death
    assert stop.value.exit_code == 129


# --- --address: checked before anything is written ---------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "address, message",
    [
        ("nowhere", r"^--address 'nowhere': not a Ray address; give auto, HOST:PORT"),
        ("http://10.0.0.5:6379", r"^--address 'http://10.0.0.5:6379': not a Ray address"),
        ("10.0.0.5:99999", r"^--address '10.0.0.5:99999': not a Ray address"),
        ("10.0.0.5:", r"^--address '10.0.0.5:': not a Ray address"),
        ("127.0.0.1:FREE", r"^--address 127.0.0.1:\d+: nothing answers there \(.+\); is the cluster up\?$"),
        (
            "ray://127.0.0.1:FREE",
            r"^--address ray://127.0.0.1:\d+: "
            + (
                r"nothing answers there"
                if importlib.util.find_spec("grpc")
                else r"Ray Client \(ray://\) needs its package: pip install 'ray\[client\]'"
            ),
        ),
    ],
)
def test_a_bad_address_is_one_line_before_anything_is_written(tmp_path, address, message):
    address = address.replace("FREE", str(_free_port()))
    path = tiny_experiment(tmp_path, samples=1, seed=0, epochs=1)
    with pytest.raises(UserError, match=message) as err:
        sweep(str(path), out=str(tmp_path / "out"), address=address)
    assert "\n" not in str(err.value) and not (tmp_path / "out").exists()


def test_the_cli_says_a_bad_address_in_one_line(tmp_path, capsys):
    from nas.cli import main

    path = tiny_experiment(tmp_path, samples=1, seed=0, epochs=1)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--address", "ray//x:1"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("nas sweep: error: --address 'ray//x:1': not a Ray address") and err.count("\n") == 1
    )
    assert not (tmp_path / "out").exists()

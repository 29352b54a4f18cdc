"""Ctrl-C (SIGINT), SIGTERM and SIGHUP stop a running sweep wherever they land: one line saying
how far it got and how to finish it, exit 130 / 143 / 129, Ray shut down with no process of the
sweep left behind, no analysis of the partial run, and a resume that runs each trial once. Also:
a local sweep starts a Ray of its own, and --address is checked before anything is written."""

import contextlib
import importlib.util
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TextIO

import pytest
import yaml

from blocks.errors import UserError
from nas.records import store
from nas.sweeping import interrupts, ray_start
from nas.sweeping.driver import sweep
from nas.sweeping.interrupts import Interrupted
from tests.polling import wait_for
from tests.synth import one_space_experiment, tiny_experiment


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


def test_the_tune_guard_stops_only_once_a_signal_is_recorded():
    with pytest.raises(Interrupted) as stop, interrupts.catching():
        guard = interrupts.guard()
        guard.on_step_begin(iteration=0, trials=[])
        guard.on_trial_error(iteration=0, trials=[], trial=None)
        os.kill(os.getpid(), signal.SIGTERM)
        with pytest.raises(interrupts.Stopped, match="SIGTERM"):
            guard.on_step_begin(iteration=1, trials=[])
        with pytest.raises(interrupts.Stopped):
            guard.on_trial_error(iteration=1, trials=[], trial=None)  # not recorded as a failure
    assert stop.value.exit_code == 143


# --- --address: checked before anything is written ---------------------------------------------


def _answers(port: int) -> bool:
    """Whether something listens on `port` of this machine."""
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "address, message",
    [
        ("nowhere", r"^address 'nowhere': not a Ray address; give auto, HOST:PORT"),
        ("http://10.0.0.5:6379", r"^address 'http://10.0.0.5:6379': not a Ray address"),
        ("10.0.0.5:99999", r"^address '10.0.0.5:99999': not a Ray address"),
        ("10.0.0.5:", r"^address '10.0.0.5:': not a Ray address"),
        ("127.0.0.1:FREE", r"^address 127.0.0.1:\d+: nothing answers there \(.+\); is the cluster up\?$"),
        (
            "ray://127.0.0.1:FREE",
            r"^address ray://127.0.0.1:\d+: "
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


def test_a_cluster_ray_cannot_reach_is_one_line(monkeypatch):
    import ray

    def unreachable(**kwargs):
        raise ConnectionError(
            "Could not find any running Ray instance.\nPlease specify the one to connect to."
        )

    monkeypatch.setattr(ray, "init", unreachable)
    with pytest.raises(UserError) as err:
        ray_start.init_ray("auto")
    assert str(err.value) == (
        "address auto: cannot connect to a Ray cluster there (Could not find any running Ray instance.)"
    )


def test_the_cli_says_a_bad_address_in_one_line(tmp_path, capsys):
    from nas.cli import main

    path = tiny_experiment(tmp_path, samples=1, seed=0, epochs=1)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--address", "ray//x:1"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("nas sweep: error: --address 'ray//x:1': not a Ray address") and err.count("\n") == 1
    )
    assert not (tmp_path / "out").exists()


# --- signals at many moments: each ends in one line, its code, nothing left, and resumes --------

ROW = r"^\[\s*\d+/\d+\] "  # a trial's line as it ends
EPOCH = r"^running \d+: "  # running trials' epochs
STOPPED = r"^interrupted: (\d+) of (\d+) trials done; resume the sweep folder (.+) to finish$"
GROUP = (signal.SIGINT, signal.SIGHUP)  # Ctrl-C and a closed terminal reach the whole process group


def _yaml(path: Path, **changes) -> Path:
    """`path`'s experiment with top-level `changes` (dicts merged one level down), written back."""
    exp = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        exp[key] = {**exp[key], **value} if isinstance(value, dict) and key in exp else value
    path.write_text(yaml.safe_dump(exp))
    return path


def _cli_until(args: list[str], log_path: Path, signum: int, marker: str, delay: float) -> tuple[int, str]:
    """Run `nas sweep ARGS` in a session of its own; `delay` s after its log first has a line
    matching `marker`, send `signum`; its exit code and log, once none of its processes is left."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nas.cli", "sweep", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        seen = wait_for(lambda: re.search(marker, log_path.read_text(), re.M), 300)
        assert seen, f"no line {marker!r}: {log_path.read_text()}"
        time.sleep(delay)
        try:
            (os.killpg if signum in GROUP else os.kill)(proc.pid, signum)
        except ProcessLookupError:
            pytest.fail(f"the sweep ended before the signal: {log_path.read_text()}")
        code = proc.wait(timeout=180)
        gone = wait_for(lambda: not _session(proc.pid), 30)
    finally:
        for pid in _session(proc.pid):  # only this test's own session
            os.kill(pid, signal.SIGKILL)
    assert gone, f"left behind after {signal.Signals(signum).name} at {marker!r}"
    return code, log_path.read_text()


def _check_stopped(text: str, code: int, signum: int, out: Path) -> bool:
    """The sweep ended with its code and one line saying how far it got; True when it had planned."""
    what = f"{signal.Signals(signum).name} (exit {code})"
    assert code == 128 + signum, f"{what}: {text}"
    assert "Traceback" not in text and "received at time" not in text and "Error" not in text, what + text
    assert "finished" not in text and "next: nas analyze" not in text, f"{what}: {text}"  # no analysis
    assert not (out / "analysis").exists(), what
    last = text.strip().splitlines()[-1].removeprefix("nas sweep: ")
    if last == "interrupted before any trial was planned; nothing recorded":
        return False
    stopped = re.match(STOPPED, last)
    assert stopped, f"{what}: {text}"
    done, total = int(stopped[1]), int(stopped[2])
    assert done == _rows(out) < total and stopped[3] == str(out), f"{what}: {text}"
    return True


def _check_each_once(out: Path, spaces: list[str]) -> None:
    """Every trial each run planned has one row (none lost, none run twice)."""
    for space in spaces:
        indices = sorted(r["trial_index"] for r in store.rows(out / space))
        assert indices == list(range(store.planned(out / space))), (space, indices)


CLI_MOMENTS = [  # (signal, the log line after which it comes, seconds after that line)
    (signal.SIGINT, r"^sweep 'tiny'", 0.0),  # planning
    (signal.SIGTERM, r"^starting Ray", 0.0),
    (signal.SIGHUP, r"^starting Ray", 2.0),  # inside ray.init
    (signal.SIGINT, r"^Ray ready", 0.0),
    (signal.SIGTERM, r"^resuming", 0.0),  # reading the sweep folder and the dataset
    (signal.SIGHUP, ROW, 0.5),  # between trials, inside Ray's waits
]


@pytest.mark.slow
def test_the_cli_stops_at_every_moment_and_resumes_each_trial_once(tmp_path):
    """One sweep, stopped and resumed at each moment in turn, then finished; each stop ends with
    one line, the signal's exit code and no process left; the finished sweep has each trial once."""
    path = _yaml(
        tiny_experiment(tmp_path, samples=3, seed=0, epochs=3),
        resources={"max_concurrent": 1},
        # trials of about a second, so the last moment finds trials still to run after the first row
        dataset={"params": {"num_samples": 960, "size": 6, "num_classes": 3}},
    )
    out = tmp_path / "out"
    args = [str(path), "--out", str(out)]
    for k, (signum, marker, delay) in enumerate(CLI_MOMENTS):
        code, text = _cli_until(args, tmp_path / f"log{k}.txt", signum, marker, delay)
        if _check_stopped(text, code, signum, out):
            args = ["--resume", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "nas.cli", "sweep", *args, "--no-analyze"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    _check_each_once(out, ["anynet_x_c", "regnet_x"])
    assert all(r["status"] == "ok" for s in ("anynet_x_c", "regnet_x") for r in store.rows(out / s))


class _Armed(io.TextIOBase):
    """Standard output that sends this process `signum` once a line matching `marker` is first
    printed: at once (it lands in the driver's print) or `delay` s later (wherever the driver then
    is, mostly inside Ray's waits)."""

    def __init__(self, echo: TextIO, signum: int, marker: str, delay: float):
        self.echo, self.signum, self.marker, self.delay, self.armed = echo, signum, marker, delay, True

    def write(self, text: str) -> int:
        self.echo.write(text)
        if self.armed and any(re.search(self.marker, line) for line in text.splitlines()):
            self.armed = False
            if self.delay:
                threading.Timer(self.delay, os.kill, (os.getpid(), self.signum)).start()
            else:
                os.kill(os.getpid(), self.signum)
        return len(text)


@pytest.fixture(scope="module")
def shared_ray():
    """One local Ray for the in-process sweeps; a signal that comes after a sweep ended is dropped."""
    import ray

    before = {n: signal.getsignal(n) for n in interrupts.SIGNALS}
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    for n in interrupts.SIGNALS:
        signal.signal(n, lambda signum, frame: None)
    try:
        yield ray
    finally:
        ray.shutdown()
        for n, old in before.items():
            signal.signal(n, old)


def _in_process(ray, steps, path: Path, out: Path, spaces: list[str]) -> None:
    """Run the sweep of `path`, then resumes, each stopped by its step's signal at its moment; then a
    last resume. Each stop: Interrupted with its code and one line, and no trial left running."""
    call = {"path": str(path), "out": str(out)}
    for signum, marker, delay in steps:
        armed = _Armed(sys.stdout, signum, marker, delay)
        with pytest.raises(Interrupted) as stop, contextlib.redirect_stdout(armed):
            sweep(**call)
        what = f"{signal.Signals(signum).name} at {marker!r} (+{delay}s)"
        assert stop.value.exit_code == 128 + signum, what
        stopped = re.match(STOPPED, stop.value.message)
        assert stopped and int(stopped[1]) == _rows(out) < int(stopped[2]), (what, stop.value.message)
        free = wait_for(lambda: ray.available_resources().get("CPU") == 2, 30)
        assert free, f"{what}: trials left running: {ray.available_resources()}"
        call = {"path": None, "resume": str(out)}
    sweep(**call)
    _check_each_once(out, spaces)


@pytest.mark.slow
def test_a_sample_sweep_stops_at_every_moment_in_process(shared_ray, tmp_path):
    # trials of about a second, so the later moments still find trials to run on a quiet machine
    path = _yaml(
        tiny_experiment(tmp_path, samples=3, seed=1, epochs=3),
        dataset={"params": {"num_samples": 960, "size": 6, "num_classes": 3}},
    )
    steps = [  # a second or so after "training", the trials' actors are starting: inside Ray's waits
        (signal.SIGINT, r"^training ", 0.0),  # Tune about to start
        (signal.SIGTERM, r"^training ", 0.4),
        (signal.SIGHUP, r"^training ", 1.3),
        (signal.SIGINT, r"^training ", 2.9),
        (signal.SIGTERM, EPOCH, 0.0),  # inside Tune's callback
        (signal.SIGHUP, ROW, 0.0),  # a trial's row just recorded
    ]
    _in_process(shared_ray, steps, path, tmp_path / "out", ["anynet_x_c", "regnet_x"])


@pytest.mark.slow
def test_a_comparison_stops_at_every_moment_of_its_rounds(shared_ray, tmp_path):
    path = _yaml(
        tiny_experiment(tmp_path, samples=9, seed=2, epochs=2),
        spaces=[
            {
                "name": "anynet_x_c",
                "options": {"stages": 2, "max_depth": 2, "max_width": 16, "strides": [1, 2]},
            },
            {"name": "nds_vanilla", "options": {"depths": [12], "widths": [1]}},  # near chance
        ],
        dataset={"params": {"num_samples": 240, "size": 6, "num_classes": 3, "noise": 0.2}},
        training={"batch_size": 16},
        compare={"round": 3, "difference": 0.5},  # look 1 cannot separate, so round 2 runs
    )
    steps = [
        (signal.SIGTERM, r"^round 1/3", 0.0),  # between rounds: round 2 is planned next
        (signal.SIGINT, r"from the stored rows", 0.0),  # a resume replaying round 1
        (signal.SIGHUP, r"from the stored rows", 0.7),  # round 2 starting
        (signal.SIGTERM, ROW, 0.0),  # inside round 2
    ]
    _in_process(shared_ray, steps, path, tmp_path / "out", ["anynet_x_c", "nds_vanilla"])


@pytest.mark.slow
def test_an_optimize_sweep_stops_at_every_moment(shared_ray, tmp_path):
    path = _yaml(
        one_space_experiment(tmp_path, "opt", 4, 1, 96, {"max_concurrent": 2}),
        search={"mode": "optimize", "algorithm": "random", "scheduler": "none"},
    )
    steps = [
        (signal.SIGINT, r"^training ", 0.0),
        (signal.SIGTERM, r"^training ", 1.1),
        (signal.SIGHUP, r"^training ", 2.3),
        (signal.SIGINT, ROW, 0.0),  # while Optuna draws the next trial
    ]
    _in_process(shared_ray, steps, path, tmp_path / "out", ["anynet_x_c"])


# --- local means a Ray of the sweep's own, whatever else runs here -----------------------------


@pytest.mark.slow
def test_a_local_sweep_ignores_another_ray_and_outlives_it(tmp_path):
    """Another Ray cluster runs on this machine and RAY_ADDRESS names it (a bare ray.init() would
    join it); the sweep starts its own, and finishes every trial after the other is stopped."""
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: Ray's socket paths are limited
    port = _free_port()
    ray_start = [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", f"--port={port}"]
    with open(tmp_path / "other.txt", "w") as log:
        other = subprocess.Popen(
            [*ray_start, f"--temp-dir={temp}", "--num-cpus=1", "--include-dashboard=false", "--block"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    out, log_path = tmp_path / "out", tmp_path / "log.txt"
    path = tiny_experiment(tmp_path, samples=2, seed=0, epochs=2)
    try:
        up = wait_for(lambda: _answers(port), 120)
        assert up, (tmp_path / "other.txt").read_text()
        env = {**os.environ, "RAY_ADDRESS": f"127.0.0.1:{port}"}
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "nas.cli", "sweep", str(path), "--out", str(out), "--no-analyze"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        try:
            assert wait_for(lambda: _rows(out) >= 1, 300), log_path.read_text()
            assert other.poll() is None, (tmp_path / "other.txt").read_text()
            os.killpg(other.pid, signal.SIGTERM)  # the other cluster stops mid-sweep
            other.wait(timeout=60)
            assert proc.wait(timeout=300) == 0, log_path.read_text()
        finally:
            for pid in _session(proc.pid):
                os.kill(pid, signal.SIGKILL)
    finally:
        for pid in _session(other.pid):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)
    text = log_path.read_text()
    assert "starting Ray (local, " in text and "Ray ready" in text, text
    rows = [r for s in ("anynet_x_c", "regnet_x") for r in store.rows(out / s)]
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows), text

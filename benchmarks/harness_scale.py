"""Sweep harness at scale: what a sweep of N tiny trials costs beyond training them.

Tiny trials (a 2-stage AnyNetX_C on 64 synthetic 4x4 images, 1 epoch) make the harness,
not training, the cost. For each size the sweep runs as `nas sweep` in its own process (its
own local Ray), and this prints: the time until the first trial finished, the whole sweep,
the wall time per trial from the first trial's end to the sweep's (the workers' start left
out), the harness overhead per trial (that times the trial slots, minus a row's median wall
time: what a trial costs beyond its own work, concurrency accounted for), the
driver's peak RSS, and then on the finished sweep the time of `nas sweep --resume` (reads
the plan and rows, finds nothing to do) and of `nas results` (Python's start included).

Below each sample-mode size, the same split by Tuner (a sweep runs as Tuners of at most
`feed.TUNER_TRIALS` trials): the time per trial inside Tuners, over the first and the second
half of each Tuner's rows (does a Tuner slow as it fills?), the overhead that makes, and how
many Tuner changes there were and what each cost (one Tuner's last row to the next one's first).

The cluster mode runs N trials on a simulated 4-node cluster (`ray.cluster_utils.Cluster`,
1 CPU a node): the driver is killed (SIGKILL) once a quarter of the rows are in and the sweep
resumed; at half a worker node is killed and another added; then every planned trial must
have exactly one row (none lost, none repeated).

Optimize mode (`--optimize`, Optuna's random sampler: what the harness and the study's storage
cost, not a model-based sampler's own work, which grows with the trials it learns from) prints
the same figures, and below each size what the study (Optuna's sampler and storage) took per
trial in the driver, as the sweep says it, over the first and the last 100 trials, and the
overhead per trial without it (that time the slots: the driver's loop is serial).

With `--first` only the time to the first trial is measured: each size's sweep is stopped
(SIGINT) once its first trial finished, the sizes run twice in turn (100, 10000, 100, 10000)
so that the machine's load falls on both alike.

    python benchmarks/harness_scale.py [--sizes 100,1000,10000] [--optimize 100,1000] [--cluster 1000] [--quick]
    python benchmarks/harness_scale.py --first --sizes 100,10000
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from math import nan
from pathlib import Path

import yaml

SPACE = "anynet_x_c"
FIRST_ROW = re.compile(r"^\[\s*1/\d+\]")


def experiment(folder: Path, trials: int, concurrent: int, mode: str = "sample") -> Path:
    """An experiment file of `trials` tiny trials (`mode` optimize: drawn by Optuna's random
    sampler, no early stopping); returns its path."""
    exp = {
        "name": f"{mode}{trials}",
        "space": {"name": SPACE, "options": {"stages": 2, "max_depth": 1, "max_width": 8, "strides": [1, 2]}},
        "samples": trials,
        "seed": 0,
        "model": {"stem": {"type": "simple", "width": 8, "params": {"stride": 1}}},
        "dataset": {"name": "synthetic", "params": {"num_samples": 64, "size": 4, "num_classes": 3}},
        "training": {"epochs": 1, "batch_size": 64},
        "resources": {"cpus_per_trial": 1, "max_concurrent": concurrent, "max_retries": 3},
    }
    if mode == "optimize":
        exp["search"] = {"mode": "optimize", "algorithm": "random", "scheduler": "none"}
    path = folder / f"{mode}{trials}.yaml"
    path.write_text(yaml.safe_dump(exp))
    return path


@dataclass
class Watched:
    """A `nas` command run in its own session: when its lines appeared, and its peak RSS."""

    args: list[str]
    log: Path
    start: float = 0.0
    lines: list[tuple[float, str]] = field(default_factory=list)
    peak_kb: int = 0
    proc: subprocess.Popen | None = None

    def run(self) -> Watched:
        """Start the command; lines and memory are gathered by threads until it ends."""
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        self.start = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nas.cli", *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._poll, daemon=True).start()
        return self

    def _read(self) -> None:
        with open(self.log, "a", encoding="utf-8") as fh:
            for line in self.proc.stdout:
                self.lines.append((time.perf_counter() - self.start, line.rstrip("\n")))
                fh.write(line)

    def _poll(self) -> None:
        status = Path(f"/proc/{self.proc.pid}/status")
        while self.proc.poll() is None:
            try:
                hwm = next(x for x in status.read_text().splitlines() if x.startswith("VmHWM:"))
                self.peak_kb = max(self.peak_kb, int(hwm.split()[1]))
            except (OSError, StopIteration, ValueError):
                pass
            time.sleep(0.2)

    def wait(self, timeout: float | None = None) -> float:
        """Wait for the command to end (refusing a failure) and return its wall time."""
        code = self.proc.wait(timeout=timeout)
        time.sleep(0.3)  # the reader thread drains the last lines
        if code != 0:
            raise SystemExit(f"{' '.join(self.args)} exited {code}; see {self.log}")
        return time.perf_counter() - self.start

    def kill(self) -> None:
        """SIGKILL the driver (its own session: only what it started locally)."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def when(self, pattern: re.Pattern | str) -> float | None:
        """Seconds from start until the first line matching `pattern` appeared."""
        return next((t for t, line in self.lines if re.search(pattern, line)), None)


def rows(out: Path) -> list[dict]:
    """Every row line of the sweep's one run, duplicates included."""
    path = out / SPACE / "trials.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def _pace(ends: list[float]) -> float:
    """Seconds per trial between the first and the last of sorted row end times (nan for one)."""
    return (ends[-1] - ends[0]) / (len(ends) - 1) if len(ends) > 1 else nan


def tuner_spans(got: list[dict], per_tuner: int) -> dict[str, float]:
    """A sample sweep's time per trial split by Tuner (trial i runs in Tuner i // per_tuner: the
    benchmark's one space, one spec a trial, planned in order): inside Tuners (each one's first
    row's end to its last's, the median over Tuners), over the first and the second half of each
    Tuner's rows (the mean over Tuners of 2 or more rows a half: does a Tuner slow as it fills?),
    and the gap from one Tuner's last row to the next one's first (its end and the next one's
    start, the median over changes; nan for a single Tuner)."""
    ends: dict[int, list[float]] = {}
    for r in got:
        ends.setdefault(r["trial_index"] // per_tuner, []).append(r["finished_at"])
    inside, first, second, gaps = [], [], [], []
    for k in sorted(ends):
        t = sorted(ends[k])
        if len(t) > 1:
            inside.append(_pace(t))
        if len(t) >= 4:
            first.append(_pace(t[: len(t) // 2]))
            second.append(_pace(t[len(t) // 2 :]))
        if k + 1 in ends:
            gaps.append(min(ends[k + 1]) - t[-1])
    return {
        "inside": statistics.median(inside) if inside else nan,
        "first_half": statistics.fmean(first) if first else nan,
        "second_half": statistics.fmean(second) if second else nan,
        "changes": len(gaps),
        "change_s": statistics.median(gaps) if gaps else nan,
    }


def spans_line(f: dict[str, float], concurrent: int) -> str:
    """Sample mode: the time per trial inside Tuners and what each change of Tuner costs."""
    if f["changes"]:
        changes = f"; {f['changes']} Tuner change(s), {f['change_s']:.1f} s each (median)"
    else:
        changes = "; one Tuner"
    return (
        f"        inside Tuners {1e3 * f['inside']:.1f} ms a trial (a Tuner's first half "
        f"{1e3 * f['first_half']:.1f} ms, second half {1e3 * f['second_half']:.1f} ms), overhead "
        f"{1e3 * f['inside'] * slots(concurrent) - f['wall_ms']:.0f} ms{changes}"
    )


def slots(concurrent: int) -> int:
    """Trials that run at once: `concurrent`, else this machine's CPUs (one each)."""
    return concurrent or len(os.sched_getaffinity(0))


def local(trials: int, folder: Path, concurrent: int, mode: str = "sample") -> dict[str, float]:
    """One local sweep of `trials` tiny trials; its figures."""
    out = folder / f"out-{mode}{trials}"
    path = experiment(folder, trials, concurrent, mode)
    log = folder / f"log-{mode}{trials}.txt"
    w = Watched(["sweep", str(path), "--out", str(out), "--no-analyze"], log).run()
    whole = w.wait()
    got = rows(out)
    if sorted(r["trial_index"] for r in got) != list(range(trials)):
        raise SystemExit(f"{out}: {len(got)} rows for {trials} planned trials")
    resume = _timed(["sweep", "--resume", str(out), "--no-analyze"], "nothing to do")
    results = _timed(["results", str(out)], f"{trials} of {trials} trials recorded")
    began, first, ended = w.when(r"^training "), w.when(FIRST_ROW), w.when(r"^finished \d+ trials")
    per_trial = ((ended or whole) - first) / max(1, trials - 1)  # steady state: the workers' start left out
    wall = statistics.median(r["wall_time"] for r in got)  # a worker's first trial also imports torch
    train = statistics.median(r.get("train_time") or 0.0 for r in got)
    figures = {
        "first": first,
        "whole": whole,
        "setup": began or float("nan"),
        "per_trial_ms": 1e3 * per_trial,
        "overhead_ms": 1e3 * (per_trial * slots(concurrent) - wall),
        "wall_ms": 1e3 * wall,
        "train_ms": 1e3 * train,
        "peak_gb": w.peak_kb / 2**20,
        "resume": resume,
        "results": results,
    }
    if mode == "sample":
        from nas.sweeping.feed import TUNER_TRIALS

        figures.update(tuner_spans(got, TUNER_TRIALS))
    said = next((m for _, line in w.lines if (m := STUDY.search(line))), None)
    if mode == "optimize" and said is None:
        raise SystemExit(f"{log}: the search did not say what its study cost")
    if said:
        figures.update(zip(("study_ms", "study_first_ms", "study_last_ms"), map(float, said.groups())))
    return figures


STUDY = re.compile(
    r"sampler and study: \d+ trials, ([\d.]+) ms a trial \(first \d+: ([\d.]+) ms, last \d+: ([\d.]+) ms"
)


def study_line(f: dict[str, float], concurrent: int) -> str:
    """Optimize mode: what Optuna's sampler and study took per trial in the driver (serial work
    in the driver's loop, so it costs every slot), and the harness's overhead without it."""
    own = f["overhead_ms"] - f["study_ms"] * slots(concurrent)
    return (
        f"        Optuna's sampler and study {f['study_ms']:.1f} ms a trial (first 100 "
        f"{f['study_first_ms']:.1f} ms, last 100 {f['study_last_ms']:.1f} ms); "
        f"overhead per trial without it {own:.0f} ms"
    )


def first_only(trials: int, folder: Path, concurrent: int, turn: int) -> tuple[float, float, float]:
    """A sweep of `trials` tiny trials stopped (SIGINT to the driver alone, which shuts its Ray
    down) once its first trial finished: the seconds until Ray was up and the plan made (the
    `training` line), of them Ray's start, and until the first trial's row."""
    out = folder / f"out-first{trials}-{turn}"
    path = experiment(folder, trials, concurrent)
    w = Watched(
        ["sweep", str(path), "--out", str(out), "--no-analyze"], folder / f"log-first{trials}-{turn}.txt"
    ).run()
    _until(lambda: w.when(FIRST_ROW) is not None, w, every=0.05)
    os.kill(w.proc.pid, signal.SIGINT)
    if w.proc.wait(timeout=300) != 128 + signal.SIGINT:
        raise SystemExit(f"the sweep of {trials} did not stop as interrupted; see {w.log}")
    ray = next((float(m[1]) for _, line in w.lines if (m := re.search(r"Ray ready in ([\d.]+)s", line))), nan)
    return w.when(r"^training "), ray, w.when(FIRST_ROW)


def _timed(args: list[str], said: str) -> float:
    """Seconds a finished sweep's `nas` command takes (Python's start included); it must say `said`."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "nas.cli", *args], capture_output=True, text=True, env=env)
    if done.returncode != 0 or said not in done.stdout:
        raise SystemExit(
            f"nas {' '.join(args)}: exited {done.returncode}, not saying {said!r}: {done.stderr[-400:]}"
        )
    return time.perf_counter() - start


def cluster(trials: int, folder: Path) -> None:
    """The cluster mode: node killed and added, driver killed and resumed; exactly one row a trial."""
    from ray.cluster_utils import Cluster

    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        workers = [nodes.add_node(num_cpus=1) for _ in range(3)]
        nodes.wait_for_nodes()
        out = folder / "cluster"
        path = experiment(folder, trials, 0)
        log = folder / "cluster-log.txt"
        first = Watched(
            ["sweep", str(path), "--out", str(out), "--address", nodes.address, "--no-analyze"], log
        )
        _until(lambda: len(rows(out)) >= trials // 4, first.run())
        first.kill()
        killed_at = len(rows(out))
        print(f"cluster: {killed_at} rows in: killed the driver (SIGKILL), resuming", flush=True)
        again = Watched(
            ["sweep", "--resume", str(out), "--address", nodes.address, "--no-analyze"], log
        ).run()
        _until(lambda: len(rows(out)) >= trials // 2, again, every=0.05)
        nodes.remove_node(workers[0], allow_graceful=False)
        print(f"cluster: {len(rows(out))} rows in: killed a worker node, adding another", flush=True)
        nodes.add_node(num_cpus=1)
        resumed = again.wait()
    finally:
        nodes.shutdown()
    got = [r["trial_index"] for r in rows(out)]
    once = sorted(got) == list(range(trials))
    retried = sum(r.get("retries", 0) > 0 for r in rows(out))
    print(
        f"cluster (4 nodes x 1 CPU), {trials} trials: first driver {first.when(FIRST_ROW) or float('nan'):.1f}s "
        f"to the first trial, killed at {killed_at} rows; resumed run {resumed:.1f}s, driver peak "
        f"{max(first.peak_kb, again.peak_kb) / 2**20:.2f} GB; {len(got)} rows, {retried} retried; "
        f"every planned trial exactly one row: {'yes' if once else 'NO'}",
        flush=True,
    )
    if not once:
        raise SystemExit(f"{out}: rows are not exactly one per planned trial")


def _until(done, w: Watched, timeout: float = 3600.0, every: float = 0.2) -> None:
    """Wait until `done()`, refusing a driver that ended first."""
    deadline = time.monotonic() + timeout
    while not done():
        if w.proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the sweep ended or stalled before the cluster events; see {w.log}")
        time.sleep(every)


def row_line(n: int, f: dict[str, float]) -> str:
    """One size's figures, in the table's columns."""
    return (
        f"{n:>7} {f['setup']:>8.1f}s {f['first']:>8.1f}s {f['whole']:>7.1f}s "
        f"{f['per_trial_ms']:>7.0f}ms {f['overhead_ms']:>7.0f}ms {f['wall_ms']:>7.0f}ms "
        f"{f['train_ms']:>7.0f}ms {f['peak_gb']:>6.2f}GB {f['resume']:>6.1f}s {f['results']:>6.1f}s"
    )


def growth(figures: dict[int, dict[str, float]]) -> str:
    """How the driver's peak memory and the overhead per trial changed from the smallest size
    to the largest: memory per added trial, and the two overheads side by side."""
    if len(figures) < 2:
        return ""
    lo, hi = min(figures), max(figures)
    kb = (figures[hi]["peak_gb"] - figures[lo]["peak_gb"]) * 2**20 / (hi - lo)
    return (
        f"from {lo} to {hi} trials: driver peak +{kb:.1f} KB per added trial; overhead per trial "
        f"{figures[lo]['overhead_ms']:.0f} ms at {lo}, {figures[hi]['overhead_ms']:.0f} ms at {hi}"
    )


def main() -> None:
    """Parse the sizes, run each, print the tables (sample mode, optimize mode, the cluster mode)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100,1000,10000", help="comma-separated trial counts")
    ap.add_argument("--optimize", default="100,1000", help="trial counts of optimize mode ('': skip)")
    ap.add_argument("--cluster", type=int, default=1000, help="trials of the cluster mode (0: skip it)")
    ap.add_argument("--concurrent", type=int, default=0, help="max_concurrent (0: as many as fit)")
    ap.add_argument(
        "--quick", action="store_true", help="small sizes (12; cluster 16; no optimize) for a test"
    )
    ap.add_argument("--keep", help="folder for the sweeps and logs (default: a temporary one)")
    ap.add_argument(
        "--first",
        action="store_true",
        help="only the time to the first trial of each size (each sweep stopped after it), twice in turn",
    )
    args = ap.parse_args()
    sizes = [12] if args.quick else [int(x) for x in args.sizes.split(",") if x]
    searched = [] if args.quick else [int(x) for x in args.optimize.split(",") if x]
    trials = 16 if args.quick else args.cluster
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print(
            f"{len(os.sched_getaffinity(0))} CPUs here, {slots(args.concurrent)} trial slot(s); logs in {folder}"
        )
        if args.first:
            print(f"{'trials':>7} {'setup':>9} {'Ray up':>9} {'1st trial':>9}  (each size twice, in turn)")
            for turn, n in enumerate(sizes * 2):
                began, ray, first = first_only(n, folder, args.concurrent, turn)
                print(f"{n:>7} {began:>8.1f}s {ray:>8.1f}s {first:>8.1f}s", flush=True)
            return
        header = (
            f"{'trials':>7} {'setup':>9} {'1st trial':>9} {'sweep':>8} {'per trial':>9} "
            f"{'overhead':>9} {'row wall':>9} {'training':>9} {'peak RSS':>8} {'resume':>7} {'results':>7}"
        )
        for mode, counts in (("sample", sizes), ("optimize", searched)):
            if not counts:
                continue
            print(f"{mode} mode{' (Optuna random sampler, journal study)' if mode == 'optimize' else ''}")
            print(header, flush=True)
            figures = {}
            for n in counts:
                figures[n] = local(n, folder, args.concurrent, mode)
                print(row_line(n, figures[n]), flush=True)
                if mode == "optimize":
                    print(study_line(figures[n], args.concurrent), flush=True)
                else:
                    print(spans_line(figures[n], args.concurrent), flush=True)
            if len(figures) > 1:
                print(growth(figures), flush=True)
        if trials:
            cluster(trials, folder)


if __name__ == "__main__":
    main()

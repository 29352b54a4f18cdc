"""Spine benchmark, two figures from one run:

(a) analytic complexity time per spec versus FlopCounterMode on the built model;
(b) sweep harness overhead: a Ray Tune sweep of K trials versus the same K trainings in a
    plain loop in one process (same specs, same data, same budget, same concurrency 1).

    python benchmarks/spine.py [--specs 50] [--trials 6] [--epochs 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml

import spaces
from blocks.complexity import complexity, measure
from blocks.network import build
from blocks.spec import from_dict
from nas.config import load
from nas.records import store
from nas.sweeping.driver import sweep
from nas.sweeping.plan import prepare
from nas.training.datasets import load as load_data
from nas.training.loop import train
from spaces.base import Context


def bench_complexity(n: int) -> None:
    samples = spaces.sample(spaces.get("regnet_x"), n, 0, ctx=Context())
    specs = [s.spec for s in samples]
    t0 = time.perf_counter()
    for s in specs:
        complexity(s)
    analytic = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for s in specs:
        measure(build(s), s.input_shape)
    measured = (time.perf_counter() - t0) / n
    print(f"(a) complexity of {n} RegNetX specs at 224px")
    print(f"    analytic            {analytic * 1e3:9.3f} ms/spec")
    print(f"    build+FlopCounter   {measured * 1e3:9.3f} ms/spec")
    print(f"    ratio               {measured / analytic:9.0f}x faster analytically")


def bench_overhead(k: int, epochs: int) -> None:
    exp_dict = {
        "name": "overhead",
        "space": {
            "name": "anynet_x_c",
            "options": {"stages": 3, "max_depth": 2, "max_width": 48, "strides": [1, 2, 2]},
        },
        "samples": k,
        "seed": 0,
        "model": {"stem": {"type": "simple", "width": 16, "params": {"stride": 1}}},
        "dataset": {"name": "digits"},
        "training": {"epochs": epochs, "batch_size": 64},
        "resources": {"cpus_per_trial": 1, "max_concurrent": 1},
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "exp.yaml"
        path.write_text(yaml.safe_dump(exp_dict))
        exp = load(path)
        data = load_data("digits")
        runs = prepare(exp, Path(tmp) / "plain", data)
        t0 = time.perf_counter()
        for entry in runs[0].plan:
            train(from_dict(entry["spec"]), data, exp.training, seed=entry["seed"], threads=1)
        plain = time.perf_counter() - t0
        t0, wall0 = time.perf_counter(), time.time()
        sweep(str(path), out=str(Path(tmp) / "ray"))
        swept = time.perf_counter() - t0
        rows = store.rows(Path(tmp) / "ray" / exp.spaces[0].name)
    inner = sum(r["wall_time"] for r in rows)
    startup = min(r["finished_at"] - r["wall_time"] for r in rows) - wall0
    per_trial = (swept - startup - inner) / k
    print(f"(b) {k} trials x {epochs} epochs on digits, one at a time")
    print(f"    plain loop          {plain:8.1f} s  ({plain / k:.1f} s a trial)")
    print(f"    Ray Tune sweep      {swept:8.1f} s  (trials themselves {inner:.1f} s)")
    print(f"    start-up            {startup:8.1f} s  (sampling, Ray start, Tuner set-up; once per sweep)")
    print(
        f"    between trials      {per_trial:8.2f} s  a trial = {100 * per_trial / (inner / k):.1f} % of a trial's time"
    )
    print(
        f"    overhead, total     {(swept - plain) / swept * 100:8.1f} % of sweep wall time ({swept / plain:.2f}x)"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--specs", type=int, default=30)
    p.add_argument("--trials", type=int, default=6)
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args()
    bench_complexity(args.specs)
    bench_overhead(args.trials, args.epochs)


if __name__ == "__main__":
    main()

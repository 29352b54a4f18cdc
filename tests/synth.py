"""Synthetic run directories for analysis tests: real sampled specs, made-up errors, rows shaped
like `nas.sweeping.driver.make_row`, written through the store and the live experiment schema."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

import spaces
from blocks.spec import StemSpec
from nas import config
from nas.sweeping import store
from spaces import Context

CTX = Context((3, 8, 8), 10, StemSpec("simple", 8, {"stride": 1}))
REGNET = {"depth": [4, 12], "w0": [8, 64], "wa": [8.0, 64.0], "wm": [1.5, 3.0], "stages": [1, 4]}
ANYNET = {"stages": 3, "max_depth": 4, "max_width": 64, "strides": [1, 2, 2]}


def row(i: int, space: str, sample, status: str = "ok", error: float | None = None) -> dict[str, Any]:
    """One trial row with every field `make_row` writes."""
    return {
        "trial_index": i,
        "space": space,
        "experiment": "synth",
        "seed": i,
        "model_id": sample.spec.model_id,
        "spec": sample.spec.to_dict(),
        "values": sample.values,
        "complexity": sample.complexity.to_dict(),
        "status": status,
        "reason": "" if status == "ok" else f"synthetic {status}",
        "error": error if status == "ok" else None,
        "val_errors": [] if error is None else [error],
        "train_errors": [],
        "epochs": 1 if status == "ok" else 0,
        "wall_time": 1.0,
        "train_time": 1.0,
        "images_per_sec": 1.0,
        "device": "cpu",
        "host": "test",
        "finished_at": 0.0,
        "versions": {"nas": "0", "torch": "0", "ray": "0", "python": "3"},
    }


def write_run(
    root: Path,
    space: str,
    n: int,
    error: Callable[[dict[str, Any], np.random.Generator], float],
    *,
    options: dict[str, Any] | None = None,
    seed: int = 0,
    bad: dict[int, str] | None = None,
) -> Path:
    """A run of `n` specs sampled from `space`, error = error(values, rng); `bad` maps trial index to
    a not-ok status. The experiment is validated by nas.config, as a sweep writes it."""
    options = options if options is not None else (REGNET if space.startswith("regnet") else ANYNET)
    run = root / space
    run.mkdir(parents=True)
    exp = config.parse(
        {"name": "synth", "spaces": [{"name": space, "options": options}], "samples": n, "seed": seed},
        "synth.yaml",
    )
    (run / store.EXPERIMENT).write_text(yaml.safe_dump(exp.to_dict(), sort_keys=False))
    rng = np.random.default_rng(seed)
    samples = spaces.sample(spaces.get(space), n, seed, ctx=CTX, options=options)
    for i, s in enumerate(samples):
        store.append(run / store.PLAN, {"trial_index": i, "space": space, "values": s.values})
        status = (bad or {}).get(i, "ok")
        store.append(run / store.TRIALS, row(i, space, s, status, float(error(s.values, rng))))
    return run


def tiny_experiment(tmp_path: Path, samples: int, seed: int, epochs: int) -> Path:
    """A two-space experiment small enough to sweep through Ray in seconds; returns its path."""
    exp = {
        "name": "tiny",
        "spaces": [
            {
                "name": "anynet_x_c",
                "options": {"stages": 2, "max_depth": 2, "max_width": 16, "strides": [1, 2]},
            },
            {
                "name": "regnet_x",
                "options": {"depth": [2, 4], "w0": [8, 16], "wa": [8.0, 16.0], "stages": [1, 4]},
            },
        ],
        "samples": samples,
        "seed": seed,
        "model": {"stem": {"type": "simple", "width": 8, "params": {"stride": 1}}},
        "dataset": {"name": "synthetic", "params": {"num_samples": 96, "size": 6, "num_classes": 3}},
        "training": {"epochs": epochs, "batch_size": 32},
        "resources": {"cpus_per_trial": 1, "max_concurrent": 2},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(exp))
    return path

"""Synthetic run directories for analysis tests: real sampled specs, made-up errors, plan entries
and rows made as the sweep makes them (`PlanEntry`, `TrialRow`), written through the store and
the live experiment schema."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

import spaces
from blocks.spec import StemSpec
from nas import config
from nas.records import store
from nas.records.rows import PlanEntry, Status, TrialRow
from spaces import Context

CTX = Context((3, 8, 8), 10, StemSpec("simple", 8, {"stride": 1}))
REGNET = {"depth": [4, 12], "w0": [8, 64], "wa": [8.0, 64.0], "wm": [1.5, 3.0], "stages": [1, 4]}
ANYNET = {"stages": 3, "max_depth": 4, "max_width": 64, "strides": [1, 2, 2]}


def row(entry: PlanEntry, status: Status = Status.OK, error: float | None = None) -> TrialRow:
    """The row a sweep would record for `entry`: trained for one epoch to `error` when ok."""
    ok = status is Status.OK
    return TrialRow(
        entry,
        "synth",
        status,
        reason="" if ok else f"synthetic {status}",
        error=error if ok else None,
        val_errors=[] if error is None else [error],
        epochs=1 if ok else 0,
        wall_time=1.0,
        train_time=1.0,
        images_per_sec=1.0,
        device="cpu",
        host="test",
        versions={"nas": "0", "torch": "0", "ray": "0", "python": "3"},
    )


def write_run(
    root: Path,
    space: str,
    n: int,
    error: Callable[[dict[str, Any], np.random.Generator], float],
    *,
    options: dict[str, Any] | None = None,
    seed: int = 0,
    bad: dict[int, str] | None = None,
    label: str | None = None,
) -> Path:
    """A run of `n` specs sampled from `space`, error = error(values, rng); `bad` maps trial index to
    a not-ok status; `label` names the run as a space's label does. The experiment is validated by
    nas.config, as a sweep writes it."""
    options = options if options is not None else (REGNET if space.startswith("regnet") else ANYNET)
    run = root / (label or space)
    run.mkdir(parents=True)
    listed = {"name": space, "options": options, **({"label": label} if label else {})}
    exp = config.parse({"name": "synth", "spaces": [listed], "samples": n, "seed": seed}, "synth.yaml")
    (run / store.EXPERIMENT).write_text(yaml.safe_dump(exp.to_dict(), sort_keys=False))
    rng = np.random.default_rng(seed)
    samples = spaces.sample(spaces.get(space), n, seed, ctx=CTX, options=options)
    for i, s in enumerate(samples):
        entry = PlanEntry.drawn(i, label or space, seed, s)
        store.append(run / store.PLAN, entry.to_dict())
        store.append_row(run, row(entry, Status((bad or {}).get(i, "ok")), float(error(s.values, rng))))
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


def one_space_experiment(
    tmp_path: Path, name: str, samples: int, epochs: int, num_samples: int, resources: dict[str, Any]
) -> Path:
    """A one-space AnyNetX_C experiment on synthetic 3x8x8 data (fault and scheduling tests)."""
    exp = {
        "name": name,
        "space": {
            "name": "anynet_x_c",
            "options": {"stages": 2, "max_depth": 2, "max_width": 24, "strides": [1, 2]},
        },
        "samples": samples,
        "model": {"stem": {"type": "simple", "width": 8, "params": {"stride": 1}}},
        "dataset": {"name": "synthetic", "params": {"num_samples": num_samples, "size": 8, "num_classes": 3}},
        "training": {"epochs": epochs, "batch_size": 32},
        "resources": {"cpus_per_trial": 1, **resources},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(exp))
    return path

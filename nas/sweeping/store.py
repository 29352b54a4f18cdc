"""The results store of a run: one JSON line per finished trial, appended and fsynced as it
finishes, so rows survive a crash of the driver and can be read while a sweep runs.

A run directory holds `experiment.yaml` (what was asked), `plan.jsonl` (the sampled specs,
one per trial index) and `trials.jsonl` (the rows). `rows` and `plan` give the lines as dicts;
`trial_rows`, `plan_entries` and `append_row` read and write them as typed records.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from blocks.errors import UserError
from nas.sweeping.records import PlanEntry, TrialRow

TRIALS, PLAN, EXPERIMENT = "trials.jsonl", "plan.jsonl", "experiment.yaml"


def append(path: Path, row: dict[str, Any]) -> None:
    """Append one JSON row and force it to disk before returning."""
    line = json.dumps(row, sort_keys=True, default=_jsonable) + "\n"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file; a torn last line (a crash mid-write) is skipped, not fatal."""
    if not path.exists():
        return []
    rows = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break
            raise UserError(f"{path}: line {i + 1} is not valid JSON") from None
    return rows


def is_run(path: Path) -> bool:
    """Whether a directory is a run directory (it has a plan or trial rows)."""
    return (path / PLAN).exists() or (path / TRIALS).exists()


def find_runs(paths: list[str]) -> list[Path]:
    """Expand each argument into run directories: a run itself, or a sweep folder of runs."""
    out: list[Path] = []
    for arg in paths:
        p = Path(arg)
        if not p.is_dir():
            raise UserError(f"{p}: no such run directory")
        if is_run(p):
            out.append(p)
            continue
        subs = sorted(d for d in p.iterdir() if d.is_dir() and is_run(d))
        if not subs:
            raise UserError(f"{p}: not a run directory (no {TRIALS} or {PLAN} in it or its sub-folders)")
        out.extend(subs)
    return out


def rows(run: Path) -> list[dict[str, Any]]:
    """The trial rows of a run, in the order they finished; the last row wins per trial index."""
    latest: dict[Any, dict[str, Any]] = {}
    for row in read_jsonl(run / TRIALS):
        latest[row.get("trial_index", len(latest))] = row
    return list(latest.values())


def append_row(run: Path, row: TrialRow) -> None:
    """Record one finished trial of a run."""
    append(run / TRIALS, row.to_dict())


def trial_rows(run: Path) -> list[TrialRow]:
    """The trial rows of a run as records (see `rows`); a row that is not one is named."""
    return [_typed(TrialRow, row, run / TRIALS) for row in rows(run)]


def plan_entries(run: Path) -> list[PlanEntry]:
    """The planned trials of a run as records."""
    return [_typed(PlanEntry, entry, run / PLAN) for entry in plan(run)]


def _typed(record: type, data: dict[str, Any], path: Path) -> Any:
    try:
        return record.from_dict(data)
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"{path}: trial {data.get('trial_index')}: not a {record.__name__} ({err})") from None


def plan(run: Path) -> list[dict[str, Any]]:
    """The planned trials of a run (index, seed, spec, drawn values)."""
    return read_jsonl(run / PLAN)


def planned(run: Path) -> int:
    """How many trials a run was asked for: its plan (sample mode) or its samples (optimize)."""
    return len(plan(run)) or int(experiment(run).get("samples", 0))


def experiment(run: Path) -> dict[str, Any]:
    """The experiment mapping a run was started with."""
    path = run / EXPERIMENT
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text()) or {}

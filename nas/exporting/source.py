"""Where a named model comes from: a spec file, a zoo name, or a model id of a run (its row, else
its planned entry); the one lookup `nas build`, `nas retrain` and the Python API share."""

from __future__ import annotations

from pathlib import Path

from blocks.errors import UserError
from blocks.spec import ArchSpec, from_dict
from nas import zoo
from nas.records import store
from nas.records.rows import PlanEntry


def entry_of(model_id: str, runs: list[Path]) -> tuple[PlanEntry, Path] | None:
    """The entry of a model id among the runs' rows, else their plans, with its run directory."""
    for run in runs:
        for entry in [*(row.entry for row in store.trial_rows(run)), *store.plan_entries(run)]:
            if entry.model_id == model_id and entry.spec:
                return entry, run
    return None


def spec_of(source: str | Path, run: str | Path | None = None) -> ArchSpec:
    """The spec of a file or zoo name, or with `run` (a run directory or sweep folder) of one of
    its trials by model id."""
    if run is None or Path(source).is_file() or str(source) in zoo.names():
        return zoo.load_spec(source)
    found = entry_of(str(source), store.find_runs([str(run)]))
    if found is None:
        raise UserError(
            f"{source}: neither a spec file, a zoo network, nor a model id in {run}; its results list its models"
        )
    return from_dict(found[0].spec, f"{found[1]}: model {source}")

"""Keeping only the best K weights files of a run (experiment's keep_weights: K)."""

from __future__ import annotations

from pathlib import Path

from nas.records import store
from nas.records.rows import Status, TrialRow
from nas.records.weights import OWNER, weights_owner


def prune_weights(run_dir: Path, keep: int, rows: dict[str, TrialRow] | None = None) -> None:
    """Keep the `keep` kept weights files whose owner trials have the lowest errors; delete the
    others with their owner records, and claims left with no weights by a trial that has ended.
    `rows`: the run's rows by trial index, when the caller holds them (else read from the store).

    Files are ranked by the trial that produced them, not by model id: two trials of one model
    share one file, owned by the first to finish, so ranking trials would keep it for the other
    trial's error and drop another model's weights. A file whose owner has no row yet waits."""
    if rows is None:
        rows = {str(r.entry.trial_index): r for r in store.trial_rows(run_dir)}
    ranked = []
    for path in (run_dir / "weights").glob("*.pt"):
        owner = weights_owner(path)
        row = rows.get(owner or "")
        if owner is None:  # kept before owners were recorded: the model's best row ranks it
            ok = [r.error for r in rows.values() if r.status is Status.OK and r.entry.model_id == path.stem]
            ranked.append((min(ok, default=float("inf")), path))
        elif row is not None:
            ok = row.status is Status.OK and row.entry.model_id == path.stem
            ranked.append((row.error if ok else float("inf"), path))
    for _, path in sorted(ranked)[keep:]:
        path.unlink(missing_ok=True)
        path.with_suffix(OWNER).unlink(missing_ok=True)
    for claim in (run_dir / "weights").glob(f"*{OWNER}"):
        owner = weights_owner(claim.with_suffix(".pt"))
        if not claim.with_suffix(".pt").exists() and (owner == "" or owner in rows):
            claim.unlink(missing_ok=True)

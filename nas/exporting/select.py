"""Which trained models of one or more runs to export: the best K by error, the Pareto front of
error against FLOPs, or chosen model ids. Only trials whose status is ok are candidates."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from blocks.errors import ArgError, UserError, literal
from nas.records import store
from nas.records.order import best_first
from nas.records.rows import Status, TrialRow
from nas.records.weights import checked_id, id_problem, weights_owner, weights_path
from nas.stats.pareto import pareto_front

ORDERS = ("error", "pareto")


@dataclass(frozen=True)
class Candidate:
    """A finished trial row and the run directory it was recorded in."""

    row: TrialRow
    run: Path

    @property
    def model_id(self) -> str:
        return self.row.entry.model_id

    @property
    def error(self) -> float:
        return float(self.row.error)

    @property
    def flops(self) -> int:
        return int(self.row.entry.complexity["flops"])


def _usable(row: TrialRow) -> bool:
    return row.status == Status.OK and row.error is not None and math.isfinite(row.error)


def _kept(cand: Candidate) -> bool:
    """Whether the run kept this trial's weights: its weights file exists and names it as owner."""
    path = weights_path(cand.run, cand.model_id)
    return path.is_file() and weights_owner(path) in (None, str(cand.row.entry.trial_index))


def candidates(runs: list[Path]) -> list[Candidate]:
    """Ok rows with a finite error, best first; a model id trained twice keeps one row: the
    best of those whose weights were kept (so its error is that of the weights exported), else
    its best row."""
    best: dict[str, tuple[bool, float, Candidate]] = {}
    for run in runs:
        for row in store.trial_rows(run):
            checked_id(row.entry.model_id, f"{run / store.TRIALS}: trial {row.entry.trial_index}")
            cand = Candidate(row, run)
            if not _usable(row):
                continue
            rank = (not _kept(cand), cand.error, cand)
            if cand.model_id not in best or rank[:2] < best[cand.model_id][:2]:
                best[cand.model_id] = rank
    return ranked([c for _, _, c in best.values()])


def ranked(cands: list[Candidate]) -> list[Candidate]:
    """Candidates best first, in the order `nas analyze` lists its best models."""
    order = best_first(
        [c.error for c in cands],
        [c.flops for c in cands],
        [c.model_id for c in cands],
        [c.row.entry.trial_index for c in cands],
    )
    return [cands[i] for i in order]


def pareto(cands: list[Candidate]) -> list[Candidate]:
    """The non-dominated models on (error, FLOPs), lowest error first."""
    front = pareto_front([c.flops for c in cands], [c.error for c in cands])
    return ranked([cands[i] for i in front])


def choose(
    path: str | Path, *, top: int | None = None, by: str = "error", ids: list[str] | tuple[str, ...] = ()
) -> list[Candidate]:
    """The models to export from a run directory (or a sweep folder of runs): `ids` when given,
    else the `top` best by `by` (the whole front for pareto when `top` is None)."""
    where = str(path)
    if by not in ORDERS:
        raise ArgError("by", f"got {by!r}; legal: {list(ORDERS)}")
    if top is not None and top < 1:
        raise ArgError("top", f"expected a positive number of models, got {top}")
    if ids and top is not None:
        raise ArgError("", "give either {top} K or {id} MODEL_ID, not both", ["top", "id"])
    if not ids and top is None and by == "error":
        raise ArgError("", "give {top} K (the K lowest-error models) or {id} MODEL_ID", ["top", "id"])
    for model_id in ids:
        if id_problem(model_id):
            raise ArgError("id", id_problem(model_id))
    runs = store.find_runs([where])
    cands = candidates(runs)
    if ids:
        return [_by_id(model_id, cands, runs, where) for model_id in ids]
    if not cands:
        statuses = Counter(r.status.value for run in runs for r in store.trial_rows(run))
        seen = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) or "no trial rows yet"
        raise UserError(f"{where}: no trial with status ok to export ({seen})")
    chosen = pareto(cands) if by == "pareto" else cands
    return chosen if top is None else chosen[:top]


def _by_id(model_id: str, cands: list[Candidate], runs: list[Path], where: str) -> Candidate:
    """The candidate with this id, or a UserError saying how its trial ended or that none has it."""
    for cand in cands:
        if cand.model_id == model_id:
            return cand
    for run in runs:
        for row in store.trial_rows(run):
            if row.entry.model_id == model_id:
                why = f": {row.reason}" if row.reason else ""
                raise ArgError(
                    "",
                    f"{literal(run)}: {{id}} {literal(model_id)}: trial {row.entry.trial_index} ended "
                    f"{row.status.value}{literal(why)}; only ok trials export",
                    ["id"],
                )
    best = ", ".join(c.model_id for c in cands[:5]) or "none"
    raise ArgError(
        "",
        f"{literal(where)}: {{id}} {literal(repr(model_id))}: no trial with this model id; the best ok models "
        f"are {best} (all: the results of {literal(where)}, sorted by error)",
        ["id"],
    )

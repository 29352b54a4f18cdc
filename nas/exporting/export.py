"""Export chosen models in forms other people and tools load without this project's search
code, each into its own folder with its spec (`nas build` rebuilds it) and an index of all.

The formats and their checks live in nas.exporting.formats; the weights helpers in nas.exporting.weights (also
importable from here: weights_path, save_weights, load_weights).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from torch import nn

import nas
from blocks.complexity import complexity
from blocks.errors import UserError
from blocks.network import build
from blocks.spec import ArchSpec, from_dict, load
from nas.exporting.formats import FILES, FORMATS, GRAPHS, TOLERANCE, Check, parse_formats, write_and_check
from nas.exporting.select import Candidate
from nas.exporting.weights import fresh, load_weights, save_weights, weights_path
from nas.sweeping import store
from nas.sweeping.trial import OWNER

__all__ = ["Exported", "Job", "export_all", "load_weights", "run_job", "save_weights", "weights_path"]


@dataclass
class Job:
    """One model to export: its spec, what is known of where it came from, and its weights
    (a saved file, or a network already in memory)."""

    spec: ArchSpec
    record: dict[str, Any] = field(default_factory=dict)
    weights: Path | None = None
    model: nn.Module | None = None
    seed: int = 0

    @property
    def trained(self) -> bool:
        return self.weights is not None or self.model is not None


def run_job(cand: Candidate) -> Job:
    """A job for a trial of a run, with the run's kept weights when they exist."""
    row = cand.row
    spec = from_dict(row["spec"], f"{cand.run / store.TRIALS}: model {cand.model_id}")
    record = {
        "space": row.get("space"),
        "run": str(cand.run),
        "trial_index": row.get("trial_index"),
        "seed": row.get("seed"),
        "error": row.get("error"),
        "val_errors": row.get("val_errors"),
        "epochs": row.get("epochs"),
        "versions": row.get("versions"),
        "experiment": store.experiment(cand.run) or row.get("experiment"),
    }
    path = weights_path(cand.run, cand.model_id)
    kept = path.is_file() and _owned_by(path, row.get("trial_index"))
    return Job(spec, record, path if kept else None, seed=int(row.get("seed") or 0))


def _owned_by(weights: Path, trial_index: Any) -> bool:
    """Whether kept weights are this trial's: the sweep names their trial beside them (another
    trial of the same model id keeps none); files from before owners were recorded count."""
    owner = weights.with_suffix(OWNER)
    return not owner.exists() or owner.read_text(encoding="utf-8").strip() == str(trial_index)


def formats_for(job: Job, formats: tuple[str, ...] | None, random_init: bool) -> tuple[str, ...]:
    """The formats to write for a job; by default the spec, plus weights and the torch graphs
    when it has trained weights (only the graphs with --random-init)."""
    if formats is not None:
        return formats
    if job.trained:
        return ("spec", "weights", "torchscript", "exported")
    return ("spec", "torchscript", "exported") if random_init else ("spec",)


def check_weights(jobs: list[Job], formats: tuple[str, ...] | None, random_init: bool) -> None:
    """Fail before writing anything when a requested format needs weights that were not kept."""
    needs = [f for f in formats or () if f == "weights" or (f in GRAPHS and not random_init)]
    missing = [j for j in jobs if not j.trained]
    if not needs or not missing:
        return
    ids = ", ".join(j.spec.model_id for j in missing[:5]) + (", ..." if len(missing) > 5 else "")
    run = missing[0].record.get("run")
    if run:
        where = f"{Path(run) / 'weights' / '<model_id>.pt'} does not exist (the sweep keeps weights with keep_weights)"
        fix = f"nas retrain {missing[0].spec.model_id} --run {run} --epochs N"
    else:
        where, fix = "no --weights file was given", "nas retrain SPEC --epochs N --experiment EXP.yaml"
    other = "" if "weights" in needs else "; or export untrained graphs with --random-init"
    raise UserError(
        f"--format {','.join(needs)} needs trained weights, and none were kept for {len(missing)} of "
        f"{len(jobs)} model(s) ({ids}): {where}. Train one from scratch with `{fix}` and export "
        f"again{other}"
    )


@dataclass
class Exported:
    """One exported model: its folder, where its weights came from (trained: a kept or retrained
    file; given: a network passed in; random-init; none) and each file's check."""

    spec: ArchSpec
    dir: Path
    weights: str
    record: dict[str, Any]
    checks: list[Check]

    @property
    def model_id(self) -> str:
        return self.spec.model_id

    @property
    def ok(self) -> bool:
        return all(c.status in ("verified", "unverified") for c in self.checks)


def export_all(
    jobs: list[Job],
    out: str | Path,
    formats: str | Iterable[str] | None = None,
    *,
    random_init: bool = False,
    tolerance: float = TOLERANCE,
    on_done: Callable[[int, Exported], None] | None = None,
) -> list[Exported]:
    """Export every job into out/<model_id>/ and list them in out/index.csv; fails before
    writing anything when requested formats need weights that are missing."""
    if not 0 < tolerance < math.inf:
        raise UserError(f"--tolerance: expected a finite positive number, got {tolerance}")
    wanted = parse_formats(formats)
    check_weights(jobs, wanted, random_init)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    done = []
    for rank, job in enumerate(jobs, 1):
        fmts = formats_for(job, wanted, random_init)
        done.append(export_model(job, out, fmts, random_init=random_init, tolerance=tolerance))
        if on_done is not None:
            on_done(rank, done[-1])
    write_index(out / "index.csv", done)
    return done


def export_model(
    job: Job, out: Path, formats: tuple[str, ...], *, random_init: bool = False, tolerance: float = TOLERANCE
) -> Exported:
    """Write the requested formats of one model into out/<model_id>/ and check each file."""
    spec = job.spec
    model: nn.Module | None = None
    if job.model is not None:  # a CPU copy, so the caller's network keeps its device and mode
        model, weights = build(spec), "given"
        model.load_state_dict({k: v.cpu() for k, v in job.model.state_dict().items()})
        model.eval()
    elif job.weights is not None:
        model, weights = load_weights(spec, job.weights), "trained"
    elif random_init:
        model, weights = fresh(spec, job.seed), "random-init"
    else:
        weights = "none"
    folder = out / spec.model_id
    folder.mkdir(parents=True, exist_ok=True)
    for stale in set(FORMATS) - set(formats):  # an earlier export's files would look current
        (folder / FILES[stale]).unlink(missing_ok=True)
    checks = [write_spec(job, folder / FILES["spec"], weights)]
    if model is not None:
        checks += [
            write_and_check(f, model, spec, folder / FILES[f], tolerance) for f in formats if f != "spec"
        ]
    return Exported(spec, folder, weights, job.record, checks)


def write_spec(job: Job, path: Path, weights: str) -> Check:
    """The spec beside its record (where it came from, its complexity and error); `nas build`
    and blocks.spec.load read it back as the bare spec."""
    body = {
        "model_id": job.spec.model_id,
        "complexity": complexity(job.spec).to_dict(),
        "weights": weights,
        **job.record,
        "spec": job.spec.to_dict(),
    }
    header = (
        f"# Exported by nas-explorer {nas.__version__}: `nas build {path.name}` rebuilds this network "
        "from `spec`; the other fields record where it came from.\n"
    )
    path.write_text(header + yaml.safe_dump(body, sort_keys=False))
    same = load(path).to_dict() == job.spec.to_dict()
    return Check(
        "spec", path, "verified" if same else "failed", note="" if same else "reads back differently"
    )


def write_index(path: Path, done: list[Exported]) -> None:
    """index.csv: one line per exported model, best first, with each format's check."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["rank", "model_id", "space", "error", "flops", "params", "weights_source", *FORMATS])
        for rank, e in enumerate(done, 1):
            cx = complexity(e.spec)
            by_format = {c.format: c.describe() for c in e.checks}
            row = [
                rank,
                e.model_id,
                e.record.get("space", ""),
                e.record.get("error", ""),
                cx.flops,
                cx.params,
            ]
            writer.writerow([*row, e.weights, *(by_format.get(f, "") for f in FORMATS)])

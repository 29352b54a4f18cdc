"""Export chosen models in forms other people and tools load without this project's search
code, each into its own folder with its spec (`nas build` rebuilds it) and an index of all.

The formats and their checks live in nas.exporting.formats; the weights helpers in nas.records.weights (also
importable from here: weights_path, save_weights, load_weights).
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

import nas
from blocks.complexity import complexity
from blocks.errors import ArgError, UserError, literal
from blocks.network import build
from blocks.spec import ArchSpec, from_dict, load
from nas import outputs
from nas.exporting.formats import (
    FILES,
    FORMATS,
    GRAPHS,
    TOLERANCE,
    Check,
    default_graphs,
    parse_formats,
    write_and_check,
)
from nas.exporting.select import Candidate
from nas.records import store
from nas.records.weights import (
    fresh,
    load_weights,
    produced_by,
    read_source,
    save_weights,
    trial_threads,
    weights_owner,
    weights_path,
)
from nas.training import datasets as datamod

__all__ = [
    "Exported",
    "Job",
    "RawInput",
    "export_all",
    "load_weights",
    "run_job",
    "save_weights",
    "weights_path",
]


@dataclass
class Job:
    """One model to export: its spec, what is known of where it came from, its weights (a saved
    file, or a network already in memory), where those came from, and how its input is prepared."""

    spec: ArchSpec
    record: dict[str, Any] = field(default_factory=dict)
    weights: Path | None = None
    model: nn.Module | None = None
    seed: int = 0
    label: str = "trained"  # the spec record's `weights`: trained (by the sweep or a file) or retrained
    source: str = ""  # the spec record's `weights_source`
    preprocessing: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.weights is not None and not self.source:
            self.use(self.weights)

    @property
    def trained(self) -> bool:
        return self.weights is not None or self.model is not None

    def use(self, weights: str | Path, source: str = "", *, own: bool = False) -> None:
        """Export the weights in this file: `nas retrain`'s record beside it says where they came
        from (and how input was prepared), else `source`, else the file's name. Unless they are
        the trial's own (`own`, or found to be), the trial's error is not theirs: the record's `error` becomes
        the one recorded with the file (None when unknown) and the trial's is kept as `trial_error`."""
        self.weights = Path(weights)
        made = read_source(self.weights) or {}
        self.label = made.get("weights", "trained")
        self.source = made.get("weights_source") or source or f"file {weights}"
        self.preprocessing = self.preprocessing or made.get("preprocessing")
        self.record.pop("weights_note", None)
        if not (own or self._kept_by_trial()) and "trial_index" in self.record:
            trial_error = self.record.get("trial_error", self.record.get("error"))
            self.record = {**self.record, "error": made.get("error"), "trial_error": trial_error}
            self.record.pop("val_errors", None)

    def _kept_by_trial(self) -> bool:
        """Whether this job's weights file is the one its run kept for its trial, as that trial made it."""
        run, index = self.record.get("run"), self.record.get("trial_index")
        if run is None or self.weights is None or not self.weights.is_file():
            return False
        kept = weights_path(run, self.spec.model_id)
        return kept.is_file() and os.path.samefile(kept, self.weights) and produced_by(kept, index)


def run_job(cand: Candidate, preprocessing: dict[str, Any] | None) -> Job:
    """A job for a trial of a run, with the run's kept weights when they exist and its input's
    `preprocessing` (run_preprocessing of the run)."""
    row, entry = cand.row, cand.row.entry
    spec = from_dict(entry.spec, f"{cand.run / store.TRIALS}: model {cand.model_id}")
    experiment = store.experiment(cand.run) or row.experiment
    record = {
        "space": store.design_space(experiment or {}, entry.space),  # a labelled run's space, by name
        "run": str(cand.run),
        "trial_index": entry.trial_index,
        "seed": entry.seed,
        "error": row.error,
        "val_errors": row.val_errors,
        "epochs": row.epochs,
        "versions": row.versions,
        "experiment": experiment,
    }
    job = Job(spec, record, seed=entry.seed, preprocessing=preprocessing)
    path = weights_path(cand.run, cand.model_id)
    if produced_by(path, entry.trial_index):
        job.use(path, sweep_source(record), own=True)
    elif path.is_file():
        job.record["weights_note"] = f"{path} {not_produced(path, entry.trial_index)}"
    return job


def sweep_source(record: dict[str, Any]) -> str:
    """Where a run's kept weights came from: its trial, trained as the sweep trained it."""
    resources = (record.get("experiment") or {}).get("resources") or {}
    threads = trial_threads(float(resources.get("cpus_per_trial", 1)))
    return (
        f"sweep trial {record.get('trial_index')} of {record.get('run')} ({record.get('epochs')} "
        f"epochs, seed {record.get('seed')}, {threads} thread{'s' * (threads != 1)})"
    )


def run_preprocessing(run: Path) -> dict[str, Any] | None:
    """How a run's input was prepared: its preprocessing.json, written when the sweep was planned;
    for runs planned before that file existed, the dataset is read again (None if it cannot be)."""
    path = run / datamod.PREPROCESSING
    if path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None
    data = (store.experiment(run) or {}).get("dataset") or {}
    try:
        return datamod.load(data.get("name", ""), data.get("params"), str(run)).preprocessing()
    except UserError:
        return None


class RawInput(nn.Module):
    """A network that takes raw pixels: it standardises them per channel with the training
    split's mean and std, exactly as training did, before the network runs."""

    def __init__(self, net: nn.Module, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


def _fits(prep: dict[str, Any] | None, spec: ArchSpec) -> bool:
    """Whether a preprocessing record has a mean and std per channel of the spec's input."""
    channels = spec.input_shape[0]
    return bool(prep) and len(prep.get("mean") or ()) == channels == len(prep.get("std") or ())


def check_preprocessing(jobs: list[Job], raw_input: bool) -> None:
    """Fail before writing anything when --raw-input has no mean and std to bake in."""
    missing = [j.spec.model_id for j in jobs if raw_input and not _fits(j.preprocessing, j.spec)]
    if missing:
        raise ArgError(
            "",
            f"{{raw_input}} needs the training split's mean and std, unknown for {', '.join(missing[:5])}: "
            f"export from the run folder (its {datamod.PREPROCESSING}), or weights a retrain saved",
            ["raw_input"],
        )


def not_produced(weights: Path, trial_index: Any) -> str:
    """Why an existing kept-weights file is not trial `trial_index`'s, in a few words."""
    if read_source(weights) is not None:
        return "was written by a retrain, not by this trial; to export it, give it as the model's weights"
    owner = weights_owner(weights)
    if owner != str(trial_index):
        return f"holds trial {owner or '(unknown)'}'s weights of this model, not trial {trial_index}'s"
    return "changed since its trial kept it (its SHA-256 differs from the one recorded)"


def formats_for(job: Job, formats: tuple[str, ...] | None, random_init: bool) -> tuple[str, ...]:
    """The formats to write for a job; by default the spec, plus weights and the torch graphs
    when it has trained weights (only the graphs with --random-init)."""
    if formats is not None:
        return formats
    if job.trained:
        return ("spec", "weights", *default_graphs())
    return ("spec", *default_graphs()) if random_init else ("spec",)


def check_weights(jobs: list[Job], formats: tuple[str, ...] | None, random_init: bool) -> None:
    """Fail before writing anything when a requested format needs weights that were not kept."""
    needs = [f for f in formats or () if f == "weights" or (f in GRAPHS and not random_init)]
    missing = [j for j in jobs if not j.trained]
    if not needs or not missing:
        return
    ids = ", ".join(j.spec.model_id for j in missing[:5]) + (", ..." if len(missing) > 5 else "")
    run = missing[0].record.get("run")
    if run:
        where = missing[0].record.get("weights_note") or (
            f"{Path(run) / 'weights' / '<model_id>.pt'} does not exist (the sweep keeps weights with keep_weights)"
        )
        where = literal(where)
        fix = literal(f"retrain {missing[0].spec.model_id} from run {run} for N epochs")
    else:
        where, fix = "no {weights} file was given", "retrain the spec for N epochs on its experiment's data"
    other = "" if "weights" in needs else "; or export untrained graphs with {random_init}"
    raise ArgError(
        "",
        f"{{format}} {','.join(needs)} needs trained weights, and none were kept for {len(missing)} of "
        f"{len(jobs)} model(s) ({ids}): {where}. Train one from scratch ({fix}) and export "
        f"it with {{weights}} set to the file the retrain writes{other}",
        ["format", "weights", "random_init"],
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
    raw_input: bool = False,
    tolerance: float = TOLERANCE,
    on_done: Callable[[int, Exported], None] | None = None,
) -> list[Exported]:
    """Export every job into out/<model_id>/ and list them in out/index.csv (graphs that take raw
    pixels with `raw_input`); fails before writing anything when requested formats need weights
    or --raw-input needs a mean and std that are missing."""
    if not 0 < tolerance < math.inf:
        raise ArgError("tolerance", f"expected a finite positive number, got {tolerance}")
    wanted = parse_formats(formats)
    check_weights(jobs, wanted, random_init)
    check_preprocessing(jobs, raw_input)
    out = outputs.folder(str(out), "out")
    out.mkdir(parents=True, exist_ok=True)
    done = []
    for rank, job in enumerate(jobs, 1):
        fmts = formats_for(job, wanted, random_init)
        done.append(
            export_model(job, out, fmts, random_init=random_init, raw_input=raw_input, tolerance=tolerance)
        )
        if on_done is not None:
            on_done(rank, done[-1])
    write_index(out / "index.csv", done)
    return done


def network(job: Job, random_init: bool) -> tuple[nn.Module | None, str, str]:
    """The network to export (eval mode, CPU), its `weights` label and where they came from."""
    if job.model is not None:  # a CPU copy, so the caller's network keeps its device and mode
        model = build(job.spec)
        model.load_state_dict({k: v.cpu() for k, v in job.model.state_dict().items()})
        return model.eval(), "given", "a network passed to nas.export"
    if job.weights is not None:
        return load_weights(job.spec, job.weights), job.label, job.source
    if random_init:
        return fresh(job.spec, job.seed), "random-init", f"random initialisation, seed {job.seed}"
    return None, "none", ""


def export_model(
    job: Job,
    out: Path,
    formats: tuple[str, ...],
    *,
    random_init: bool = False,
    raw_input: bool = False,
    tolerance: float = TOLERANCE,
) -> Exported:
    """Write the requested formats of one model into out/<model_id>/ and check each file; the
    graphs standardise raw pixels themselves with `raw_input` (the weights file stays the bare
    network's state dict)."""
    spec = job.spec
    model, weights, source = network(job, random_init)
    folder = out / spec.model_id
    folder.mkdir(parents=True, exist_ok=True)
    for stale in set(FORMATS) - set(formats):  # an earlier export's files would look current
        (folder / FILES[stale]).unlink(missing_ok=True)
    checks = [write_spec(job, folder / FILES["spec"], weights, source, raw_input)]
    if model is not None:
        prep = job.preprocessing or {}
        graph = RawInput(model, prep["mean"], prep["std"]).eval() if raw_input else model
        record = input_record(job, raw_input).get("preprocessing")
        checks += [
            write_and_check(f, graph if f in GRAPHS else model, spec, folder / FILES[f], tolerance, record)
            for f in formats
            if f != "spec"
        ]
    return Exported(spec, folder, weights, job.record, checks)


def input_record(job: Job, raw_input: bool) -> dict[str, Any]:
    """The record's `preprocessing`: how raw pixels become network input, and which the graphs take."""
    if job.preprocessing is None:
        return {}
    takes = "raw pixels (the graphs standardise them)" if raw_input else "standardised input"
    return {"preprocessing": {**job.preprocessing, "graphs_take": takes}}


def write_spec(job: Job, path: Path, weights: str, source: str = "", raw_input: bool = False) -> Check:
    """The spec beside its record (where it and its weights came from, how its input is prepared,
    its complexity and error); `nas build` and blocks.spec.load read it back as the bare spec."""
    body = {
        "model_id": job.spec.model_id,
        "complexity": complexity(job.spec).to_dict(),
        "weights": weights,
        **({"weights_source": source} if source else {}),
        **job.record,
        **input_record(job, raw_input),
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
        writer = csv.writer(fh, lineterminator="\n")
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

"""Train one spec from scratch with an experiment's recipe (its dataset and training settings)
and save the weights, with a record of how they were made, for runs that kept no weights; a
run's model goes to RUN/retrained/, never over the weights the sweep kept for a trial."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from blocks import yamlio
from blocks.errors import ArgError, UserError, literal
from blocks.schema import schema_of
from blocks.spec import ArchSpec
from nas import config as cfgmod
from nas.config import Experiment
from nas.exporting.source import entry_of, spec_of
from nas.outputs import unlinked
from nas.records import store
from nas.records.weights import SOURCE, save_weights, trial_threads, write_source
from nas.training import datasets as datamod
from nas.training.config import TrainingConfig
from nas.training.loop import TrainResult, train
from nas.training.stream import loader_workers

MAX_THREADS = 1024  # CPU threads a retraining may ask for
MAX_EPOCHS = schema_of(TrainingConfig)["epochs"].high  # what an experiment file may ask
RETRAINED = "retrained"  # a run's folder of retrained weights, beside (never in) its weights/


@dataclass(frozen=True)
class Plan:
    """A checked retraining: the spec, its dataset, the training settings, seed, CPU threads (asked,
    else the recipe's trials'), weights file and the run that holds the spec as a trial (None when none does)."""

    spec: ArchSpec
    data: datamod.Dataset
    training: TrainingConfig
    seed: int
    out: Path
    run: Path | None = None
    threads: int = 1


def _record(path: Path) -> dict[str, Any]:
    """The record around an exported spec file (empty for a bare spec)."""
    data = yamlio.read(path)
    return data if isinstance(data, dict) and "spec" in data and "stages" not in data else {}


def _recipe(run: Path) -> Experiment:
    path = run / store.EXPERIMENT
    if not path.is_file():
        raise ArgError(
            "",
            f"{literal(run)}: no {store.EXPERIMENT}, so no training recipe; give {{experiment}} EXP.yaml",
            ["experiment"],
        )
    return cfgmod.parse(store.experiment(run), str(path))


def _spec(name: str, run: str | None) -> tuple[ArchSpec, dict[str, Any]]:
    """The spec named by a file, a zoo name or a model id of the run, and an exported file's record."""
    record = _record(Path(name)) if Path(name).is_file() else {}
    return spec_of(name, run), record


def prepare(
    spec: str,
    epochs: int | None = None,
    *,
    experiment: str | None = None,
    run: str | None = None,
    seed: int | None = None,
    out: str | None = None,
    force: bool = False,
    threads: int | None = None,
) -> Plan:
    """Resolve SPEC (a spec file, a zoo name, or with `run` a model id of that run) and its recipe
    (`experiment`, else the run's, else the one an exported spec file records), load the dataset
    and check that the spec fits it and that `out` may be written (see checked_out), before
    anything trains. A run's model is saved in RUN/retrained/, never over the sweep's weights."""
    if experiment and run:
        raise ArgError("", "give {experiment} or {run}, not both", ["experiment", "run"])
    if epochs is not None and not 1 <= epochs <= MAX_EPOCHS:
        raise ArgError("epochs", f"expected a number of epochs in [1, {MAX_EPOCHS}], got {epochs}")
    if threads is not None and not 1 <= threads <= MAX_THREADS:
        raise ArgError("threads", f"expected a number of CPU threads in [1, {MAX_THREADS}], got {threads}")
    if seed is not None:
        cfgmod.check_seed(seed)
    runs = store.find_runs([run]) if run else []
    arch, record = _spec(spec, run)
    found = entry_of(arch.model_id, runs)
    if experiment:
        exp = cfgmod.load(experiment)
    elif runs:
        exp = _recipe(found[1] if found else runs[0])
    elif isinstance(record.get("experiment"), dict):
        exp = cfgmod.parse(record["experiment"], f"{spec}: experiment")
    else:
        raise ArgError(
            "",
            f"{literal(spec)}: no training recipe; give {{experiment}} EXP.yaml or {{run}} RUN_DIR",
            ["experiment", "run"],
        )
    data = datamod.load(exp.dataset.name, exp.dataset.params, exp.source)
    if tuple(arch.input_shape) != tuple(data.input_shape) or arch.head.num_classes != data.num_classes:
        raise UserError(
            f"{exp.source}: dataset {data.name} has input {list(data.input_shape)} and "
            f"{data.num_classes} classes, but model {arch.model_id} takes {list(arch.input_shape)} and "
            f"predicts {arch.head.num_classes}; pick the experiment the spec was sampled for"
        )
    epochs = epochs or exp.training.epochs
    warmup = min(exp.training.warmup_epochs, epochs - 1)
    training = replace(exp.training, epochs=epochs, warmup_epochs=warmup)
    if seed is None:
        seed = found[0].seed if found else int(record.get("seed") or 0)
    if out is None:
        name = f"{arch.model_id}-{epochs}ep-seed{seed}.pt"
        out = found[1] / RETRAINED / name if found else Path(name)
    threads = threads or trial_threads(exp.resources.cpus_per_trial)
    return Plan(
        arch, data, training, seed, checked_out(Path(out), force), found[1] if found else None, threads
    )


def checked_out(out: Path, force: bool) -> Path:
    """The weights file to write: never a run's kept weights (they are a trial's, and its row's
    error describes them), never through a symbolic link in a run folder, and an existing file
    (or its source record) only with `force`."""
    real = out.resolve()
    if real.parent.name == "weights" and store.is_run(real.parent.parent):
        raise UserError(
            "",
            f"{{out}} {literal(out)}: is in {literal(real.parent)}, where the sweep keeps its trials' weights, "
            f"which retraining never replaces; give another {{out}} (default: RUN/{RETRAINED}/)",
            ["out"],
        )
    if out.parent.name == RETRAINED and store.is_run(out.parent.parent):
        for path in (out.parent, out, out.with_name(out.name + SOURCE)):
            unlinked(path)
    if out.is_dir():
        raise ArgError(
            "",
            f"{{out}} {literal(out)}: is a folder; give a file name such as {literal(out / 'weights.pt')}",
            ["out"],
        )
    source = out.with_name(out.name + SOURCE)
    taken = [p for p in (out, source) if p.exists() or p.is_symlink()]
    if taken and not force:
        raise ArgError(
            "",
            f"{literal(taken[0])}: exists; give {{force}} to replace it, or another {{out}}",
            ["force", "out"],
        )
    return out


def retrain(
    plan: Plan, *, threads: int | None = None, on_epoch: Callable[[int, dict], None] | None = None
) -> TrainResult:
    """Train the plan's spec from scratch (with the sweep's threads unless told otherwise, since
    the thread count changes the result) and save its weights to plan.out, with their source."""
    threads = threads or plan.threads
    result = train(
        plan.spec,
        plan.data,
        plan.training,
        seed=plan.seed,
        threads=threads,
        workers=loader_workers(threads),
        on_epoch=on_epoch,
    )
    save_weights(result.model, plan.out)
    epochs = plan.training.epochs
    how = f"{epochs} epoch{'s' * (epochs != 1)}, seed {plan.seed}, {threads} thread{'s' * (threads != 1)}"
    write_source(
        plan.out,
        {
            "weights": "retrained",
            "weights_source": f"retrained by nas retrain ({how}; val error {result.error:.2f}%)",
            "model_id": plan.spec.model_id,
            "epochs": epochs,
            "seed": plan.seed,
            "threads": threads,
            "error": result.error,
            "val_errors": result.val_errors,
            "preprocessing": plan.data.preprocessing(),
        },
    )
    return result

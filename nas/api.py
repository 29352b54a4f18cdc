"""The Python API, mirroring the CLI: `nas.load_spec`, `nas.build`, `nas.export`, `nas.retrain`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from torch import nn

from blocks.errors import UserError
from blocks.network import Network
from blocks.network import build as build_network
from blocks.spec import ArchSpec
from nas.exporting import export as ex
from nas.exporting import retrain as rt
from nas.exporting.formats import TOLERANCE
from nas.exporting.select import choose
from nas.exporting.weights import load_weights
from nas.training.loop import TrainResult
from nas.zoo import load_spec

__all__ = ["build", "export", "load_spec", "retrain"]


def build(spec: ArchSpec | str | Path, weights: str | Path | None = None) -> nn.Module:
    """The network of a spec (or spec file, or zoo name): freshly initialised, or with the
    weights saved in `weights` (then on the CPU in eval mode)."""
    arch = spec if isinstance(spec, ArchSpec) else load_spec(spec)
    return load_weights(arch, weights) if weights is not None else build_network(arch)


def export(
    source: str | Path | ArchSpec | Network,
    out: str | Path,
    *,
    top: int | None = None,
    by: str = "error",
    ids: Iterable[str] = (),
    formats: str | Iterable[str] | None = None,
    weights: str | Path | None = None,
    random_init: bool = False,
    tolerance: float = TOLERANCE,
    on_done: Callable[[int, ex.Exported], None] | None = None,
) -> list[ex.Exported]:
    """Export to out/<model_id>/ (see nas.export for formats and checks) from a run directory or
    sweep folder (top/by/ids choose the models; `weights` replaces the kept file of a single id),
    a spec file or zoo name (with a `weights` file), an ArchSpec, or a built network (with its
    current weights); on_done(rank, result) per model."""
    ids = list(ids)
    path = Path(weights) if weights is not None else None
    is_run = isinstance(source, (str, Path)) and (Path(source).is_dir() or top is not None or bool(ids))
    if is_run and path is not None and len(ids) != 1:
        raise UserError("--weights goes with one model: a spec file or zoo name, or a run with one --id")
    if is_run:
        jobs = [ex.run_job(c) for c in choose(source, top=top, by=by, ids=ids)]
        jobs[0].weights = path or jobs[0].weights
    elif isinstance(source, Network):
        jobs = [ex.Job(source.spec, model=source)]
    else:
        arch = source if isinstance(source, ArchSpec) else load_spec(source)
        record = {} if isinstance(source, ArchSpec) else {"source": str(source)}
        jobs = [ex.Job(arch, record, path)]
    return ex.export_all(jobs, out, formats, random_init=random_init, tolerance=tolerance, on_done=on_done)


def retrain(
    spec: str | Path,
    epochs: int | None = None,
    *,
    experiment: str | Path | None = None,
    run: str | Path | None = None,
    out: str | Path | None = None,
    seed: int | None = None,
    threads: int | None = None,
    on_epoch: Callable[[int, dict], None] | None = None,
) -> tuple[Path, TrainResult]:
    """Train a spec file, zoo network or (with `run`) a run's model id from scratch with the
    experiment's recipe; returns where the weights were saved and the training result."""
    plan = rt.prepare(
        str(spec),
        epochs,
        experiment=None if experiment is None else str(experiment),
        run=None if run is None else str(run),
        seed=seed,
        out=None if out is None else str(out),
    )
    return plan.out, rt.retrain(plan, threads=threads, on_epoch=on_epoch)

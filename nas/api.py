"""The Python API, mirroring the CLI verb for verb: `nas.sweep`, `nas.plan` (`--dry-run`),
`nas.results`, `nas.analyze`, `nas.refine`, `nas.sample`, `nas.build`,
`nas.export`, `nas.retrain`, `nas.predict` (`nas.load_spec` is nas.zoo's; the module `nas.hdc` serves `nas hdc`). Heavy modules (torch,
Ray, pandas) load inside the call that needs them, so reading results stays quick."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blocks.errors import ArgError, UserError
from nas import outputs
from nas.analysis.defaults import LEVEL, SUBSAMPLE

if TYPE_CHECKING:
    import pandas
    from torch import nn

    from blocks.network import Network
    from blocks.spec import ArchSpec
    from nas.analysis.refine import Refinement
    from nas.analysis.result import Analysis
    from nas.config import Experiment
    from nas.exporting.export import Exported
    from nas.exporting.predict import Prediction
    from nas.records.rows import PlanEntry, TrialRow
    from nas.sweeping.plan import Run
    from nas.training.loop import TrainResult
    from spaces import Sample

__all__ = [
    "Plan",
    "analyze",
    "build",
    "export",
    "plan",
    "predict",
    "refine",
    "results",
    "retrain",
    "sample",
    "sweep",
]


def sweep(
    experiment: str | Path | None = None,
    *,
    overrides: Sequence[str] = (),
    out: str | Path | None = None,
    address: str | None = None,
    resume: str | Path | None = None,
) -> list[Run]:
    """Sample and train an experiment file through Ray Tune (`nas sweep`): `overrides` are
    `PATH=VALUE` settings (`--set`), `resume` a killed sweep folder to finish; returns its runs."""
    from nas.sweeping.driver import sweep as run_sweep

    return run_sweep(
        None if experiment is None else str(experiment),
        out=None if out is None else str(out),
        address=address,
        resume=None if resume is None else str(resume),
        overrides=overrides,
    )


@dataclass(frozen=True)
class Plan:
    """What a sweep would train (`nas sweep --dry-run`): the validated experiment, the dataset's
    input, and per space the drawn trials (in optimize mode, random draws Optuna does not reuse);
    `data_checked` is False where the input and classes came from the dataset's declaration
    (cifar10; imagefolder with size and classes) and no file was read."""

    experiment: Experiment
    input_shape: tuple[int, ...]
    num_classes: int
    trials: dict[str, list[PlanEntry]]
    data_checked: bool = True


def plan(experiment: str | Path, overrides: Sequence[str] = ()) -> Plan:
    """Validate an experiment and sample its spaces as a sweep would, training and writing nothing."""
    from nas import config
    from nas.sweeping import memory
    from nas.sweeping.plan import context, plan_space
    from nas.training import datasets
    from spaces import Context

    exp = config.load(experiment, overrides)
    memory.check_samples(exp)
    known = datasets.declared(exp.dataset.name, exp.dataset.params, exp.source)
    if known is None:
        ctx = context(exp, datasets.load(exp.dataset.name, exp.dataset.params, exp.source))
    else:  # planned from the declaration alone: the files need not be on disk yet
        ctx = Context(known[0], known[1], exp.model.stem, dict(exp.model.head))
    trials = {sc.name: plan_space(exp, i, ctx) for i, sc in enumerate(exp.spaces)}
    return Plan(exp, tuple(ctx.input_shape), ctx.num_classes, trials, data_checked=known is None)


def results(path: str | Path, *, frame: bool = False) -> list[TrialRow] | pandas.DataFrame:
    """The trial rows of a run directory or sweep folder (`nas results`), as TrialRow records (a
    sweep's runs one after the other; `row.entry.space` tells them apart), or with `frame=True`
    as one pandas DataFrame with the columns of `nas results --csv`."""
    from nas.records import store, table

    if frame:
        return _frame(*table.table(table.read(path)[1]))
    return [row for run in store.find_runs([str(path)]) for row in store.trial_rows(run)]


def _frame(columns: list[str], lines: list[dict[str, Any]]) -> pandas.DataFrame:
    """A DataFrame of table lines, a column of whole numbers as pandas' nullable Int64 (a cell a
    row lacks is <NA>, not a float NaN); a one-line error when pandas is not installed."""
    try:
        import pandas
    except ImportError:
        raise UserError("results(frame=True) needs pandas: pip install 'nas-explorer[pandas]'") from None
    frame = pandas.DataFrame(lines, columns=columns)
    for name in columns:
        cells = [line[name] for line in lines if line.get(name) is not None]
        if cells and all(type(c) is int for c in cells):  # bool is no count
            frame[name] = pandas.array([line.get(name) for line in lines], dtype="Int64")
    return frame


def analyze(
    runs: str | Path | Iterable[str | Path],
    *,
    figure: str | Path | None = None,
    report: str | Path | None = None,
    figures: bool | None = None,
    **settings: Any,
) -> Analysis:
    """Compare runs by their EDFs (`nas analyze`): runs or sweep folders; `settings` are the
    fields of nas.analysis.result.Settings (measure, bins, level, ...). Figures are written only
    when asked: `figures=True`, or a `figure` path (which gets the main EDF and nothing beside it)
    or a `report` folder (new, empty, or one an earlier report wrote); `nas.analysis.figures.write(result)`
    writes them later without recomputing anything."""
    from nas.analysis.analyze import Settings
    from nas.analysis.analyze import analyze as run_analysis
    from nas.records import store

    paths = [runs] if isinstance(runs, (str, Path)) else list(runs)
    return run_analysis(
        store.find_runs([str(p) for p in paths]),
        None if figure is None else Path(figure),
        report=None if report is None else Path(report),
        settings=Settings(**settings),
        figures=figures,
    )


def refine(
    run: str | Path,
    out: str | Path | None = None,
    *,
    params: Sequence[str] | None = None,
    subsample: float = SUBSAMPLE,
    level: float = LEVEL,
    force: bool = False,
) -> tuple[dict[str, Any], Refinement]:
    """Narrow one run's space to where its good models are (`nas refine`): the refined experiment
    mapping and the refinement; written as YAML to `out` when given and an option narrows
    (`narrows`: a file that repeats the run's space is not worth a sweep). Refused for a folder
    of several runs, and from fewer than MIN_MODELS finished models unless `force`."""
    from nas.analysis.refine import refine_run, write
    from nas.analysis.result import MIN_MODELS, Settings, few
    from nas.records import store

    Settings(subsample=subsample, level=level)  # refused as nas.analyze refuses them
    target = None if out is None else outputs.file(str(out), "out", example="refined.yaml")
    runs = store.find_runs([str(run)])
    if len(runs) != 1:
        raise UserError(f"{run}: holds {len(runs)} runs; refine one of them: {[str(r) for r in runs]}")
    experiment, ref = refine_run(runs[0], None if params is None else list(params), subsample, level)
    if few(ref.models) and not force:
        raise ArgError(
            "force",
            f"not set, and {runs[0]} has {ref.models} finished models; intervals from fewer than "
            f"{MIN_MODELS} are mostly noise, so no refined experiment is written (set it to write one, "
            "labelled indicative only)",
        )
    if target is not None and narrows(ref):
        write(experiment, ref, runs[0], target)
    return experiment, ref


def narrows(ref: Refinement) -> bool:
    """Whether a refinement narrows any option (else every interval covers its option's whole range)."""
    return any(c["after"] != c["before"] for c in ref.changes)


def sample(
    space: str,
    n: int = 5,
    *,
    seed: int = 0,
    input_shape: tuple[int, int, int] = (3, 224, 224),
    classes: int = 1000,
    options: dict[str, Any] | None = None,
) -> list[Sample]:
    """Draw `n` specs from a design space with their complexity (`nas sample`)."""
    import spaces

    ctx = spaces.Context(tuple(input_shape), classes)
    return spaces.sample(spaces.get(space), n, seed, ctx=ctx, options=options or {})


def build(
    spec: ArchSpec | str | Path, weights: str | Path | None = None, *, run: str | Path | None = None
) -> nn.Module:
    """The network of a spec (or spec file, zoo name, or with `run` a model id of that run or sweep
    folder): freshly initialised, or with the weights saved in `weights` (then on the CPU in eval mode)."""
    from blocks.network import build as build_network
    from blocks.spec import ArchSpec
    from nas.records.weights import load_weights

    arch = spec if isinstance(spec, ArchSpec) else find_spec(spec, run)
    return load_weights(arch, weights) if weights is not None else build_network(arch)


def find_spec(source: str | Path, run: str | Path | None = None) -> ArchSpec:
    """The spec of a file or zoo name, or with `run` (a run directory or sweep folder) of one of
    its trials by model id, as `nas retrain ID --run RUN` finds it."""
    from blocks.spec import from_dict
    from nas.records import store
    from nas.zoo import load_spec, names

    if run is None or Path(source).is_file() or str(source) in names():
        return load_spec(source)
    for found in store.find_runs([str(run)]):
        for entry in [*store.rows(found), *store.plan(found)]:
            if entry.get("model_id") == str(source) and entry.get("spec"):
                return from_dict(entry["spec"], f"{found}: model {source}")
    raise UserError(
        f"{source}: neither a spec file, a zoo network, nor a model id in {run}; its models: nas results {run}"
    )


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
    raw_input: bool = False,
    tolerance: float | None = None,
    on_done: Callable[[int, Exported], None] | None = None,
) -> list[Exported]:
    """Export to out/<model_id>/ (see nas.export for formats and checks) from a run directory or
    sweep folder (top/by/ids choose the models; `weights` replaces the kept file of a single id),
    a spec file or zoo name (with a `weights` file), an ArchSpec, or a built network (with its
    current weights); raw_input bakes the training split's standardisation into the graphs;
    on_done(rank, result) per model; tolerance defaults to the formats' own."""
    from blocks.network import Network
    from blocks.spec import ArchSpec
    from nas.exporting import export as ex
    from nas.exporting.formats import TOLERANCE
    from nas.exporting.select import choose
    from nas.zoo import load_spec

    ids = list(ids)
    path = Path(weights) if weights is not None else None
    is_run = isinstance(source, (str, Path)) and (Path(source).is_dir() or top is not None or bool(ids))
    if is_run and path is not None and len(ids) != 1:
        raise UserError("--weights goes with one model: a spec file or zoo name, or a run with one --id")
    if is_run:
        chosen = choose(source, top=top, by=by, ids=ids)
        prepared = {c.run: ex.run_preprocessing(c.run) for c in chosen}  # once per run, not per model
        jobs = [ex.run_job(c, prepared[c.run]) for c in chosen]
        if path is not None:
            jobs[0].use(path)
    elif isinstance(source, Network):
        jobs = [ex.Job(source.spec, model=source)]
    else:
        arch = source if isinstance(source, ArchSpec) else load_spec(source)
        record = {} if isinstance(source, ArchSpec) else {"source": str(source)}
        jobs = [ex.Job(arch, record, path)]
    tol = TOLERANCE if tolerance is None else tolerance
    with outputs.writing(str(out)):  # a full disk or a folder made read-only midway: one line
        return ex.export_all(
            jobs, out, formats, random_init=random_init, raw_input=raw_input, tolerance=tol, on_done=on_done
        )


def retrain(
    spec: str | Path,
    epochs: int | None = None,
    *,
    experiment: str | Path | None = None,
    run: str | Path | None = None,
    out: str | Path | None = None,
    seed: int | None = None,
    threads: int | None = None,
    force: bool = False,
    on_epoch: Callable[[int, dict], None] | None = None,
) -> tuple[Path, TrainResult]:
    """Train a spec file, zoo network or (with `run`) a run's model id from scratch with the
    experiment's recipe; returns where the weights were saved (RUN/retrained/ for a run's model;
    an existing `out` is replaced only with `force`) and the training result."""
    from nas.exporting import retrain as rt

    plan = rt.prepare(
        str(spec),
        epochs,
        experiment=None if experiment is None else str(experiment),
        run=None if run is None else str(run),
        seed=seed,
        out=None if out is None else str(out),
        force=force,
    )
    return plan.out, rt.retrain(plan, threads=threads, on_epoch=on_epoch)


def predict(source: str | Path, image: str | Path, *, out: str | Path | None = None) -> Prediction:
    """Run an export (its folder or spec.yaml, with weights.pt beside it) on one image file
    (`nas predict`): a segmentation network's mask is written to `out` as a palette PNG in its
    classes' colours; a classifier's top class is returned."""
    from nas.exporting.predict import predict as run_predict

    return run_predict(source, image, out)

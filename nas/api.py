"""The Python API, mirroring the CLI verb for verb: `nas.sweep`, `nas.plan` (`--dry-run`),
`nas.results`, `nas.analyze`, `nas.refine`, `nas.explore`, `nas.sample`, `nas.build`, `nas.export`,
`nas.retrain`, `nas.predict` (`nas.load_spec` is nas.zoo's; the module `nas.hdc` serves `nas hdc`), and what
the CLI prints beside them (tables, listings, text reports). Every check on an argument lives
here or below, so the API refuses what the CLI refuses, in the same words; keyword names are
the flags' names. Heavy modules (torch, Ray, pandas) load inside the call that needs them, so
reading results stays quick."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blocks.errors import ArgError, UserError, literal
from nas import outputs
from nas.analysis.defaults import LEVEL, MEASURES, SUBSAMPLE
from nas.records.table import SORTS
from nas.sweeping.interrupts import Interrupted

if TYPE_CHECKING:
    import pandas
    from torch import nn

    from blocks.complexity import Complexity, Part
    from blocks.network import Network
    from blocks.registry import Family
    from blocks.spec import ArchSpec
    from nas.analysis.refine import Refinement
    from nas.analysis.result import Analysis
    from nas.config import Experiment
    from nas.exploring.folder import Exploration
    from nas.exporting.export import Exported
    from nas.exporting.predict import Prediction
    from nas.exporting.retrain import Plan as RetrainPlan
    from nas.records.rows import PlanEntry, TrialRow
    from nas.sweeping.plan import Run
    from nas.training.loop import TrainResult
    from spaces import Sample, Space

__all__ = [
    "FIGURE_FORMATS",
    "LEVEL",
    "MEASURES",
    "SORTS",
    "SUBSAMPLE",
    "ArgError",
    "Interrupted",
    "Plan",
    "Results",
    "Summary",
    "UserError",
    "analysis_text",
    "analyze",
    "block_families",
    "build",
    "complexity",
    "design_spaces",
    "explore",
    "export",
    "literal",
    "measure",
    "narrows",
    "options",
    "plan",
    "predict",
    "refine",
    "results",
    "results_table",
    "retrain",
    "sample",
    "check_schedule",
    "schedule_text",
    "suggest",
    "suggest_text",
    "summary",
    "sweep",
    "zoo",
]

FIGURE_FORMATS = ("png", "pdf", "svg")


def sweep(
    experiment: str | Path | None = None,
    *,
    overrides: Sequence[str] = (),
    out: str | Path | None = None,
    address: str | None = None,
    resume: str | Path | None = None,
) -> list[Run]:
    """Sample and train an experiment file through Ray Tune (`nas sweep`): `overrides` are
    `PATH=VALUE` settings (`--overrides`), `resume` a killed sweep folder to finish; returns its runs."""
    from nas.sweeping.driver import sweep as run_sweep

    if experiment is None and resume is None:
        raise ArgError("", "give an experiment file, or {resume} DIR", ["resume"])
    if resume is not None and out is not None:
        raise ArgError(
            "",
            "{out} and {resume}: a resumed sweep stays in its folder; give only {resume} DIR",
            ["out", "resume"],
        )
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
    comparison: str = ""  # what the sweep's sequential comparison will do, when it asks for one


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
    trials = {sc.run: plan_space(exp, i, ctx) for i, sc in enumerate(exp.spaces)}
    comparison = ""
    if exp.compare:
        from nas.sweeping.compare import designed, planned_line

        comparison = planned_line(designed(exp))
    shape = tuple(ctx.input_shape)
    return Plan(exp, shape, ctx.num_classes, trials, data_checked=known is None, comparison=comparison)


def results(path: str | Path, *, frame: bool = False) -> list[TrialRow] | pandas.DataFrame:
    """The trial rows of a run directory or sweep folder (`nas results`), as TrialRow records (a
    sweep's runs one after the other; `row.entry.space` tells them apart), or with `frame=True`
    as one pandas DataFrame with the columns of `nas results --csv`."""
    from nas.records import store, table

    if frame:
        return _frame(*table.table(table.typed(table.read(path)[1])))
    return [row for run in store.find_runs([str(path)]) for row in store.trial_rows(run)]


@dataclass(frozen=True)
class Results:
    """The rows of a run directory or sweep folder as `nas results` shows them: each run's rows
    (by folder name) in the chosen order, how many trials each was asked for, and its folder."""

    single: bool  # the path is one run, not a sweep folder of runs
    runs: dict[str, list[dict[str, Any]]]
    planned: dict[str, int]
    dirs: dict[str, Path]

    def table(self) -> tuple[list[str], list[dict[str, Any]]]:
        """The columns and lines of one table of every run's rows (`nas results --csv`)."""
        from nas.records import table

        return table.table(table.typed(self.runs))

    def class_names(self, run: str) -> list[str]:
        """The class names run `run`'s preprocessing record lists ([] where it has none)."""
        from nas.records import table

        return table.class_names(self.dirs[run])


def results_table(path: str | Path, *, sort: str = "trial_index") -> Results:
    """The rows of a run directory or sweep folder as `nas results` shows them, each run's in
    `sort` order (one of SORTS)."""
    from nas.records import store, table

    single, runs = table.read(path, sort)
    dirs = {d.name: d for d in store.find_runs([str(path)])}
    return Results(single, runs, {name: store.planned(d) for name, d in dirs.items()}, dirs)


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
    format: str | None = None,  # noqa: A002  (the flag's name)
    report: str | Path | None = None,
    figures: bool | None = None,
    **settings: Any,
) -> Analysis:
    """Compare runs by their EDFs (`nas analyze`): runs or sweep folders; `settings` are the
    fields of nas.analysis.result.Settings (normalize, bins, level, ...). Figures are written only
    when asked: `figures=True` (into analysis/ of the sweep folder), or a `figure` path (which gets
    the main EDF and nothing beside it), a `format` (png, pdf, svg; default the figure's suffix)
    or a `report` folder (new, empty, or one an earlier report wrote);
    `nas.analysis.figures.write(result)` writes them later without recomputing anything."""
    from nas.analysis.analyze import Settings
    from nas.analysis.analyze import analyze as run_analysis
    from nas.records import store

    checked = Settings(**settings)  # refused first, as the flags are read first
    placed = figure is not None or format is not None or report is not None
    if figures is False and placed:
        raise ArgError(
            "",
            "{no_figures} goes with neither {figure}, {format} nor {report} (a report shows them)",
            {"no_figures": "figures=False", "figure": "figure", "format": "format", "report": "report"},
        )
    if format is not None and format not in FIGURE_FORMATS:
        raise ArgError("format", f"expected one of {list(FIGURE_FORMATS)}, got {format!r}")
    folder = outputs.folder(str(report), "report") if report is not None else None
    paths = [runs] if isinstance(runs, (str, Path)) else list(runs)
    found = store.find_runs([str(p) for p in paths])
    main = None if figure is None else _main_figure(str(figure), format)
    fmt = format or (main.suffix[1:].lower() if main else "png")
    with outputs.writing("figures and report"):
        return run_analysis(
            found, main, report=folder, settings=checked, figures=placed or bool(figures), fmt=fmt
        )


def _main_figure(figure: str, fmt: str | None) -> Path:
    """The main EDF's path; its suffix, when no format is given, sets every figure's format."""
    path = outputs.figure_file(figure, "figure")
    if fmt and path.suffix[1:].lower() != fmt:
        raise ArgError(
            "",
            f"{{figure}} {literal(figure)} and {{format}} {literal(fmt)} disagree; give one, or a matching suffix",
            ["figure", "format"],
        )
    return path


def analysis_text(result: Analysis) -> str:
    """The plain-text report `nas analyze` prints: each run's statistics, the tests between runs
    and where the figures went."""
    from nas.analysis.text import format_report

    return format_report(result)


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


def explore(
    experiment: str | Path | None = None,
    *,
    overrides: Sequence[str] = (),
    out: str | Path | None = None,
    address: str | None = None,
    resume: str | Path | None = None,
) -> Exploration:
    """Refine the experiment's one space step by step (`nas explore`): each step sweeps fresh models
    of the space and of every candidate refinement, keeps the best candidate shown no worse than its
    parent (non-inferiority, error held over the whole path), and stops when none is; `resume` a
    killed exploration folder to go on from the step it was in."""
    from contextlib import ExitStack

    from nas.exploring.folder import explore_folder, sweep_trainer
    from nas.sweeping.ray_start import check_address

    check_address(address)
    with ExitStack() as held:  # the Ray the first round to train starts, shut down at the end
        return explore_folder(
            None if experiment is None else str(experiment),
            None if out is None else str(out),
            None if resume is None else str(resume),
            tuple(overrides),
            sweep_trainer(address, held),
        )


def narrows(ref: Refinement) -> bool:
    """Whether a refinement narrows any option (else every interval covers its option's whole range)."""
    return any(c["after"] != c["before"] for c in ref.changes)


def sample(
    space: str,
    n: int = 5,
    *,
    seed: int = 0,
    input_shape: tuple[int, int, int] | str = (3, 224, 224),
    classes: int = 1000,
    options: dict[str, Any] | None = None,
    flops: tuple[float | None, float | None] = (None, None),
    params: tuple[float | None, float | None] = (None, None),
    acts: tuple[float | None, float | None] = (None, None),
    dedupe: bool = False,
) -> list[Sample]:
    """Draw `n` specs from a design space with their complexity (`nas sample`): `flops`, `params`
    and `acts` are (low, high) bounds (None leaves a side open) and `dedupe` draws again instead of
    repeating a spec; `n` is bounded as an experiment's samples, `seed` as its seed; `input_shape`
    may be given as its text, "3,224,224"."""
    import spaces
    from blocks.errors import ParamError
    from blocks.schema import schema_of
    from nas.config import Experiment
    from nas.seeds import check_seed

    shape = _shape(input_shape)
    too_many = schema_of(Experiment)["samples"].check(n)  # the bound of an experiment's samples
    if too_many:
        raise ArgError("n", too_many)
    check_seed(seed)
    if classes < 1:
        raise ArgError("classes", f"expected a positive number of classes, got {classes}")
    space_ = spaces.get(space)
    try:
        limits = spaces.Limits(tuple(flops), tuple(params), tuple(acts))
    except ParamError as err:  # NaN, a negative bound or an empty range
        raise ArgError(err.field, err.message) from None
    ctx = spaces.Context(shape, classes)
    return spaces.sample(space_, n, seed, ctx=ctx, options=options or {}, limits=limits, dedupe=dedupe)


def _shape(value: tuple[int, ...] | str) -> tuple[int, int, int]:
    """An input shape C,H,W of positive ints, from a tuple or its text "3,224,224" (`--input-shape`)."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    if isinstance(value, str) and all(p.strip().isdigit() for p in parts):
        parts = [int(p) for p in parts]
    if len(parts) != 3 or not all(type(p) is int and p > 0 for p in parts):
        raise ArgError("input_shape", f"expected C,H,W positive ints, got {value!r}")
    return (parts[0], parts[1], parts[2])


def options(items: Iterable[str]) -> dict[str, Any]:
    """Space options from KEY=YAML settings (`nas sample --options`), each value read as YAML."""
    from blocks import yamlio

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ArgError("options", f"expected KEY=VALUE, got {item!r}")
        try:
            out[key] = yamlio.loads(value, key)
        except UserError as err:  # malformed YAML, named with its key
            raise ArgError("", f"{{options}} {literal(str(err))}", ["options"]) from None
    return out


def design_spaces(name: str | None = None) -> list[Space]:
    """The registered design spaces (`nas spaces`), or the one named; UnknownName for another."""
    import spaces

    return [spaces.get(n) for n in ([name] if name else spaces.names())]


def block_families(name: str | None = None) -> list[Family]:
    """The registered block families, stems then stages then heads (`nas blocks`), or those
    named `name` (a name may be a stem and a head alike); UnknownName when none is."""
    from blocks import library, registry
    from blocks.errors import UnknownName

    every = [fam for kind in registry.KINDS for fam in library.families(kind)]
    chosen = [fam for fam in every if name is None or fam.name == name]
    if not chosen:
        raise UnknownName("block", str(name), [fam.name for fam in every])
    return chosen


def zoo() -> dict[str, ArchSpec]:
    """The zoo's networks by name (`nas build --list`)."""
    from nas import zoo as registry

    return {name: registry.get(name) for name in registry.names()}


def complexity(spec: ArchSpec | str | Path) -> Complexity:
    """The analytic parameters, FLOPs and activations of a spec (or spec file, or zoo name)."""
    from blocks.complexity import complexity as cost
    from blocks.spec import ArchSpec
    from nas.zoo import load_spec

    return cost(spec if isinstance(spec, ArchSpec) else load_spec(spec))


MAX_CHECK_BLOCKS = 2_000  # measuring 1,000 blocks takes half a minute of CPU; more is refused


@dataclass(frozen=True)
class Summary:
    """A spec with its cost per part and in total (`nas build`)."""

    spec: ArchSpec
    parts: list[Part]
    total: Complexity

    @property
    def blocks(self) -> int:
        """How many blocks its stages hold."""
        return sum(st.depth for st in self.spec.stages)


def summary(spec: ArchSpec | str | Path, *, run: str | Path | None = None, check: bool = False) -> Summary:
    """The per-part cost of a spec (or spec file, zoo name, or with `run` a model id of that run
    or sweep folder); `check` refuses one too large for `measure` before anything is built."""
    from blocks.complexity import breakdown
    from blocks.complexity import complexity as cost
    from blocks.spec import ArchSpec

    arch = spec if isinstance(spec, ArchSpec) else find_spec(spec, run)
    out = Summary(arch, breakdown(arch), cost(arch))
    if check and out.blocks > MAX_CHECK_BLOCKS:
        raise ArgError(
            "",
            f"{literal(spec)}: {{check}} builds and runs every block through PyTorch's counter, minutes for "
            f"{out.blocks:,} blocks; it measures at most {MAX_CHECK_BLOCKS:,} (leave out {{check}} for the "
            "analytic summary)",
            ["check"],
        )
    return out


def measure(spec: ArchSpec, name: str = "") -> Complexity:
    """What PyTorch measures on the built spec (parameters by numel, FLOPs by its counter), refused
    or stopped with one line, naming `name`, when it cannot fit in memory."""
    from blocks.complexity import measure as counted
    from blocks.network import build as build_network
    from nas.sweeping import memory

    name = name or spec.name or spec.model_id
    have = memory.check_build(name, complexity(spec))
    try:
        with memory.limited(have):
            return counted(build_network(spec), spec.input_shape)
    except (MemoryError, RuntimeError) as err:
        if not memory.out_of_memory(err):
            raise
        raise UserError(
            f"{name}: out of memory building and measuring it ({memory.gb(have)} available)"
        ) from None


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
    from nas.exporting.source import spec_of

    return spec_of(source, run)


def export(
    source: str | Path | ArchSpec | Network,
    out: str | Path,
    *,
    top: int | None = None,
    by: str = "error",
    id: str | Iterable[str] = (),  # noqa: A002  (the flag's name)
    format: str | Iterable[str] | None = None,  # noqa: A002  (the flag's name)
    weights: str | Path | None = None,
    random_init: bool = False,
    raw_input: bool = False,
    tolerance: float | None = None,
    on_done: Callable[[int, Exported], None] | None = None,
) -> list[Exported]:
    """Export to out/<model_id>/ (see nas.export for formats and checks) from a run directory or
    sweep folder (top/by/id choose the models, `id` one model id or several; `weights` replaces the
    kept file of a single id; `format` one name, a comma-separated list or names),
    a spec file or zoo name (with a `weights` file), an ArchSpec, or a built network (with its
    current weights); raw_input bakes the training split's standardisation into the graphs;
    on_done(rank, result) per model; tolerance defaults to the formats' own."""
    from blocks.network import Network
    from blocks.spec import ArchSpec
    from nas.exporting import export as ex
    from nas.exporting.formats import TOLERANCE
    from nas.exporting.select import choose
    from nas.zoo import load_spec

    ids = [id] if isinstance(id, str) else list(id)
    path = Path(weights) if weights is not None else None
    is_run = isinstance(source, (str, Path)) and (Path(source).is_dir() or top is not None or bool(ids))
    if is_run and path is not None and len(ids) != 1:
        raise ArgError(
            "",
            "{weights} goes with one model: a spec file or zoo name, or a run with one {id}",
            ["weights", "id"],
        )
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
            jobs, out, format, random_init=random_init, raw_input=raw_input, tolerance=tol, on_done=on_done
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
    on_start: Callable[[RetrainPlan], None] | None = None,
    on_epoch: Callable[[int, dict], None] | None = None,
) -> tuple[Path, TrainResult]:
    """Train a spec file, zoo network or (with `run`) a run's model id from scratch with the
    experiment's recipe; returns where the weights were saved (RUN/retrained/ for a run's model;
    an existing `out` is replaced only with `force`) and the training result. `on_start(plan)`
    hears the checked plan before training starts, `on_epoch(epoch, metrics)` each epoch."""
    from nas.exporting import retrain as rt

    plan = rt.prepare(
        str(spec),
        epochs,
        experiment=None if experiment is None else str(experiment),
        run=None if run is None else str(run),
        seed=seed,
        out=None if out is None else str(out),
        force=force,
        threads=threads,
    )
    if on_start is not None:
        on_start(plan)
    return plan.out, rt.retrain(plan, threads=threads, on_epoch=on_epoch)


@contextmanager
def _named(names: dict[str, str]) -> Iterator[None]:
    """Errors of the gridding maths named by this API's arguments (`length` is `layers` here)."""
    from blocks.errors import ParamError

    try:
        yield
    except ParamError as err:
        raise ArgError(names.get(err.field, err.field), err.message) from None


def check_schedule(
    schedule: Sequence[int], kernel: int = 3, *, plot: str | Path | None = None
) -> dict[str, Any]:
    """Whether a dilation schedule has gridding holes (`nas hdc 1,2,5`): the report of its rates
    under a kernel, with the HDC rules it keeps; `plot` draws its path-count map there."""
    from blocks.gridding import validate
    from nas import hdc

    with _named({}):
        checked = validate(list(schedule), kernel)
    path = outputs.figure_file(str(plot), "plot") if plot is not None else None
    rep = hdc.report(checked, kernel)
    if path is not None:
        with outputs.writing("plot", argument=True):
            hdc.plot(checked, kernel, path)
    return rep


def schedule_text(report: dict[str, Any]) -> str:
    """The text `nas hdc SCHEDULE` prints for a schedule's report."""
    from nas import hdc

    return hdc.format_report(report)


def suggest(layers: int, kernel: int = 3, *, max_rate: int = 20, top: int = 10) -> list[dict[str, Any]]:
    """Hole-free schedules of `layers` rates up to `max_rate`, widest receptive field first, the
    `top` best (`nas hdc suggest`)."""
    from nas import hdc

    with _named({"length": "layers"}):
        return hdc.suggest(layers, kernel, max_rate, top)


def suggest_text(rows: list[dict[str, Any]], layers: int, kernel: int = 3, max_rate: int = 20) -> str:
    """The table `nas hdc suggest` prints."""
    from nas import hdc

    return hdc.format_suggestions(rows, layers, kernel, max_rate)


def predict(source: str | Path, image: str | Path, *, out: str | Path | None = None) -> Prediction:
    """Run an export (its folder or spec.yaml, with weights.pt beside it) on one image file
    (`nas predict`): a segmentation network's mask is written to `out` as a palette PNG in its
    classes' colours; a classifier's top class is returned."""
    from nas.exporting.predict import predict as run_predict

    return run_predict(source, image, out)

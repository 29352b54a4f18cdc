"""The typed record of `nas analyze`: the settings, each run's statistics, the comparisons between
runs and where the figures and report went, with one conversion to the JSON `--json` prints.

Intervals and refinements computed from fewer than `MIN_MODELS` models carry `few_models`, which
the text, figures and report turn into a visible note.

Fields made with `hidden` hold what the figures draw from (the models' errors, complexity and
design values, Pareto indices, weights); the JSON leaves them out. Fields made with `optional`
are left out of the JSON while they are None, so each record prints only what it has.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from blocks.errors import ArgError
from nas.analysis.defaults import LEVEL, MEASURES, SUBSAMPLE
from nas.seeds import SEED_HIGH

GUIDED = (
    "came from guided search (mode: optimize): its models are what the search chose, not random "
    "samples of the space, so its EDF, bootstrap and random-search figures describe the search"
)

MIN_MODELS = 10  # fewer models than this make a bootstrap band, interval or refinement indicative only


def few(n: int) -> bool:
    """Whether a statistic from n models falls under `MIN_MODELS` and is labelled so."""
    return bool(n < MIN_MODELS)


def few_note(n: int) -> str:
    """The label of a statistic from too few models, as text, figures and report print it."""
    return f"from {n} models (fewer than {MIN_MODELS}): indicative only"


def hidden(**kwargs: Any) -> Any:
    """A field the figures read and the JSON leaves out."""
    return field(repr=False, metadata={"json": "hidden"}, **kwargs)


def optional() -> Any:
    """A field the JSON leaves out while it is None."""
    return field(default=None, metadata={"json": "optional"})


def jsonable(value: Any) -> Any:
    """Plain JSON: records as dicts of their shown fields, arrays as lists, NaN as null, paths as str."""
    if is_dataclass(value) and not isinstance(value, type):
        shown = ((f, getattr(value, f.name)) for f in fields(value))
        value = {
            f.name: v
            for f, v in shown
            if f.metadata.get("json") != "hidden" and not (f.metadata.get("json") == "optional" and v is None)
        }
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


MAX_BINS = 1000
MAX_BOOTSTRAP = 1_000_000


@dataclass(frozen=True)
class Settings:
    """The knobs of `nas analyze`, named as its flags; each is checked here, so the CLI and the
    Python API refuse the same values with the same words."""

    log: bool = False
    normalize: str = "flops"  # complexity measure of the normalised EDF; "none" skips it
    bins: int | None = None  # complexity bins; None: about 5 models per bin in the smallest run
    bootstrap: int = 1000  # bootstrap resamples of each EDF band and each power estimate
    failed_as_error: float | None = None  # error given to failed/diverged trials; None leaves them out
    top: int = 10  # best models listed per run
    subsample: float = SUBSAMPLE  # share of the models each best-model bootstrap draw takes
    level: float = LEVEL  # confidence of bands and intervals; the KS tests' significance is 1 - level
    power: float = 0.8  # target power of the models-needed estimate
    seed: int = 0

    def __post_init__(self) -> None:
        for name, why in self.problems():
            raise ArgError(name, why)

    def problems(self) -> Iterator[tuple[str, str]]:
        """(setting, what is legal) for each illegal value, in the order of the fields."""
        if self.normalize not in MEASURES:
            yield "normalize", f"expected one of {list(MEASURES)}, got {self.normalize!r}"
        if self.bins is not None and not (_int(self.bins) and 1 <= self.bins <= MAX_BINS):
            yield "bins", f"expected a number of bins in [1, {MAX_BINS}], got {self.bins!r}"
        if not (_int(self.bootstrap) and 0 <= self.bootstrap <= MAX_BOOTSTRAP):
            yield (
                "bootstrap",
                f"expected a number of resamples in [0, {MAX_BOOTSTRAP}], got {self.bootstrap!r}",
            )
        fae = self.failed_as_error
        if fae is not None and not (_real(fae) and 0 <= fae < math.inf):
            yield "failed_as_error", f"expected a finite error >= 0 (e.g. 100), got {fae!r}"
        if not (_int(self.top) and self.top >= 0):
            yield "top", f"expected 0 or more models, got {self.top!r}"
        if not (_real(self.subsample) and 0 < self.subsample <= 1):
            yield "subsample", f"expected a share in (0, 1], got {self.subsample!r}"
        if not (_real(self.level) and 0 < self.level < 1):
            yield "level", f"expected a confidence in (0, 1), got {self.level!r}"
        if not (_real(self.power) and 0 < self.power < 1):
            yield "power", f"expected a power in (0, 1), got {self.power!r}"
        if not (_int(self.seed) and 0 <= self.seed <= SEED_HIGH):
            yield "seed", f"expected an int in [0, {SEED_HIGH}], got {self.seed!r}"


def _int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _real(value: Any) -> bool:
    return _int(value) or (isinstance(value, (float, np.floating)) and not math.isnan(value))


@dataclass(frozen=True)
class Curve:
    """An EDF F on an error grid with its pointwise bootstrap band [lo, hi], resampled from
    fewer than `MIN_MODELS` models if `few_models`."""

    grid: np.ndarray
    F: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    few_models: bool = False


@dataclass(frozen=True)
class Search:
    """Random-search efficiency: the expected best error of k random models, for each k."""

    k: np.ndarray
    expected_best: np.ndarray


@dataclass(frozen=True)
class Refined:
    """A run's refined space (narrowed options, the models still inside it), or a note saying why
    there is none; `few_models` when its intervals came from fewer than `MIN_MODELS` models."""

    changes: list[dict[str, Any]] | None = optional()
    unmapped: list[dict[str, str]] | None = optional()
    inside: dict[str, float] | None = optional()  # summary of the models inside, and their share
    command: str | None = optional()
    few_models: bool | None = optional()  # set with a refinement
    note: str | None = optional()
    mask: np.ndarray | None = hidden(default=None)  # which models of the EDF lie inside


@dataclass(frozen=True)
class RunResult:
    """Everything about one run that does not involve the other runs."""

    count: int
    min: float
    median: float
    mean: float
    statuses: dict[str, int]
    planned: int
    pending: int
    dir: Path
    space: str
    mode: str
    excluded: list[dict[str, Any]]  # trials not ok, and ok ones without an error
    edf: Curve
    search: Search
    pareto: dict[str, list[dict[str, Any]]]  # per complexity measure, the front's models
    params: list[dict[str, Any]]  # per design parameter: trend and best-model interval
    best: list[dict[str, Any]]
    refine: Refined
    regimes: list[dict[str, Any]]  # per FLOPs regime: its range, models and parameter trends
    errors: np.ndarray = hidden()  # of the models in the EDF, as are the columns below
    complexity: dict[str, np.ndarray] = hidden()
    values: dict[str, np.ndarray] = hidden()  # design-parameter columns
    fronts: dict[str, np.ndarray] = hidden()  # Pareto front indices per complexity measure
    stage_depths: np.ndarray = hidden()  # (models, stages), NaN padded: what the width fit reads
    stage_widths: np.ndarray = hidden()
    model_ids: np.ndarray = hidden()
    task: str = hidden(default="classification")  # what the run's errors measure (nas.training.tasks)


@dataclass(frozen=True)
class NormalizedRun:
    """One run's complexity-normalised EDF: weighted summary, models outside the shared bins."""

    count: int
    min: float
    median: float
    mean: float
    outside: int
    edf: Curve
    weights: np.ndarray = hidden()  # per model in the EDF; 0 outside the kept bins


@dataclass(frozen=True)
class Normalization:
    """Complexity-normalised EDFs on log bins all runs share (`by` "none": not asked for), or a
    note saying why the runs cannot be compared so."""

    by: str
    bins: int | None = optional()
    edges: np.ndarray | None = optional()
    kept_bins: int | None = optional()
    runs: dict[str, NormalizedRun] | None = optional()
    note: str | None = optional()


@dataclass(frozen=True)
class Needed:
    """Models per space at which the KS test at significance `alpha` separates two runs' spaces
    with power `target`, estimated from `resamples` bootstrap draws of their recorded errors for n
    up to `largest`, assuming the KS distance `effect` (a lower confidence bound of theirs); `n`
    None (with `why`) when it cannot with this data, `power` the estimate at `n` (or at `largest`)."""

    n: int | None
    power: float
    target: float
    alpha: float
    largest: int
    resamples: int
    why: str | None = optional()
    effect: float | None = optional()


@dataclass(frozen=True)
class KsPair:
    """The KS test between two runs, plain and (where both are normalised) weighted, and how many
    models per space it needs to separate them."""

    a: str
    b: str
    ks: float
    p: float
    needed: Needed | None = optional()
    ks_normalized: float | None = optional()
    p_normalized: float | None = optional()
    n_eff_a: float | None = optional()
    n_eff_b: float | None = optional()


@dataclass(frozen=True)
class Sequential:
    """The sweep's sequential comparison (its comparison.json): the sentence saying what was
    decided and why, the per-pair level's design (boundaries per look, the fixed design's n) and
    every pair's looks."""

    sentence: str
    decided: bool
    level: float
    pair_level: float
    rounds_done: int
    rounds: int
    used: int
    max_samples: int
    fixed_n: int | None
    sizes: list[int]
    efficacy: list[float]
    futility: list[float]
    pairs: list[dict[str, Any]]


@dataclass
class Analysis:
    """The analysis of a set of runs, then the figures and report written from it."""

    runs: dict[str, RunResult]
    ks: list[KsPair]
    normalization: Normalization
    settings: Settings
    figure: Path | None = None  # the main EDF figure
    figures: dict[str, Path] = field(default_factory=dict)
    report: Path | None = None
    sequential: Sequential | None = optional()  # runs of a sweep that compared them sequentially
    linear_fits: dict[str, list[dict[str, Any]]] = field(
        default_factory=dict
    )  # per run, drawn with the figures

    def to_dict(self) -> dict[str, Any]:
        """The analysis as plain JSON, as `nas analyze --json` prints it."""
        return jsonable(self)

    def error_meaning(self) -> str:
        """What the runs' errors are, in words: top-1 error, 100 - mIoU, or each run's where they differ."""
        said = {"classification": "top-1 validation error (%)", "segmentation": "100 - validation mIoU (%)"}
        tasks = {r.task for r in self.runs.values()}
        if len(tasks) <= 1:
            return said[next(iter(tasks), "classification")]
        return "; ".join(f"{name}: {said[r.task]}" for name, r in self.runs.items())

    def guided(self) -> list[str]:
        """Runs that came from guided search, whose statistics describe the search, not the space."""
        return [name for name, r in self.runs.items() if r.mode == "optimize"]

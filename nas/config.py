"""Experiment files: YAML read with safe_load into typed, validated dataclasses.

Each section is a dataclass whose fields are `declared` (blocks.schema): a field's type,
default and legal values are written once, and `read_fields` checks a file against them.
Every problem is reported as one UserError naming the file, the dotted field and what is
legal, before anything is sampled or trained.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from blocks import library, yamlio
from blocks.errors import ArgError, ParamError, UnknownName, UserError, literal
from blocks.schema import Param, declared, nested, read_fields, section, unknown
from blocks.segment import SCHEDULES
from blocks.spec import OUTPUT_STRIDES, HeadSpec, StemSpec
from nas.seeds import SEED_HIGH, check_seed  # noqa: F401  (check_seed: nas.config's callers)
from nas.training.config import TrainingConfig
from nas.training.datasets import LOADERS
from nas.training.segdata import SEGMENTATION_SETS
from nas.training.tasks import TASKS
from spaces.base import Limits, default_stem

MODES = ("sample", "optimize")
ALGORITHMS = ("tpe", "nsga2", "random")
OBJECTIVES = ("error", "flops", "params", "latency")
SCHEDULERS = ("none", "asha")
# the refinements `nas explore` may propose (nas.exploring.candidates): narrowed ranges, the AnyNet
# chain's structural constraints, then the quantised linear width law (AnyNetX_E -> RegNet)
KINDS = ("narrow", "shared_b", "shared_g", "nondecreasing_widths", "nondecreasing_depths", "linear_widths")
MAX_NAME = 100  # characters of an experiment name
STEM_WIDTH = Param(int, StemSpec.width, "channels out of the stem", low=1)


@dataclass(frozen=True)
class SpaceConfig:
    """One design space of the experiment; its options are checked against the space when planned."""

    name: str = declared(str, doc="design space (see `nas spaces`)", required=True)
    options: dict[str, Any] = declared(dict, {}, "the space's options (see `nas spaces NAME`)")
    label: str = declared(
        str, None, "the run's name (its folder, its EDF's legend); default the space's name", optional=True
    )
    segmentation: dict[str, Any] = declared(
        dict, {}, "fields of the experiment's segmentation section set otherwise for this space"
    )

    @property
    def run(self) -> str:
        """The name of this space's run: its label, else the space's name."""
        return self.label or self.name


@dataclass(frozen=True)
class ModelConfig:
    """What every spec has besides its stages: the stem, and the classifier head's parameters."""

    stem: StemSpec = field(default_factory=default_stem)
    head: dict[str, Any] = declared(dict, {}, "parameters of the classifier head (see `nas blocks`)")


@dataclass(frozen=True)
class DatasetConfig:
    name: str = declared(str, "digits", "dataset (nas.training.datasets)", choices=tuple(LOADERS))
    params: dict[str, Any] = declared(dict, {}, "the dataset's parameters")


@dataclass(frozen=True)
class Resources:
    cpus_per_trial: float = declared(float, 1.0, "CPUs a trial reserves", low=0.01, high=1024)
    gpus_per_trial: float = declared(
        float, 0.0, "GPUs a trial reserves (a fraction shares one)", low=0.0, high=64
    )
    pack_gpus: bool = declared(
        bool,
        False,
        "share each GPU among as many trials as fit: 80% of its memory over the largest planned "
        "model's training estimate, at most its node's CPUs per GPU over cpus_per_trial; sets "
        "gpus_per_trial to 1/k (printed)",
    )
    max_concurrent: int = declared(int, 0, "trials at once (0: as many as fit)", low=0, high=100_000)
    max_retries: int = declared(int, 2, "restarts of a trial whose worker died", low=0, high=100)
    samples_per_trial: int = declared(int, 1, "specs one trial trains in turn", low=1, high=10_000)
    memory_gb_per_trial: float = declared(
        float,
        0.0,
        "memory one trial may take, in GB (0: 80% of this machine's memory over the trials "
        "that run at once); a CPU trial's spec estimated over it is not drawn, a trial over it is "
        "recorded failed",
        low=0.0,
        high=1e6,
    )


@dataclass(frozen=True)
class Search:
    """How specs are chosen: `sample` (random, equal budget, for EDFs) or `optimize` (Optuna)."""

    mode: str = declared(str, "sample", "sample: random, for EDFs; optimize: Optuna", choices=MODES)
    algorithm: str = declared(str, "tpe", "Optuna sampler (optimize mode)", choices=ALGORITHMS)
    objectives: tuple[str, ...] = declared(
        str, ("error",), "what optimize mode minimises, error first", is_list=True, choices=OBJECTIVES
    )
    scheduler: str = declared(str, "none", "early stopping (optimize mode: asha)", choices=SCHEDULERS)
    grace_period: int = declared(int, 1, "ASHA: epochs before a trial may be stopped", low=1, high=10_000)
    reduction_factor: int = declared(int, 3, "ASHA: 1 in this many trials goes on at a rung", low=2, high=100)


@dataclass(frozen=True)
class Compare:
    """A sequential comparison of the spaces: rounds of equal size, stopped once decided."""

    level: float = declared(float, 0.05, "false-separation rate of the whole comparison", low=1e-6, high=0.5)
    power: float = declared(float, 0.8, "chance to separate spaces `difference` apart", low=0.5, high=0.999)
    difference: float = declared(
        float, 0.1, "smallest EDF difference worth detecting, as a KS distance", low=0.01, high=0.99
    )
    round: int = declared(int, 10, "models per space per round", low=1, high=1_000_000)


@dataclass(frozen=True)
class Explore:
    """How `nas explore` refines the experiment's one space (nas.exploring.path.Settings)."""

    models: int = declared(int, 100, "models per space per round", low=4, high=1_000_000)
    margin: float = declared(
        float, 0.1, "non-inferiority margin on P(candidate error < parent error)", low=0.001, high=0.499
    )
    level: float = declared(
        float, 0.05, "chance of accepting a worse space anywhere on the path", low=1e-6, high=0.5
    )
    steps: int = declared(int, 6, "most steps (each spends level / steps)", low=1, high=1000)
    budget: int = declared(int, 0, "most models trained in all (0: no cap)", low=0, high=100_000_000)
    kinds: tuple[str, ...] = declared(
        str, KINDS, "candidate kinds the loop may propose", is_list=True, choices=KINDS
    )


@dataclass(frozen=True)
class Segmentation:
    """Every sampled backbone made a segmentation network (blocks.segment): a decoder at an output
    stride, the stages that trade their stride dilated by drawn schedules."""

    decoder: str = declared(str, doc="decoder family (see `nas blocks`)", required=True)
    output_stride: int = declared(int, 8, "input side / the backbone's last map side", choices=OUTPUT_STRIDES)
    schedule: str = declared(str, "hdc", "dilation schedules: hdc (hole-free) or gridded", choices=SCHEDULES)
    schedule_length: int = declared(int, 3, "rates per schedule, cycled over a stage's convs", low=1, high=8)
    max_rate: int = declared(int, 9, "largest dilation rate drawn", low=1, high=64)
    twinned: bool = declared(
        bool,
        False,
        "hdc draws only hole-free schedules with a gridded twin, as gridded draws: a space of each, "
        "same seed, then differs trial by trial only in holes (the same receptive fields)",
    )
    decoder_params: dict[str, Any] = declared(dict, {}, "the decoder's parameters")


@dataclass(frozen=True)
class Experiment:
    name: str
    spaces: tuple[SpaceConfig, ...]
    samples: int = declared(int, 16, "specs per space (trials in optimize mode)", low=1, high=10_000_000)
    seed: int = declared(int, 0, "seed of the sampling and of every trial", low=0, high=SEED_HIGH)
    dedupe: bool = declared(
        bool, False, "draw again instead of keeping a spec sampled before (pycls' sweeps keep unique ones)"
    )
    task: str = declared(
        str,
        "classification",
        "what the networks learn: one class per image, or one per pixel",
        choices=tuple(TASKS),
    )
    search: Search = section(Search)
    keep_weights: str | int = "none"
    constraints: Limits = section(Limits)
    model: ModelConfig = field(default_factory=ModelConfig)
    dataset: DatasetConfig = section(DatasetConfig)
    training: TrainingConfig = section(TrainingConfig)
    resources: Resources = section(Resources)
    mlflow: str | None = declared(
        str, None, "MLflow tracking URI each trial is also logged to (needs the mlflow extra)", optional=True
    )
    compare: Compare | None = None  # absent: every space gets all its samples
    explore: Explore | None = None  # absent: `nas explore` takes Explore's defaults
    segmentation: Segmentation | None = None  # absent: classification networks
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, the form copied into a run directory."""
        out = _plain(asdict(self))
        out.pop("source")
        if self.segmentation is None:
            out.pop("segmentation")  # a classification experiment's copy stays as it was
        for sc in out["spaces"]:  # so does a space that sets neither
            if sc["label"] is None:
                sc.pop("label")
            if not sc["segmentation"]:
                sc.pop("segmentation")
        return out


def _plain(value: Any) -> Any:
    """Tuples become lists, at any depth, so the dict dumps as plain YAML."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def parse(data: Any, source: str = "experiment") -> Experiment:
    """Validate a loaded experiment mapping into an Experiment."""
    if data is not None and not isinstance(data, dict):
        raise UserError(f"{source}: (top level): expected a mapping of fields, got {data!r}")
    if not data:
        raise UserError(f"{source}: (top level): empty experiment file; needs at least 'space'")
    search = data.get("search")
    if isinstance(search, dict) and search.get("mode") == "optimize" and "scheduler" not in search:
        data = {**data, "search": {**search, "scheduler": "asha"}}  # optimize mode's default
    try:
        exp = read_fields(
            Experiment,
            data,
            also=("name", "space", "spaces", "keep_weights", "model", "compare", "explore", "segmentation"),
            name=_name(data.get("name") or Path(source).stem),
            spaces=_spaces(data),
            keep_weights=_keep_weights(data.get("keep_weights", "none")),
            model=_model(data.get("model")),
            compare=_compare(data.get("compare")),
            explore=_explore(data.get("explore")),
            **_segmentation(data),
            source=source,
        )
        _check(exp)
    except ParamError as err:
        raise UserError(f"{source}: {err}") from None
    return exp


def _check(exp: Experiment) -> None:
    """Rules across fields, which no single field's declaration can state."""
    t, s = exp.training, exp.search
    if t.warmup_epochs >= t.epochs and t.warmup_epochs:
        raise ParamError("training.warmup_epochs", f"must be below epochs ({t.epochs})")
    if s.mode == "optimize" and exp.resources.samples_per_trial > 1:
        raise ParamError(
            "resources.samples_per_trial", "must be 1 in optimize mode (one Optuna trial per spec)"
        )
    if s.objectives[:1] != ("error",) or len(set(s.objectives)) != len(s.objectives):
        raise ParamError(
            "search.objectives", f"the first objective must be error, each once; got {list(s.objectives)}"
        )
    if s.mode == "sample" and (s.scheduler != "none" or len(s.objectives) > 1):
        raise ParamError(
            "search",
            "sample mode trains every spec for the same budget (for EDFs); several "
            "objectives and a scheduler need mode: optimize",
        )
    if s.scheduler == "asha" and len(s.objectives) > 1:
        raise ParamError(
            "search.scheduler", "asha stops trials on error alone; use none with several objectives"
        )
    _check_compare(exp)
    _check_task(exp)
    _check_segmentation(exp)
    loader = LOADERS[exp.dataset.name]
    for key, message in loader.schema.errors(
        loader.schema.read(exp.dataset.params), f"dataset '{loader.name}'"
    ):
        raise ParamError(f"dataset.params.{key}", message)


def _check_task(exp: Experiment) -> None:
    """The dataset must hold the task's items; segmentation augments image and mask together,
    through the dataset's own scale, crop and hflip, so the training's image-only options stay off."""
    dense = exp.dataset.name in SEGMENTATION_SETS
    if dense != (exp.task == "segmentation"):
        legal = (
            sorted(SEGMENTATION_SETS)
            if exp.task == "segmentation"
            else sorted(set(LOADERS) - SEGMENTATION_SETS)
        )
        raise ParamError(
            "dataset.name",
            f"'{exp.dataset.name}' is a {'segmentation' if dense else 'classification'} set, but task is "
            f"{exp.task}; legal for task {exp.task}: {legal}",
        )
    if dense and exp.training.augment.enabled:
        raise ParamError(
            "training.augment",
            "augments images alone; for task segmentation set dataset.params scale, crop and hflip "
            "(image and mask alike) and leave training.augment off",
        )


def _check_segmentation(exp: Experiment) -> None:
    """The segmentation section goes with task segmentation, both ways; a space's own segmentation
    fields change the section's and are checked as it is."""
    if (exp.segmentation is None) == (exp.task == "segmentation"):
        if exp.segmentation is None:
            raise ParamError(
                "segmentation",
                "task segmentation needs a segmentation section (decoder, output_stride, schedule) to "
                "make each sampled backbone a segmentation network; e.g. segmentation: {decoder: fcn}",
            )
        raise ParamError(
            "task", f"is {exp.task}, but the experiment has a segmentation section; legal: segmentation"
        )
    if exp.segmentation is not None and exp.model.head:
        raise ParamError(
            "model.head",
            "sets the classifier head, which a segmentation network drops for its decoder and dense "
            "head; set the decoder's parameters in segmentation.decoder_params",
        )
    for i, sc in enumerate(exp.spaces):
        if sc.segmentation:
            where = f"spaces[{i}].segmentation"
            if exp.segmentation is None:
                raise ParamError(where, "changes the segmentation section, which the experiment lacks")
            space_segmentation(exp, i)


def space_segmentation(exp: Experiment, index: int) -> Segmentation | None:
    """The segmentation section as space `index` applies it: the experiment's, with the space's own
    fields over it (ParamError names the space's field)."""
    seg, own = exp.segmentation, exp.spaces[index].segmentation
    if seg is None or not own:
        return seg
    where = "space" if len(exp.spaces) == 1 else f"spaces[{index}]"
    try:
        return _segmentation({"segmentation": {**_plain(asdict(seg)), **own}})["segmentation"]
    except ParamError as err:
        raise nested(where, err) from None


NAME_LEGAL = (
    f"legal: 1 to {MAX_NAME} characters, one folder name under runs/: no '/', '\\', NUL or control "
    "characters, not starting with '.'"
)


def _name(name: Any) -> str:
    """The experiment's name, which becomes the folder runs/NAME: one safe path component."""
    if isinstance(name, bool) or not isinstance(name, (str, int)):
        raise ParamError("name", f"expected a string, got {name!r}; {NAME_LEGAL}")
    text = str(name)
    unsafe = (
        not text
        or len(text) > MAX_NAME
        or text.startswith(".")
        or any(c in "/\\" or not c.isprintable() for c in text)
    )
    if unsafe:
        shown = repr(text) if len(text) <= 40 else f"{text[:40]!r}... ({len(text)} characters)"
        raise ParamError("name", f"{shown} is not a safe folder name; {NAME_LEGAL}")
    return text


def _spaces(data: dict) -> tuple[SpaceConfig, ...]:
    """The `space` (one) or `spaces` (a list) of the file; a bare name stands for {name: NAME}."""
    if ("space" in data) == ("spaces" in data):
        raise ParamError("space", "give exactly one of 'space' (one design space) or 'spaces' (a list)")
    raw = [data["space"]] if "space" in data else data["spaces"]
    if not isinstance(raw, list) or not raw:
        raise ParamError("spaces", "expected a non-empty list of spaces")
    out = []
    for i, item in enumerate(raw):
        where = "space" if "space" in data else f"spaces[{i}]"
        try:
            out.append(read_fields(SpaceConfig, {"name": item} if isinstance(item, str) else item))
        except ParamError as err:
            raise nested(where, err) from None
    names = [s.run for s in out]
    if len(set(names)) != len(names):
        raise ParamError(
            "spaces", f"two runs would share a name: {names}; give a space listed twice a distinct label"
        )
    for i, sc in enumerate(out):
        if sc.label is not None:
            _label(sc.label, f"spaces[{i}].label" if "spaces" in data else "space.label")
    return tuple(out)


def _label(label: str, where: str) -> None:
    """A space's label names its run folder, so it must be a safe folder name as the experiment's is."""
    try:
        _name(label)
    except ParamError as err:
        raise ParamError(where, err.message) from None


def _compare(raw: Any) -> Compare | None:
    """The `compare` section: absent (or null) for a fixed budget, else its checked fields."""
    if raw is None:
        return None
    try:
        return read_fields(Compare, raw)
    except ParamError as err:
        raise nested("compare", err) from None


def _explore(raw: Any) -> Explore | None:
    """The `explore` section: absent (or null) for the defaults, else its checked fields."""
    if raw is None:
        return None
    try:
        ex = read_fields(Explore, raw)
    except ParamError as err:
        raise nested("explore", err) from None
    if len(set(ex.kinds)) != len(ex.kinds) or not ex.kinds:
        raise ParamError(
            "explore.kinds", f"{list(ex.kinds)} must name each kind once, at least one; legal: {list(KINDS)}"
        )
    if ex.budget and ex.budget < ex.models:
        raise ParamError(
            "explore.budget", f"{ex.budget} is below models ({ex.models}); legal: 0 (no cap) or >= models"
        )
    return ex


def _segmentation(data: dict) -> dict[str, Segmentation]:
    """The `segmentation` section, when present: its fields, a registered decoder and its parameters."""
    if data.get("segmentation") is None:
        return {}
    try:
        seg = read_fields(Segmentation, data["segmentation"])
        decoder = library.get("decoder", seg.decoder)
        for key, message in decoder.schema.errors(decoder.schema.read(seg.decoder_params), decoder.owner):
            raise ParamError(f"decoder_params.{key}", message)
    except UnknownName as err:
        raise ParamError("segmentation.decoder", str(err)) from None
    except ParamError as err:
        raise nested("segmentation", err) from None
    return {"segmentation": seg}


def _check_compare(exp: Experiment) -> None:
    """A comparison needs two spaces or more, sample mode and a round within the budget."""
    c = exp.compare
    if c is None:
        return
    if len(exp.spaces) < 2:
        raise ParamError("compare", f"compares two spaces or more; the experiment has {len(exp.spaces)}")
    if exp.search.mode != "sample":
        raise ParamError("compare", "needs search.mode: sample (random draws, an equal budget per space)")
    if c.round > exp.samples:
        raise ParamError("compare.round", f"{c.round} is above samples ({exp.samples}); legal: 1 to samples")


def _keep_weights(keep: Any) -> str | int:
    """`none`, `all`, or the best K trials' weights."""
    if keep in ("none", "all") or (isinstance(keep, int) and not isinstance(keep, bool) and keep >= 1):
        return keep
    raise ParamError("keep_weights", f"got {keep!r}; legal: none, all, or a positive int K (the best K)")


def _model(raw: Any) -> ModelConfig:
    """The model section: a registered stem with legal parameters, and the head's parameters
    (checked against their schemas; rules that need the spec's sizes run when specs are drawn)."""
    try:
        model = read_fields(
            ModelConfig, raw, also=("stem",), stem=_stem(raw.get("stem") if isinstance(raw, dict) else None)
        )
        head = library.get("head", HeadSpec.type)
        for key, message in head.schema.errors(model.head, head.owner):
            raise ParamError(f"head.{key}", message)
    except ParamError as err:
        raise nested("model", err) from None
    return model


def _stem(raw: Any) -> StemSpec:
    """The stem of every spec: the default one, or the file's mapping checked against the registry."""
    if raw is None:
        return default_stem()
    legal = [f.name for f in fields(StemSpec)]
    if not isinstance(raw, dict):
        raise ParamError("stem", f"expected a mapping with fields {legal}, got {raw!r}")
    for key in raw:
        if key not in legal:
            raise ParamError(f"stem.{key}", unknown("field", legal))
    stem = StemSpec(**raw)
    if STEM_WIDTH.check(stem.width):
        raise ParamError("stem.width", STEM_WIDTH.check(stem.width))
    try:
        family = library.get("stem", stem.type)
    except UnknownName as err:
        raise ParamError("stem.type", str(err)) from None
    if not isinstance(stem.params, dict):
        raise ParamError("stem.params", f"expected a mapping, got {stem.params!r}")
    for key, message in family.schema.errors(stem.params, family.owner):
        raise ParamError(f"stem.params.{key}", message)
    return stem


def load(path: str | Path, overrides: Sequence[str] = ()) -> Experiment:
    """Read and validate an experiment YAML file, with `overrides` (`PATH=VALUE` settings) applied
    to the read mapping first, so they are validated (and recorded) exactly like the file's own values."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such experiment file")
    data = yamlio.read(path)
    if not overrides:
        return parse(data, str(path))
    changed = override(data, overrides)
    try:
        return parse(changed, str(path))
    except UserError as err:
        raise _blame(err, str(path), [key for key, _ in _assignments(overrides)]) from None


def _refused(text: str) -> ArgError:
    """An override refused: `text` follows the argument's name, `overrides` (`--set` or `--overrides` on the command line)."""
    return ArgError("", "{overrides}" + literal(text), ["overrides"])


def override(data: Any, overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of the loaded mapping with each `PATH=VALUE` set (VALUE read as YAML; a dotted PATH
    steps through mappings, created where missing, and lists by index, as Hydra's `a.0.b=v`)."""
    if data is not None and not isinstance(data, dict):
        raise _refused(f": the experiment file is {data!r:.40}, not a mapping of fields")
    out = copy.deepcopy(data or {})
    for key, value in _assignments(overrides):
        parts = key.split(".")
        node: Any = out
        for i, part in enumerate(parts):
            where = ".".join(parts[:i]) or "the file"
            last = i == len(parts) - 1
            if isinstance(node, list):
                index = _index(key, where, node, part)
                if last:
                    node[index] = value
                else:
                    node = node[index]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, {})
            else:
                raise _refused(f" {key}: {where} is {node!r:.40}, not a mapping of fields or a list")
    return out


def _index(key: str, where: str, items: list, part: str) -> int:
    """The list entry `part` names in override `KEY`, or one line naming the list and its legal indices."""
    legal = f"legal indices: 0 to {len(items) - 1}" if items else "it is empty, so no index is legal"
    if not part.isdigit():
        raise _refused(f" {key}: {where} is a list, so {part!r} must be an index; {legal}")
    if int(part) >= len(items):
        raise _refused(f" {key}: {where} has {len(items)} entries, so index {part} is out of range; {legal}")
    return int(part)


def _assignments(overrides: Sequence[str]) -> list[tuple[str, Any]]:
    """Each `PATH=VALUE` override as (PATH, the YAML value); a malformed one is one line."""
    out = []
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or not all(key.split(".")):
            raise _refused(f" {item!r}: expected FIELD.PATH=VALUE, e.g. training.epochs=2")
        try:
            out.append((key, yamlio.loads(text, key)))
        except UserError as err:  # malformed YAML, named with its key
            raise _refused(f" {err}") from None
    return out


def _blame(err: UserError, source: str, keys: list[str]) -> ArgError:
    """The error of an overridden experiment, naming the override `FIELD` when its field is at fault."""
    message = str(err)
    rest = message.removeprefix(f"{source}: ")
    for key in keys:
        # the validator names list entries as `spaces[0]`, where an override writes `spaces.0`
        shown = re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", key)
        for k in (key, shown):
            if rest == k or rest.startswith((f"{k}:", f"{k}.", f"{k}[")):
                return _refused(f" {key}{rest[len(k) :]} (in {source})")
    return ArgError("", f"{literal(message)} (with {{overrides}} {literal(', '.join(keys))})", ["overrides"])

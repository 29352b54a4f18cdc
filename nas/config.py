"""Experiment files: YAML read with safe_load into typed, validated dataclasses.

Every problem is reported as one UserError naming the file, the field and what is legal,
before anything is sampled or trained.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from blocks.errors import UserError
from nas.training.augment import Augment

DATASETS = ("digits", "synthetic", "cifar10", "npz", "imagefolder")
MODES = ("sample", "optimize")
ALGORITHMS = ("tpe", "nsga2", "random")
OBJECTIVES = ("error", "flops", "params", "latency")
SCHEDULERS = ("none", "asha")


@dataclass(frozen=True)
class SpaceConfig:
    name: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Constraints:
    flops: tuple[float | None, float | None] = (None, None)
    params: tuple[float | None, float | None] = (None, None)


@dataclass(frozen=True)
class ModelConfig:
    stem: dict[str, Any] = field(
        default_factory=lambda: {"type": "simple", "width": 32, "params": {"stride": 2}}
    )
    head: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetConfig:
    name: str = "digits"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = 5
    batch_size: int = 64
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-5
    warmup_epochs: int = 0
    label_smoothing: float = 0.0
    amp: bool = True
    channels_last: bool = True
    augment: Augment = Augment()


@dataclass(frozen=True)
class Resources:
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_concurrent: int = 0
    max_retries: int = 2
    samples_per_trial: int = 1


@dataclass(frozen=True)
class Search:
    """How specs are chosen: `sample` (random, equal budget, for EDFs) or `optimize` (Optuna)."""

    mode: str = "sample"
    algorithm: str = "tpe"
    objectives: tuple[str, ...] = ("error",)
    scheduler: str = "none"
    grace_period: int = 1
    reduction_factor: int = 3


@dataclass(frozen=True)
class Experiment:
    name: str
    spaces: tuple[SpaceConfig, ...]
    samples: int = 16
    seed: int = 0
    search: Search = Search()
    keep_weights: str | int = "none"
    constraints: Constraints = Constraints()
    model: ModelConfig = ModelConfig()
    dataset: DatasetConfig = DatasetConfig()
    training: TrainingConfig = TrainingConfig()
    resources: Resources = Resources()
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, the form copied into a run directory."""
        out = asdict(self)
        out.pop("source")
        out["spaces"] = [asdict(s) for s in self.spaces]
        out["constraints"] = {k: list(v) for k, v in out["constraints"].items()}
        out["search"]["objectives"] = list(self.search.objectives)
        return out


def _as_number(value: Any) -> Any:
    """PyYAML reads '3.0e6' (no exponent sign) as a string; accept such numeric strings."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


class _Reader:
    """Typed field access on a mapping, raising UserErrors that name file and field."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, message: str) -> UserError:
        return UserError(f"{self.source}: {where}: {message}")

    def mapping(self, data: Any, where: str, legal: set[str]) -> dict[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise self.fail(where, f"expected a mapping with fields {sorted(legal)}, got {data!r}")
        unknown = set(data) - legal
        if unknown:
            raise self.fail(f"{where}.{sorted(unknown)[0]}", f"unknown field; legal: {sorted(legal)}")
        return data

    def number(self, data: dict, where: str, key: str, default: Any, kind: type, low=None, high=None):
        value = _as_number(data.get(key, default))
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if kind is int:
            ok = ok and float(value).is_integer()
        if not ok:
            raise self.fail(f"{where}.{key}", f"expected {kind.__name__}, got {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.fail(f"{where}.{key}", f"{value!r} out of range; legal: [{low}, {high}]")
        return kind(value)

    def flag(self, data: dict, where: str, key: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"{where}.{key}", f"expected true or false, got {value!r}")
        return value

    def choice(self, data: dict, where: str, key: str, default: str, legal) -> str:
        value = data.get(key, default)
        if value not in legal:
            raise self.fail(f"{where}.{key}", f"got {value!r}; legal: {list(legal)}")
        return value

    def range(self, data: dict, where: str, key: str) -> tuple[float | None, float | None]:
        value = data.get(key, [None, None])
        if not (isinstance(value, (list, tuple)) and len(value) == 2):
            raise self.fail(f"{where}.{key}", f"expected [low, high] (null for open), got {value!r}")
        value = [_as_number(v) for v in value]
        for v in value:
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0):
                raise self.fail(
                    f"{where}.{key}", f"bounds must be non-negative numbers or null, got {value!r}"
                )
        lo, hi = value
        if lo is not None and hi is not None and lo > hi:
            raise self.fail(f"{where}.{key}", f"empty range: low {lo} > high {hi}")
        return (lo, hi)


def parse(data: Any, source: str = "experiment") -> Experiment:
    """Validate a loaded experiment mapping into an Experiment."""
    r = _Reader(source)
    top_fields = {
        "name", "space", "spaces", "samples", "seed", "search", "keep_weights", "constraints",
        "model", "dataset", "training", "resources",
    }  # fmt: skip
    data = r.mapping(data, "(top level)", top_fields)
    if not data:
        raise r.fail("(top level)", "empty experiment file; needs at least 'space'")
    spaces = _spaces(r, data)
    c = r.mapping(data.get("constraints"), "constraints", {"flops", "params"})
    m = r.mapping(data.get("model"), "model", {"stem", "head"})
    d = r.mapping(data.get("dataset"), "dataset", {"name", "params"})
    t = r.mapping(data.get("training"), "training", set(TrainingConfig.__dataclass_fields__))
    res = r.mapping(data.get("resources"), "resources", set(Resources.__dataclass_fields__))
    base_t = TrainingConfig()
    training = TrainingConfig(
        epochs=r.number(t, "training", "epochs", base_t.epochs, int, 1, 10_000),
        batch_size=r.number(t, "training", "batch_size", base_t.batch_size, int, 1, 65_536),
        lr=r.number(t, "training", "lr", base_t.lr, float, 0.0, 100.0),
        momentum=r.number(t, "training", "momentum", base_t.momentum, float, 0.0, 1.0),
        nesterov=r.flag(t, "training", "nesterov", base_t.nesterov),
        weight_decay=r.number(t, "training", "weight_decay", base_t.weight_decay, float, 0.0, 1.0),
        warmup_epochs=r.number(t, "training", "warmup_epochs", base_t.warmup_epochs, int, 0, 10_000),
        label_smoothing=r.number(t, "training", "label_smoothing", base_t.label_smoothing, float, 0.0, 0.99),
        amp=r.flag(t, "training", "amp", base_t.amp),
        channels_last=r.flag(t, "training", "channels_last", base_t.channels_last),
        augment=Augment.from_dict(t.get("augment"), source),
    )
    if training.warmup_epochs >= training.epochs and training.warmup_epochs:
        raise r.fail("training.warmup_epochs", f"must be below epochs ({training.epochs})")
    resources = Resources(
        cpus_per_trial=r.number(res, "resources", "cpus_per_trial", 1.0, float, 0.01, 1024),
        gpus_per_trial=r.number(res, "resources", "gpus_per_trial", 0.0, float, 0.0, 64),
        max_concurrent=r.number(res, "resources", "max_concurrent", 0, int, 0, 100_000),
        max_retries=r.number(res, "resources", "max_retries", 2, int, 0, 100),
        samples_per_trial=r.number(res, "resources", "samples_per_trial", 1, int, 1, 10_000),
    )
    search = _search(r, data.get("search"))
    if search.mode == "optimize" and resources.samples_per_trial > 1:
        raise r.fail("resources.samples_per_trial", "must be 1 in optimize mode (one Optuna trial per spec)")
    keep = data.get("keep_weights", "none")
    if not (keep in ("none", "all") or (isinstance(keep, int) and not isinstance(keep, bool) and keep >= 1)):
        raise r.fail("keep_weights", f"got {keep!r}; legal: none, all, or a positive int K (the best K)")
    stem = m.get("stem", ModelConfig().stem)
    head = m.get("head", {})
    for key, value in (("stem", stem), ("head", head)):
        if not isinstance(value, dict):
            raise r.fail(f"model.{key}", f"expected a mapping, got {value!r}")
    return Experiment(
        name=str(data.get("name") or Path(source).stem),
        spaces=spaces,
        samples=r.number(data, "(top level)", "samples", 16, int, 1, 10_000_000),
        seed=r.number(data, "(top level)", "seed", 0, int, 0, 2**32 - 1),
        search=search,
        keep_weights=keep,
        constraints=Constraints(r.range(c, "constraints", "flops"), r.range(c, "constraints", "params")),
        model=ModelConfig(stem=stem, head=head),
        dataset=DatasetConfig(
            name=r.choice(d, "dataset", "name", "digits", DATASETS),
            params=r.mapping(d.get("params"), "dataset.params", set(d.get("params") or {})),
        ),
        training=training,
        resources=resources,
        source=source,
    )


def _search(r: _Reader, raw: Any) -> Search:
    s = r.mapping(raw, "search", set(Search.__dataclass_fields__))
    mode = r.choice(s, "search", "mode", "sample", MODES)
    objectives = s.get("objectives", ["error"])
    if isinstance(objectives, str):
        objectives = [objectives]
    if not isinstance(objectives, list) or not objectives or any(o not in OBJECTIVES for o in objectives):
        raise r.fail("search.objectives", f"got {objectives!r}; legal: a list from {list(OBJECTIVES)}")
    if objectives[0] != "error" or len(set(objectives)) != len(objectives):
        raise r.fail("search.objectives", f"the first objective must be error, each once; got {objectives}")
    scheduler = r.choice(s, "search", "scheduler", "asha" if mode == "optimize" else "none", SCHEDULERS)
    if mode == "sample" and (scheduler != "none" or len(objectives) > 1):
        raise r.fail(
            "search",
            "sample mode trains every spec for the same budget (for EDFs); several "
            "objectives and a scheduler need mode: optimize",
        )
    if scheduler == "asha" and len(objectives) > 1:
        raise r.fail("search.scheduler", "asha stops trials on error alone; use none with several objectives")
    return Search(
        mode=mode,
        algorithm=r.choice(s, "search", "algorithm", "tpe", ALGORITHMS),
        objectives=tuple(objectives),
        scheduler=scheduler,
        grace_period=r.number(s, "search", "grace_period", 1, int, 1, 10_000),
        reduction_factor=r.number(s, "search", "reduction_factor", 3, int, 2, 100),
    )


def _spaces(r: _Reader, data: dict) -> tuple[SpaceConfig, ...]:
    if ("space" in data) == ("spaces" in data):
        raise r.fail("space", "give exactly one of 'space' (one design space) or 'spaces' (a list)")
    raw = [data["space"]] if "space" in data else data["spaces"]
    if not isinstance(raw, list) or not raw:
        raise r.fail("spaces", "expected a non-empty list of spaces")
    out = []
    for i, item in enumerate(raw):
        where = "space" if "space" in data else f"spaces[{i}]"
        if isinstance(item, str):
            item = {"name": item}
        item = r.mapping(item, where, {"name", "options"})
        if not isinstance(item.get("name"), str):
            raise r.fail(f"{where}.name", "expected the name of a design space (see `nas spaces`)")
        options = r.mapping(item.get("options"), f"{where}.options", set(item.get("options") or {}))
        out.append(SpaceConfig(item["name"], dict(options)))
    names = [s.name for s in out]
    if len(set(names)) != len(names):
        raise r.fail("spaces", f"a space is listed twice: {names}")
    return tuple(out)


def load(path: str | Path) -> Experiment:
    """Read and validate an experiment YAML file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such experiment file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise UserError(f"{path}: malformed YAML{where}: {getattr(err, 'problem', err)}") from None
    return parse(data, str(path))

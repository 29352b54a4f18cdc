"""The records a sweep writes and reads, each with one to/from-dict: how a trial ended
(`Status`), one planned trial (`PlanEntry`, a line of plan.jsonl) and what one trial
produced (`TrialRow`, a line of trials.jsonl). Their dict keys are the files' format."""

from __future__ import annotations

import types
from dataclasses import MISSING, dataclass, field, fields
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin, get_type_hints

if TYPE_CHECKING:
    from spaces import Sample


def trial_seed(seed: int, index: int) -> int:
    """The training seed of trial `index` of an experiment seeded `seed`: fixed by both, distinct per trial."""
    return seed * 100_003 + index


class Status(StrEnum):
    """How a trial ended; the value is what a row's `status` holds."""

    OK = "ok"
    FAILED = "failed"  # raised (out of memory included), or its worker died past the retries
    DIVERGED = "diverged"  # the loss stopped being finite
    STOPPED = "stopped"  # stopped early by the scheduler; its error is where it got to
    REJECTED = "rejected"  # the draw broke a constraint (optimize mode records it, untrained)


def _shallow(record: Any) -> dict[str, Any]:
    """A record's fields as a dict, its values shared, not copied (`asdict` deep-copies every spec:
    a third of planning 10,000 trials); the lines are written at once, nothing mutates them."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


OPTIONAL = {"optional": True}  # field metadata: None unless known, and then left out of the row's line


def column(rank: float, optional: bool = False) -> dict[str, Any]:
    """Field metadata: the field is a `nas results --csv` column, placed by `rank`; an optional
    one is left out of a row's line while None, and is a column only where rows hold it."""
    return {"column": rank, "optional": optional}


@dataclass(frozen=True)
class PlanEntry:
    """One planned trial: a drawn spec with its drawn values and analytic complexity, or a draw
    that was refused (`rejected` says why; only optimize mode records those)."""

    trial_index: int = field(metadata=column(2))
    space: str = field(metadata=column(1))
    seed: int = field(metadata=column(10))
    model_id: str = field(metadata=column(3))
    spec: dict[str, Any]
    values: dict[str, Any]
    complexity: dict[str, Any]
    rejected: str = ""

    @classmethod
    def drawn(cls, index: int, space: str, seed: int, sample: Sample) -> PlanEntry:
        """Trial `index` of an experiment seeded `seed`, training the drawn `sample`."""
        spec, cx = sample.spec, sample.complexity.to_dict()
        return cls(index, space, trial_seed(seed, index), spec.model_id, spec.to_dict(), sample.values, cx)

    @classmethod
    def refused(cls, index: int, space: str, seed: int, values: dict[str, Any], reason: str) -> PlanEntry:
        """Trial `index` of an experiment seeded `seed`, whose draw `values` were refused for `reason`."""
        return cls(index, space, trial_seed(seed, index), "", {}, values, {}, reason)

    @property
    def key(self) -> str:
        """The entry's name across the runs of a sweep: SPACE/INDEX."""
        return f"{self.space}/{self.trial_index}"

    def to_dict(self) -> dict[str, Any]:
        """The plan.jsonl line: every field, `rejected` only when the draw was refused."""
        out = _shallow(self)
        if not self.rejected:
            del out["rejected"]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlanEntry:
        """The entry of a plan.jsonl line (or of a row, which carries its entry's fields)."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class TrialRow:
    """What one trial produced: its entry, how it ended, its errors and times, and where and
    with which versions it ran; everything analysis needs without re-running anything."""

    entry: PlanEntry
    experiment: str
    status: Status = field(metadata=column(4))
    reason: str = field(default="", metadata=column(14))
    error: float | None = field(
        default=None, metadata=column(5)
    )  # final validation error in %, None unless trained
    val_errors: list[float] = field(default_factory=list)
    train_errors: list[float] = field(default_factory=list)
    epochs: int = field(default=0, metadata=column(7))
    wall_time: float = field(default=0.0, metadata=column(8))
    train_time: float = field(default=0.0, metadata=column(11))
    images_per_sec: float = field(default=0.0, metadata=column(12))
    compile_time: float | None = field(default=None, metadata=OPTIONAL)  # seconds torch.compile took first
    latency_ms: float | None = None
    retries: int = 0
    device: str = ""
    host: str = ""
    finished_at: float = field(default=0.0, metadata=column(13))
    versions: dict[str, str] = field(default_factory=dict)
    node_id: str | None = field(default=None, metadata=OPTIONAL)  # the Ray node; None for the driver's rows
    # segmentation: the last validation's mean IoU, % (error = 100 - miou)
    miou: float | None = field(default=None, metadata=column(20, optional=True))
    # segmentation: share of counted pixels classed right, %
    pixel_accuracy: float | None = field(default=None, metadata=column(21, optional=True))
    # segmentation: each class's IoU, % (None: seen nowhere); the table's iou.CLASS columns
    class_iou: list[float | None] | None = field(default=None, metadata=OPTIONAL)
    dice: float | None = field(
        default=None, metadata=column(22, optional=True)
    )  # two classes: foreground's Dice, %

    def to_dict(self) -> dict[str, Any]:
        """The trials.jsonl line: the entry's fields (not `rejected`, which `reason` says) and
        the row's; those that are None unless known (`node_id`, `compile_time`, the segmentation
        scores) only when known, so a classification row reads as it always did."""
        out = {k: v for k, v in _shallow(self.entry).items() if k != "rejected"}
        out.update((f.name, getattr(self, f.name)) for f in fields(self) if f.name != "entry")
        out["status"] = self.status.value
        for optional in optional_fields():
            if out[optional] is None:
                del out[optional]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialRow:
        """The row of a trials.jsonl line (one the store's checks pass); a field an older row
        lacks, or holds as null where its type has no None, takes its default, an entry's field
        the blank of its type (no seed reads 0)."""
        given = {k: v for k, v in data.items() if v is not None or k in _nullable()}
        blank = {n: kinds[0]() for n, (kinds, _) in row_fields().items() if n in _bare() and n not in given}
        line = {**blank, **given}
        own = {f.name: line[f.name] for f in fields(cls) if f.name in line and f.name != "entry"}
        return cls(**{**own, "entry": PlanEntry.from_dict(line), "status": Status(data["status"])})


ENTRY = frozenset(f.name for f in fields(PlanEntry))


@cache
def optional_fields() -> tuple[str, ...]:
    """The row's fields left out of its line while None (declared with optional metadata)."""
    return tuple(f.name for f in fields(TrialRow) if f.metadata.get("optional"))


@cache
def columns() -> dict[str, tuple[float, bool]]:
    """Each field declared a table column (the entry's and the row's): its rank and whether it is optional."""
    return {
        f.name: (f.metadata["column"], f.metadata["optional"])
        for r in (PlanEntry, TrialRow)
        for f in fields(r)
        if "column" in f.metadata
    }


REQUIRED = ("trial_index", "status")  # what no reader can do without; a row lacking others still reads


def _json_types(hint: Any) -> tuple[tuple[type, ...], bool]:
    """The JSON types a declared field's value may take, and whether None is one of them."""
    if get_origin(hint) in (Union, types.UnionType):
        kinds = [k for k in get_args(hint) if k is not type(None)]
        return _json_types(kinds[0])[0], True
    kind = get_origin(hint) or hint
    if kind is float:
        return (int, float), False
    return ((str,) if issubclass(kind, str) else (kind,)), False


@cache
def _hints() -> dict[str, Any]:
    """The declared type of each field of a trials.jsonl line: the entry's, then the row's."""
    hints = {**get_type_hints(PlanEntry), **get_type_hints(TrialRow)}
    del hints["entry"]
    return hints


@cache
def _bare() -> frozenset[str]:
    """The fields declared without a default (a row lacking one reads the blank of its type)."""
    return frozenset(
        f.name for r in (PlanEntry, TrialRow) for f in fields(r) if f.default is f.default_factory is MISSING
    )


@cache
def _nullable() -> frozenset[str]:
    """The fields whose declared type takes None."""
    return frozenset(n for n, hint in _hints().items() if _json_types(hint)[1])


@cache
def row_fields() -> dict[str, tuple[tuple[type, ...], bool]]:
    """Each field of a trials.jsonl line (the entry's, then the row's; the required first) with
    the JSON types its value may take and whether a row must hold it: read from the two
    declarations, so a field declared there is checked by the store and read by every reader."""
    hints = _hints()
    order = [*REQUIRED, *(n for n in hints if n not in REQUIRED)]
    return {name: (_json_types(hints[name])[0], name in REQUIRED) for name in order}

"""ArchSpec: the plain-data description of a network, the one currency between rooms.

Stem, stages (block family, depth, width, stride, family parameters), head and input
shape. Serialises to JSON/YAML, hashes to a stable model id, and validates against the
block registry with errors that name the field and the legal values, down to a map that
shrinks away in some stage.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from blocks import registry, yamlio
from blocks.cx import Cx
from blocks.errors import SpecError, UnknownName

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class StemSpec:
    type: str = "simple"
    width: int = 32
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StageSpec:
    block: str
    depth: int
    width: int
    stride: int = 1
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HeadSpec:
    num_classes: int = 10
    type: str = "classifier"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ArchSpec:
    stem: StemSpec
    stages: tuple[StageSpec, ...]
    head: HeadSpec
    input_shape: tuple[int, int, int] = (3, 224, 224)
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of builtins, the form written to YAML/JSON and to results rows."""
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "stem": {
                "type": self.stem.type,
                "width": self.stem.width,
                "params": dict(self.stem.params),
            },
            "stages": [
                {
                    "block": s.block,
                    "depth": s.depth,
                    "width": s.width,
                    "stride": s.stride,
                    "params": _plain(s.params),
                }
                for s in self.stages
            ],
            "head": {
                "type": self.head.type,
                "num_classes": self.head.num_classes,
                "params": dict(self.head.params),
            },
        }

    @property
    def model_id(self) -> str:
        """Stable content hash of the architecture (the name does not enter it)."""
        body = self.to_dict()
        body.pop("name")
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    """Tuples become lists so the dict serialises the same way it was read."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


@dataclass(frozen=True)
class Part:
    """One stem, stage or head of a spec: its family, the structural arguments the family's
    module takes (in order) and its parameters."""

    kind: str
    name: str
    where: str  # the spec field: 'stem', 'stages[2]', 'head'
    args: dict[str, Any]  # stem: c_in, w_out; stage: w_in, w_out, stride, depth; head: w_in, num_classes
    params: dict[str, Any]

    @property
    def width(self) -> int:
        """Channels the part outputs."""
        return self.args["num_classes" if self.kind == "head" else "w_out"]

    def build(self) -> nn.Module:
        """The part's module, freshly initialised."""
        return family(self.kind, self.name).build(*self.args.values(), **self.params)

    def complexity(self, cx: Cx) -> Cx:
        """Add the part's analytic cost to `cx` and move it to the part's output map."""
        return family(self.kind, self.name).complexity(cx, *self.args.values(), **self.params)


def family(kind: str, name: str) -> registry.Family:
    """A registered stem, stage or head family; the library (every family, and with them
    PyTorch) loads on the first lookup, so reading and hashing specs stays light."""
    from blocks import library

    return library.get(kind, name)


def parts(spec: ArchSpec) -> list[Part]:
    """Stem, stages and head in forward order, each with the widths it connects."""
    stem, head = spec.stem, spec.head
    out = [Part("stem", stem.type, "stem", {"c_in": spec.input_shape[0], "w_out": stem.width}, stem.params)]
    w_in = stem.width
    for i, st in enumerate(spec.stages):
        args = {"w_in": w_in, "w_out": st.width, "stride": st.stride, "depth": st.depth}
        out.append(Part("stage", st.block, f"stages[{i}]", args, st.params))
        w_in = st.width
    out.append(Part("head", head.type, "head", {"w_in": w_in, "num_classes": head.num_classes}, head.params))
    return out


def from_dict(data: Any, source: str = "spec") -> ArchSpec:
    """Parse and validate a spec dict; `source` names the file in error messages."""
    if not isinstance(data, dict):
        raise SpecError(f"{source}: expected a mapping with stem, stages, head, got {type(data).__name__}")
    known = {"name", "input_shape", "stem", "stages", "head"}
    extra = set(data) - known - {"model_id", "complexity"}
    if extra:
        raise SpecError(f"{source}: unknown field(s) {sorted(extra)}; legal: {sorted(known)}")
    for key in ("stem", "stages", "head"):
        if key not in data:
            raise SpecError(f"{source}: missing field '{key}'")
    try:
        stem = StemSpec(**_fields(data["stem"], f"{source}: stem", {"type", "width", "params"}))
        stages_raw = data["stages"]
        if not isinstance(stages_raw, list) or not stages_raw:
            raise SpecError(f"{source}: stages: expected a non-empty list of stages")
        stages = tuple(
            StageSpec(**_fields(s, f"{source}: stages[{i}]", {"block", "depth", "width", "stride", "params"}))
            for i, s in enumerate(stages_raw)
        )
        head = HeadSpec(**_fields(data["head"], f"{source}: head", {"type", "num_classes", "params"}))
    except TypeError as err:
        raise SpecError(f"{source}: {err}") from None
    shape = data.get("input_shape", [3, 224, 224])
    if not (isinstance(shape, (list, tuple)) and len(shape) == 3 and all(_posint(v) for v in shape)):
        raise SpecError(
            f"{source}: input_shape: expected [channels, height, width] of positive ints, got {shape!r}"
        )
    spec = ArchSpec(stem, stages, head, tuple(shape), str(data.get("name") or ""))
    validate(spec, source)
    return spec


def _fields(data: Any, where: str, legal: set[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise SpecError(f"{where}: expected a mapping with fields {sorted(legal)}")
    extra = set(data) - legal
    if extra:
        raise SpecError(f"{where}: unknown field(s) {sorted(extra)}; legal: {sorted(legal)}")
    out = dict(data)
    if "params" in out and not isinstance(out["params"], dict):
        raise SpecError(f"{where}.params: expected a mapping, got {out['params']!r}")
    return out


def _posint(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def validate(spec: ArchSpec, source: str = "spec") -> None:
    """Raise SpecError naming the first illegal field, or return None."""
    errors = spec_errors(spec)
    if errors:
        field_name, message = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise SpecError(f"{source}: {field_name}: {message}{more}")


# structural arguments checked as positive ints, and the spec field each one comes from
FIELDS = {"w_out": "width", "stride": "stride", "depth": "depth", "num_classes": "num_classes"}


def spec_errors(spec: ArchSpec) -> list[tuple[str, str]]:
    """Every (field, message) problem in a spec, in order: part by part its widths, depth and
    stride, its family and parameters, its family's rules and, while all is well so far, the
    map it outputs (each part's analytic complexity tracks the map size)."""
    out: list[tuple[str, str]] = []
    chain = parts(spec)
    sized = True  # every width, depth and stride so far is a positive int
    before: tuple[str, dict[str, Any]] | None = None
    size = spec.input_shape[1:]
    for i, part in enumerate(chain):
        ints = [
            (f"{part.where}.{FIELDS[k]}", f"expected a positive int, got {v!r}")
            for k, v in part.args.items()
            if k in FIELDS and not _posint(v)
        ]
        out.extend(ints)
        sized = sized and not ints
        if not sized:
            continue
        last = all(p.kind != "stage" for p in chain[i + 1 :])
        errors, before = _family_errors(part, registry.Site(last, before))
        out.extend(errors)
        if not out:
            size, why = _output_map(part, *size)
            if why:
                out.append((part.where, why))
    return out


def _family_errors(
    part: Part, site: registry.Site
) -> tuple[list[tuple[str, str]], tuple[str, dict[str, Any]] | None]:
    """The part's unknown family, parameter and rule errors, and what it tells the next part."""
    try:
        fam = family(part.kind, part.name)
    except UnknownName as err:
        return [(f"{part.where}.{'block' if part.kind == 'stage' else 'type'}", str(err))], None
    errors = fam.errors(part.params, site, **part.args)
    where = [(f"{part.where}.params.{k}" if k else part.where, m) for k, m in errors]
    return where, None if errors else (part.name, fam.resolve(part.params))


def _output_map(part: Part, h: int, w: int) -> tuple[tuple[int, int], str | None]:
    """The part's output map size, and why it cannot run when a side falls below 1."""
    cx = part.complexity(Cx(h, w))
    if cx.smallest >= 1:
        return (cx.h, cx.w), None
    inner = "" if min(cx.h, cx.w) == cx.smallest else f" (a side of {cx.smallest} inside)"
    via = f" (stride {part.args['stride']})" if part.kind == "stage" else ""
    return (cx.h, cx.w), (
        f"output map {cx.h}x{cx.w}{inner} from a {h}x{w} input{via}; "
        f"the input is too small for this {part.kind}"
    )


def load(path: str | Path) -> ArchSpec:
    """Read a spec from a .yaml/.yml/.json file (JSON is YAML; aliases bounded, keys once)."""
    path = Path(path)
    data = yamlio.read(path, "not valid YAML/JSON", SpecError)
    if isinstance(data, dict) and "spec" in data and "stages" not in data:
        data = data["spec"]  # exported spec files wrap the spec beside its record
    return from_dict(data, str(path))


def save(spec: ArchSpec, path: str | Path) -> None:
    """Write a spec as YAML (or JSON when the suffix is .json)."""
    path = Path(path)
    path.write_text(spec.to_json() if path.suffix == ".json" else spec.to_yaml())

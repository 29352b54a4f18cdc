"""ArchSpec: the plain-data description of a network, the one currency between rooms.

Stem, stages (block family, depth, width, stride, family parameters), head and input
shape. Serialises to JSON/YAML, hashes to a stable model id, and validates against the
block registry with errors that name the field and the legal values.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from blocks import registry
from blocks.errors import SpecError, UnknownName


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


def spec_errors(spec: ArchSpec) -> list[tuple[str, str]]:
    """Every (field, message) problem in a spec, in order."""
    out: list[tuple[str, str]] = []

    def check(kind: str, name: str, where: str, params: dict, **structure: Any) -> None:
        try:
            fam = registry.get(kind, name)
        except UnknownName as err:
            out.append((f"{where}.{'block' if kind == 'stage' else 'type'}", str(err)))
            return
        out.extend((f"{where}.params.{k}" if k else where, m) for k, m in fam.errors(params, **structure))

    if not _posint(spec.stem.width):
        out.append(("stem.width", f"expected a positive int, got {spec.stem.width!r}"))
    check("stem", spec.stem.type, "stem", spec.stem.params)
    w_in = spec.stem.width
    for i, st in enumerate(spec.stages):
        where = f"stages[{i}]"
        for key in ("depth", "width", "stride"):
            if not _posint(getattr(st, key)):
                out.append((f"{where}.{key}", f"expected a positive int, got {getattr(st, key)!r}"))
        if out:
            continue
        check(
            "stage",
            st.block,
            where,
            st.params,
            w_in=w_in,
            w_out=st.width,
            stride=st.stride,
            depth=st.depth,
        )
        w_in = st.width
    out.extend(_token_errors(spec))
    if not _posint(spec.head.num_classes):
        out.append(("head.num_classes", f"expected a positive int, got {spec.head.num_classes!r}"))
    check("head", spec.head.type, "head", spec.head.params)
    return out


def _token_errors(spec: ArchSpec) -> list[tuple[str, str]]:
    """A class token is carried by a `vit` stage as a one-row map: it must be the last stage,
    and a head reading the class token needs one."""
    out = []
    with_token = [i for i, st in enumerate(spec.stages) if st.block == "vit" and st.params.get("class_token")]
    if with_token and (with_token[-1] != len(spec.stages) - 1 or len(with_token) > 1):
        out.append(
            (f"stages[{with_token[0]}].params.class_token", "only the last stage may carry a class token")
        )
    if spec.head.type == "vit" and spec.head.params.get("pool") == "cls" and not with_token:
        out.append(
            (
                "head.params.pool",
                "'cls' needs a last stage of block 'vit' with class_token: true; or use 'mean'",
            )
        )
    return out


def load(path: str | Path) -> ArchSpec:
    """Read a spec from a .yaml/.yml/.json file (YAML with safe_load)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise SpecError(f"{path}: not valid YAML/JSON: {err}") from None
    if isinstance(data, dict) and "spec" in data and "stages" not in data:
        data = data["spec"]  # exported spec files wrap the spec beside its record
    return from_dict(data, str(path))


def save(spec: ArchSpec, path: str | Path) -> None:
    """Write a spec as YAML (or JSON when the suffix is .json)."""
    path = Path(path)
    path.write_text(spec.to_json() if path.suffix == ".json" else spec.to_yaml())

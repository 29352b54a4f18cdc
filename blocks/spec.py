"""ArchSpec: the plain-data description of a network, the one currency between rooms.

Stem, stages (block family, depth, width, stride, family parameters), head and input
shape. Serialises to JSON/YAML, hashes to a stable model id, and validates against the
block registry with errors that name the field and the legal values, down to a map that
shrinks away in some stage.

A segmentation spec adds a decoder (a registered decoder family that takes the stem's and
every stage's output and emits per-pixel logits), its output stride and, on the stages that
traded their stride for dilation, each stage's dilation schedule; its head is `dense` (the
logits resized to the input). A classification spec serialises and hashes as it always has.
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
from blocks.errors import SpecError, UnknownName, UserError

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
    dilations: tuple[int, ...] = ()  # rates cycled over the stage's dilatable convs (blocks.dilation)


@dataclass(frozen=True)
class DecoderSpec:
    type: str
    params: dict[str, Any] = field(default_factory=dict)


DENSE_HEAD = "dense"  # a segmentation spec's head: the decoder's logits resized to the input
OUTPUT_STRIDES = (8, 16, 32)


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
    decoder: DecoderSpec | None = None
    output_stride: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of builtins, the form written to YAML/JSON and to results rows; the
        segmentation fields (and each dilated stage's gridding verdict) only when a decoder is set."""
        out = {
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
                    **({"dilations": list(s.dilations)} if s.dilations else {}),
                }
                for s in self.stages
            ],
            "head": {
                "type": self.head.type,
                "num_classes": self.head.num_classes,
                "params": dict(self.head.params),
            },
        }
        if self.decoder is not None:
            out["decoder"] = {"type": self.decoder.type, "params": _plain(self.decoder.params)}
            out["output_stride"] = self.output_stride
            out["gridding"] = gridding(self)
        return out

    @property
    def model_id(self) -> str:
        """Stable content hash of the architecture (the name and derived verdicts do not enter it)."""
        body = self.to_dict()
        body.pop("name")
        body.pop("gridding", None)
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
    where: str  # the spec field: 'stem', 'stages[2]', 'head', 'decoder'
    # stem: c_in, w_out; stage: w_in, w_out, stride, depth; head: w_in, num_classes;
    # decoder: widths and strides of the stem's and every stage's output, num_classes
    args: dict[str, Any]
    params: dict[str, Any]

    @property
    def width(self) -> int:
        """Channels the part outputs."""
        return self.args["num_classes" if self.kind in ("head", "decoder") else "w_out"]

    def build(self) -> nn.Module:
        """The part's module, freshly initialised."""
        return family(self.kind, self.name).build(*self.args.values(), **self.params)

    def complexity(self, cx: Cx, sizes: tuple[tuple[int, int], ...] = ()) -> Cx:
        """Add the part's analytic cost to `cx` and move it to the part's output map; a decoder
        also gets the map size of every feature it may take (`sizes`, as `args['widths']`)."""
        extra = {"sizes": sizes} if self.kind == "decoder" else {}
        return family(self.kind, self.name).complexity(cx, *self.args.values(), **extra, **self.params)


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
    if spec.decoder is None:
        out.append(
            Part("head", head.type, "head", {"w_in": w_in, "num_classes": head.num_classes}, head.params)
        )
        return out
    widths = (stem.width, *(st.width for st in spec.stages))
    args = {"widths": widths, "strides": feature_strides(spec), "num_classes": head.num_classes}
    out.append(Part("decoder", spec.decoder.type, "decoder", args, spec.decoder.params))
    return out


PROBE = 4096  # side of the map a stem's stride is read from: large enough that its padding rounds away


def feature_strides(spec: ArchSpec) -> tuple[int, ...]:
    """Cumulative stride of the stem's output and of every stage's output; 0 for the stem's
    when its family or parameters are unknown (validation names those)."""
    try:
        cx = family("stem", spec.stem.type).complexity(
            Cx(PROBE, PROBE), spec.input_shape[0], spec.stem.width, **spec.stem.params
        )
        stride = round(PROBE / cx.h)
    except (UserError, TypeError, ValueError, ZeroDivisionError):  # validation names the stem's fault
        stride = 0
    out = [stride]
    for st in spec.stages:
        out.append(out[-1] * (st.stride if _posint(st.stride) else 1))
    return tuple(out)


def from_dict(data: Any, source: str = "spec") -> ArchSpec:
    """Parse and validate a spec dict; `source` names the file in error messages."""
    if not isinstance(data, dict):
        raise SpecError(f"{source}: expected a mapping with stem, stages, head, got {type(data).__name__}")
    known = {"name", "input_shape", "stem", "stages", "head", "decoder", "output_stride"}
    extra = set(data) - known - {"model_id", "complexity", "gridding"}
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
            StageSpec(
                **_fields(
                    s, f"{source}: stages[{i}]", {"block", "depth", "width", "stride", "params", "dilations"}
                )
            )
            for i, s in enumerate(stages_raw)
        )
        head = HeadSpec(**_fields(data["head"], f"{source}: head", {"type", "num_classes", "params"}))
        decoder = data.get("decoder")
        if decoder is not None:
            decoder = DecoderSpec(**_fields(decoder, f"{source}: decoder", {"type", "params"}))
    except TypeError as err:
        raise SpecError(f"{source}: {err}") from None
    shape = data.get("input_shape", [3, 224, 224])
    if not (isinstance(shape, (list, tuple)) and len(shape) == 3 and all(_posint(v) for v in shape)):
        raise SpecError(
            f"{source}: input_shape: expected [channels, height, width] of positive ints, got {shape!r}"
        )
    spec = ArchSpec(
        stem, stages, head, tuple(shape), str(data.get("name") or ""), decoder, data.get("output_stride")
    )
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
    if "dilations" in out:
        rates = out["dilations"]
        if not (isinstance(rates, (list, tuple)) and all(_posint(r) for r in rates)):
            raise SpecError(f"{where}.dilations: expected a list of integers >= 1, got {rates!r}")
        out["dilations"] = tuple(rates)
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


# the spec spec_errors last found valid and each part's cost its check computed: a sampled
# spec is checked and then costed, and `part_costs` reuses them instead of computing them again
_checked: tuple[ArchSpec | None, tuple[tuple[Part, Cx], ...]] = (None, ())


def part_costs(spec: ArchSpec) -> tuple[tuple[Part, Cx], ...]:
    """Stem, stages and head (or decoder) in forward order, each with its own analytic cost at
    its output map (a `Cx` started from the part's input map); the spec `spec_errors` last
    passed reuses the costs its check computed."""
    held, costs = _checked
    if held is spec:
        return costs
    _, h, w = spec.input_shape
    out: list[tuple[Part, Cx]] = []
    for part in parts(spec):
        cx = part.complexity(Cx(h, w), tuple((c.h, c.w) for _, c in out))
        out.append((part, cx))
        h, w = cx.h, cx.w
    return tuple(out)


def spec_errors(spec: ArchSpec) -> list[tuple[str, str]]:
    """Every (field, message) problem in a spec, in order: part by part its widths, depth and
    stride, its family and parameters, its family's rules and, while all is well so far, the
    map it outputs (each part's analytic complexity tracks the map size; a valid spec's costs
    are kept for `part_costs`)."""
    global _checked
    out: list[tuple[str, str]] = dense_errors(spec)
    chain = parts(spec)
    sized = True  # every width, depth and stride so far is a positive int
    before: tuple[str, dict[str, Any]] | None = None
    size = spec.input_shape[1:]
    sizes: list[tuple[int, int]] = []  # the stem's and every stage's output map, for a decoder
    costs: list[tuple[Part, Cx]] = []
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
        errors, before = _family_errors(part, registry.Site(last, before, tuple(size)))
        out.extend(errors)
        if not out:
            cx = part.complexity(Cx(*size), tuple(sizes))
            costs.append((part, cx))
            why = _small_map(part, *size, cx)
            size = (cx.h, cx.w)
            sizes.append(size)
            if why:
                out.append((part.where, why))
    if not out and spec.decoder is not None:
        out.extend(_dilation_errors(spec))
    if not out:
        _checked = (spec, tuple(costs))
    return out


def _dilated(spec: ArchSpec) -> list[tuple[int, Part, tuple[int, ...], tuple[int, ...]]]:
    """(index, part, schedule, smallest side of each dilatable conv) of every stage with a schedule."""
    from blocks import dilation

    stages = [p for p in parts(spec) if p.kind == "stage"]
    return [
        (i, p, st.dilations, dilation.kernels(p.name, tuple(p.args.values()), p.params))
        for i, (p, st) in enumerate(zip(stages, spec.stages))
        if st.dilations
    ]


def gridding(spec: ArchSpec) -> dict[str, str]:
    """Each dilated stage's field and the gridding verdict of its cycled schedule (blocks.dilation)."""
    from blocks import dilation

    return {f"stages[{i}]": dilation.verdict(rates, sides) for i, _, rates, sides in _dilated(spec) if sides}


def _dilation_errors(spec: ArchSpec) -> list[tuple[str, str]]:
    """A schedule on a stage that sets its own rates or has no conv a rate can apply to."""
    from blocks import dilation

    out = []
    for i, p, _, sides in _dilated(spec):
        if dilation.GRID_TAG in family("stage", p.name).tags:
            out.append((f"stages[{i}].dilations", f"stage '{p.name}' sets its own rates in its params"))
        elif not sides:
            out.append(
                (
                    f"stages[{i}].dilations",
                    f"stage '{p.name}' has no k x k (k > 1) stride-1 'same'-padded conv to dilate; "
                    "leave its dilations empty",
                )
            )
    return out


def dense_errors(spec: ArchSpec) -> list[tuple[str, str]]:
    """The segmentation fields' own problems: present without a decoder, a head that is not
    `dense`, an output stride that is not 8, 16 or 32 or not the one the stages reach."""
    out = []
    if spec.decoder is None:
        out += [
            (f"stages[{i}].dilations", "only a segmentation spec (one with a decoder) dilates its stages")
            for i, st in enumerate(spec.stages)
            if st.dilations
        ]
        if spec.output_stride is not None:
            out.append(
                ("output_stride", "only a segmentation spec (one with a decoder) has an output stride")
            )
        if spec.head.type == DENSE_HEAD:
            out.append(("head.type", f"'{DENSE_HEAD}' needs a decoder; legal here: a classification head"))
        return out
    if spec.head.type != DENSE_HEAD or spec.head.params:
        out.append(("head", f"a segmentation spec's head is type '{DENSE_HEAD}' without params"))
    if spec.output_stride not in OUTPUT_STRIDES:
        out.append(("output_stride", f"expected one of {list(OUTPUT_STRIDES)}, got {spec.output_stride!r}"))
    else:
        reached = feature_strides(spec)[-1]
        if reached and reached != spec.output_stride:
            out.append(
                (
                    "output_stride",
                    f"{spec.output_stride}, but the stem's and stages' strides reach {reached}; "
                    "a stage that trades its stride for dilation has stride 1",
                )
            )
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
    return where, None if errors else (part.name, fam.schema.filled(part.params))  # checked just now


def _small_map(part: Part, h: int, w: int, cx: Cx) -> str | None:
    """Why the part, taking an `h` x `w` map and costing `cx`, cannot run: a side below 1."""
    if cx.smallest >= 1:
        return None
    inner = "" if min(cx.h, cx.w) == cx.smallest else f" (a side of {cx.smallest} inside)"
    via = f" (stride {part.args['stride']})" if part.kind == "stage" else ""
    return (
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

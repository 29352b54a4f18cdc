"""The export formats, one writer each: write the file, load it back with the loader its users
will call, and run it against the eager model on a random input.

Every graph carries its card, the JSON {"model_id", "input_shape", "preprocessing"} (the record
spec.yaml holds: raw or standardised input, mean/std, size, class names; null where the source had
none), where its ecosystem keeps such data: ONNX `metadata_props` under CARD, the TorchScript and
pt2 archives as the extra file CARD + ".json"; the check reads it back as users would.

Graphs are captured at batch 2 with a free batch axis and checked at batch 3, so a batch size
baked into a graph shows up; the largest absolute difference must stay within the tolerance
times max(1, largest |eager output|).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from blocks.errors import ArgError, UserError
from blocks.spec import ArchSpec
from nas.records.weights import error_line, load_weights, save_weights

FORMATS = ("spec", "weights", "torchscript", "exported", "onnx")
GRAPHS = ("torchscript", "exported", "onnx")
FILES = {
    "spec": "spec.yaml",
    "weights": "weights.pt",
    "torchscript": "model.ts",
    "exported": "model.pt2",
    "onnx": "model.onnx",
}
ONNX_PACKAGES = ("onnx", "onnxscript")
CARD = "nas_export"  # ONNX metadata key; TorchScript and pt2 carry it as the extra file CARD.json
TOLERANCE = 1e-4
CAPTURE_BATCH, CHECK_BATCH = 2, 3


def parse_formats(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """Requested formats from "a,b" or a list (spec is always written); None keeps the default."""
    if value is None:
        return None
    names = [n.strip() for n in (value.split(",") if isinstance(value, str) else value) if n.strip()]
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        got = f"unknown format {unknown[0]!r}" if unknown else "no format given"
        raise ArgError("format", f"{got}; legal: {','.join(FORMATS)} (comma-separated)")
    if "onnx" in names:
        require_onnx()
    return tuple(f for f in FORMATS if f == "spec" or f in names)


def require_onnx() -> None:
    """ONNX export needs torch's dynamo exporter, which needs onnx and onnxscript."""
    missing = [p for p in ONNX_PACKAGES if importlib.util.find_spec(p) is None]
    if missing:
        raise UserError(
            f"format onnx needs the Python packages {' and '.join(ONNX_PACKAGES)} (missing: "
            f"{', '.join(missing)}); install them with `pip install onnx onnxscript onnxruntime` (or, in "
            'a checkout of this project, `pip install -e ".[onnx]"`)'
        )


def default_graphs() -> tuple[str, ...]:
    """The graph formats a default export writes: the torch ones, and ONNX where onnx, onnxscript
    and onnxruntime are all installed (writing needs the first two, checking the third)."""
    onnx = all(importlib.util.find_spec(p) is not None for p in (*ONNX_PACKAGES, "onnxruntime"))
    return ("torchscript", "exported", "onnx") if onnx else ("torchscript", "exported")


def card(spec: ArchSpec, preprocessing: dict[str, Any] | None) -> str:
    """The JSON a graph carries: its model id, input shape and preprocessing record."""
    body = {"model_id": spec.model_id, "input_shape": list(spec.input_shape), "preprocessing": preprocessing}
    return json.dumps(body, sort_keys=True)


def read_card(fmt: str, path: str | Path) -> dict[str, Any]:
    """The card inside a written graph, read the way its users read such data (onnxruntime's model
    metadata, or onnx's where it is not installed; torch.jit.load and torch.export.load extra files)."""
    name = f"{CARD}.json"
    if fmt == "torchscript":
        files = {name: ""}
        torch.jit.load(str(path), map_location="cpu", _extra_files=files)
        text = files[name]
    elif fmt == "exported":
        files = {name: ""}
        torch.export.load(str(path), extra_files=files)
        text = files[name]
    elif fmt == "onnx" and importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        text = session.get_modelmeta().custom_metadata_map.get(CARD, "")
    elif fmt == "onnx":
        import onnx

        props = onnx.load(str(path), load_external_data=False).metadata_props
        text = next((p.value for p in props if p.key == CARD), "")
    else:
        raise UserError(f"{path}: format {fmt!r} carries no card; graphs do: {', '.join(GRAPHS)}")
    return json.loads(text) if text else {}


def write_and_check(
    fmt: str,
    model: nn.Module,
    spec: ArchSpec,
    path: Path,
    tolerance: float = TOLERANCE,
    preprocessing: dict[str, Any] | None = None,
) -> Check:
    """Write `model` (eval mode, CPU) in one format (a graph with its card, see `card`), load it
    back, find the card, run it and compare with eager."""
    text = card(spec, preprocessing)
    probe = torch.randn(CHECK_BATCH, *spec.input_shape, generator=torch.Generator().manual_seed(0))
    capture = torch.randn(CAPTURE_BATCH, *spec.input_shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = model(probe)
    limit = tolerance * max(1.0, want.abs().max().item())
    try:
        with _quiet(), torch.no_grad():
            run, how = WRITERS[fmt](model, spec, capture, path, text)
            # a graph nothing here can load (unverified, below) cannot be read back either
            same = fmt not in GRAPHS or run is None or read_card(fmt, path) == json.loads(text)
    except Exception as err:  # exporters raise anything; the report names it
        return Check(fmt, path, "failed", limit=limit, note=error_line(err))
    if not same:
        return Check(fmt, path, "failed", limit=limit, note=f"its {CARD} card reads back differently")
    if run is None:
        return Check(fmt, path, "unverified", limit=limit, note=how)
    try:
        with _quiet(), torch.no_grad():
            got = run(probe)
    except Exception as err:
        status = "unverified" if fmt == "onnx" else "failed"
        return Check(fmt, path, status, limit=limit, note=f"{how} could not run it: {error_line(err)}")
    diff = (got - want).abs().max().item()
    return Check(fmt, path, "verified" if diff <= limit else "mismatch", diff, limit, how)


@contextlib.contextmanager
def _quiet():
    """Silence the exporters' expected chatter: tracer warnings about shape-dependent Python
    branches (constants at a spec's fixed input size) and torch.onnx's notes on extras."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _batch_dim() -> tuple[dict[int, Any]]:
    """The input's batch axis is free in exported graphs; the rest is the spec's input shape."""
    return ({0: torch.export.Dim("batch", min=1)},)


def _weights(model, spec, capture, path, text):
    save_weights(model, path)
    return load_weights(spec, path), "torch.load(weights_only=True)"


def _torchscript(model, spec, capture, path, text):
    # traced, not scripted: torch.jit.script rejects the Inception and Swin modules, while a trace
    # records every family; the check runs it at another batch size than the one traced
    traced = torch.jit.trace(model, capture, check_trace=False)
    torch.jit.save(traced, str(path), _extra_files={f"{CARD}.json": text})
    return torch.jit.load(str(path), map_location="cpu"), "torch.jit.load"


def _exported(model, spec, capture, path, text):
    program = torch.export.export(model, (capture,), dynamic_shapes=_batch_dim())
    torch.export.save(program, str(path), extra_files={f"{CARD}.json": text})
    return torch.export.load(str(path)).module(), "torch.export.load"


def _onnx(model, spec, capture, path, text):
    # the dynamo exporter: the legacy TorchScript one writes Transpose perms ONNX Runtime rejects
    torch.onnx.export(
        model,
        (capture,),
        str(path),
        dynamo=True,
        external_data=False,
        input_names=["input"],
        output_names=["logits"],
        dynamic_shapes=_batch_dim(),
        verbose=False,
    )
    import onnx  # torch.onnx's dynamo exporter has just imported it

    graph = onnx.load(str(path))
    onnx.helper.set_model_props(graph, {CARD: text})
    onnx.save(graph, str(path))
    try:
        return onnx_runner(path)
    except Exception as err:
        return None, f"no ONNX runtime here could load it ({error_line(err)})"


def onnx_runner(path: Path):
    """(run, how): ONNX Runtime when installed, else onnx's own reference evaluator (pure numpy)."""
    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        how = f"onnxruntime {onnxruntime.__version__}"
        return lambda x: torch.from_numpy(session.run(None, {"input": x.numpy()})[0]), how
    from onnx.reference import ReferenceEvaluator

    evaluator = ReferenceEvaluator(str(path))
    how = "onnx reference evaluator"
    return lambda x: torch.from_numpy(evaluator.run(None, {"input": x.numpy()})[0]), how


WRITERS = {"weights": _weights, "torchscript": _torchscript, "exported": _exported, "onnx": _onnx}


@dataclass
class Check:
    """How one written file fared: verified, mismatch (difference above the limit), failed (not
    written or not loadable) or unverified (written, but nothing here could run it)."""

    format: str
    path: Path
    status: str
    diff: float | None = None
    limit: float | None = None
    note: str = ""

    def describe(self) -> str:
        """One short phrase: the difference, or why there is none."""
        if self.status == "verified" and self.diff is None:
            return "ok"
        if self.status in ("verified", "mismatch"):
            flag = "" if self.status == "verified" else f" > allowed {self.limit:.1e}"
            return f"{self.diff:.1e}{flag}"
        return (
            f"written, not verified: {self.note}" if self.status == "unverified" else f"FAILED: {self.note}"
        )

"""The export formats, one writer each: write the file, load it back with the loader its users
will call, and run it against the eager model on a random input.

Graphs are captured at batch 2 with a free batch axis and checked at batch 3, so a batch size
baked into a graph shows up; the largest absolute difference must stay within the tolerance
times max(1, largest |eager output|).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from blocks.errors import UserError
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
        raise UserError(f"--format: {got}; legal: {','.join(FORMATS)} (comma-separated)")
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


def write_and_check(
    fmt: str, model: nn.Module, spec: ArchSpec, path: Path, tolerance: float = TOLERANCE
) -> Check:
    """Write `model` (eval mode, CPU) in one format, load it back, run it and compare with eager."""
    probe = torch.randn(CHECK_BATCH, *spec.input_shape, generator=torch.Generator().manual_seed(0))
    capture = torch.randn(CAPTURE_BATCH, *spec.input_shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = model(probe)
    limit = tolerance * max(1.0, want.abs().max().item())
    try:
        with _quiet(), torch.no_grad():
            run, how = WRITERS[fmt](model, spec, capture, path)
    except Exception as err:  # exporters raise anything; the report names it
        return Check(fmt, path, "failed", limit=limit, note=error_line(err))
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


def _weights(model, spec, capture, path):
    save_weights(model, path)
    return load_weights(spec, path), "torch.load(weights_only=True)"


def _torchscript(model, spec, capture, path):
    # traced, not scripted: torch.jit.script rejects the Inception and Swin modules, while a trace
    # records every family; the check runs it at another batch size than the one traced
    torch.jit.save(torch.jit.trace(model, capture, check_trace=False), str(path))
    return torch.jit.load(str(path), map_location="cpu"), "torch.jit.load"


def _exported(model, spec, capture, path):
    torch.export.save(torch.export.export(model, (capture,), dynamic_shapes=_batch_dim()), str(path))
    return torch.export.load(str(path)).module(), "torch.export.load"


def _onnx(model, spec, capture, path):
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

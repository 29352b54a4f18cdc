"""Trained weights as plain state dicts: where a run keeps them, saving them so they load anywhere
with torch.load(weights_only=True), and loading them back into the network of a spec."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from blocks.errors import UserError
from blocks.network import build
from blocks.spec import ArchSpec
from nas.training.loop import seeded

MODEL_ID = re.compile(r"[0-9a-f]{12}")  # ArchSpec.model_id: 12 lowercase hex digits
SOURCE = ".json"  # appended to a weights file's name: the record of how `nas retrain` made it


def checked_id(model_id: Any, where: str) -> str:
    """A model id read from a file or the command line, refused unless it is 12 lowercase hex
    digits, since ids become file and folder names."""
    if not (isinstance(model_id, str) and MODEL_ID.fullmatch(model_id)):
        raise UserError(
            f"{where}: model id {model_id!r:.40} is not 12 lowercase hex digits (e.g. 3f9a0c12be47)"
        )
    return model_id


def weights_path(run: str | Path, model_id: str) -> Path:
    """Where a run keeps a model's trained weights: RUN_DIR/weights/<model_id>.pt."""
    return Path(run) / "weights" / f"{checked_id(model_id, str(run))}.pt"


def save_weights(model: nn.Module, path: str | Path) -> Path:
    """Save the state dict as contiguous CPU tensors (loads anywhere with weights_only=True);
    written beside and renamed into place, so a crash never leaves a torn file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    partial = path.with_name(path.name + ".partial")
    torch.save(state, partial)
    os.replace(partial, path)
    return path


def load_weights(spec: ArchSpec, path: str | Path) -> nn.Module:
    """The network of `spec` with the weights saved in `path`, on the CPU in eval mode; a file
    that is not a state dict of exactly this network raises a UserError saying what differs."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such weights file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds for a file that is not a tensor archive
        raise UserError(
            f"{path}: not a weights file torch.load(weights_only=True) reads: {error_line(err)}"
        ) from None
    if not (isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values())):
        raise UserError(f"{path}: expected a state dict (name -> tensor), got {type(state).__name__}")
    model = build(spec)
    problem = _mismatch(model.state_dict(), state)
    if problem:
        raise UserError(f"{path}: not the weights of model {spec.model_id}: {problem}")
    model.load_state_dict(state)
    return model.eval()


def _mismatch(want: dict[str, torch.Tensor], got: dict[str, torch.Tensor]) -> str:
    """How a state dict differs from the one a network expects ('' when it fits)."""
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    shapes = [k for k in want if k in got and want[k].shape != got[k].shape]
    if missing:
        return f"{len(missing)} tensor(s) missing, first {missing[0]!r}"
    if extra:
        return f"{len(extra)} unexpected tensor(s), first {extra[0]!r}"
    if shapes:
        k = shapes[0]
        return f"{k!r} has shape {list(got[k].shape)}, the spec needs {list(want[k].shape)}"
    return ""


OWNER = ".trial"  # suffix of the file naming the trial whose weights a run keeps


def weights_owner(weights: Path) -> str | None:
    """The trial index recorded beside kept weights as their owner; None when none is recorded
    (weights kept before owners were, or retrained ones)."""
    try:
        return weights.with_suffix(OWNER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None


def trial_threads(cpus_per_trial: float) -> int:
    """The CPU threads a sweep's trial trains with, given its experiment's resources.cpus_per_trial."""
    return max(1, int(cpus_per_trial))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_source(weights: Path, record: dict[str, Any]) -> Path:
    """Record beside a weights file where it came from, tied to its bytes by their SHA-256."""
    path = weights.with_name(weights.name + SOURCE)
    path.write_text(json.dumps({"sha256": _digest(weights), **record}, indent=1), encoding="utf-8")
    return path


def read_source(weights: Path) -> dict[str, Any] | None:
    """The record written by write_source, or None when there is none, it is unreadable, or the
    weights were replaced since (a later sweep or copy): their source is then unknown here."""
    path = weights.with_name(weights.name + SOURCE)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return record if isinstance(record, dict) and record.get("sha256") == _digest(weights) else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def fresh(spec: ArchSpec, seed: int) -> nn.Module:
    """A freshly initialised network, seeded without touching the global RNG (eval mode)."""
    with seeded(seed):
        return build(spec).eval()


def error_line(err: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"

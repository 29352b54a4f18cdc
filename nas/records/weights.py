"""Trained weights as plain state dicts: where a run keeps them, saving them so they load anywhere
with torch.load(weights_only=True), and loading them back into the network of a spec."""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
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
    problem = id_problem(model_id)
    if problem:
        raise UserError(f"{where}: {problem}")
    return model_id


def id_problem(model_id: Any) -> str:
    """Why a value is not a model id ("" when it is one)."""
    if isinstance(model_id, str) and MODEL_ID.fullmatch(model_id):
        return ""
    return f"model id {model_id!r:.40} is not 12 lowercase hex digits (e.g. 3f9a0c12be47)"


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
    try:
        torch.save(state, partial)
        os.replace(partial, path)
    except BaseException:  # a full disk or an interrupt: no partial file left behind
        partial.unlink(missing_ok=True)
        raise
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


OWNER = ".trial"  # suffix of the record naming the trial whose weights a run keeps, and their hash


def owner_record(weights: Path) -> dict[str, Any] | None:
    """The record beside kept weights: {"trial_index": str, "sha256": str | None}; None when none
    exists (weights kept before owners were recorded), and an empty index when it is unreadable.
    Older sweeps wrote the bare trial index, with no hash."""
    try:
        text = weights.with_suffix(OWNER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return {"trial_index": "", "sha256": None}
    if not text.startswith("{"):
        return {"trial_index": text, "sha256": None}
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {"trial_index": "", "sha256": None}
    sha = data.get("sha256") if isinstance(data, dict) else None
    index = data.get("trial_index") if isinstance(data, dict) else None
    return {
        "trial_index": "" if index is None else str(index),
        "sha256": sha if isinstance(sha, str) else None,
    }


def weights_owner(weights: Path) -> str | None:
    """The trial index recorded beside kept weights as their owner; None when none is recorded
    (weights kept before owners were)."""
    record = owner_record(weights)
    return None if record is None else record["trial_index"]


def claim(weights: Path, index: int) -> bool:
    """Whether trial `index` may write `weights`: it claims them when unowned, or already owns
    them. The claim appears whole or not at all (written beside, then hard-linked into place,
    which fails when another trial's claim is there), so no empty owner record is ever seen."""
    owner = weights.with_suffix(OWNER)
    owner.parent.mkdir(parents=True, exist_ok=True)
    if weights.exists() and not owner.exists():
        return False  # kept before owners were recorded: never overwritten
    draft = _draft(owner, json.dumps({"trial_index": index}))
    try:
        os.link(draft, owner)
    except FileExistsError:
        return weights_owner(weights) == str(index)
    finally:
        draft.unlink(missing_ok=True)
    return True


def keep(model: nn.Module, weights: Path, index: int) -> bool:
    """Save trial `index`'s model as `weights` when it may (see claim), then record it as their
    owner with their SHA-256; any failure (a full disk) undoes the claim, so a later trial of the
    model can keep its weights, and leaves no weights without a matching record."""
    if not claim(weights, index):
        return False
    try:
        save_weights(model, weights)
        _replace(weights.with_suffix(OWNER), json.dumps({"trial_index": index, "sha256": _digest(weights)}))
    except BaseException:
        release(weights, index)
        raise
    return True


def _draft(path: Path, text: str) -> Path:
    """A new file beside `path` holding `text`, to be linked or renamed into place whole."""
    draft = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex}")
    try:
        draft.write_text(text, encoding="utf-8")
    except BaseException:
        draft.unlink(missing_ok=True)
        raise
    return draft


def _replace(path: Path, text: str) -> None:
    """Replace `path` with a file holding `text`, whole: a link in its place is replaced, never
    written through, and a failed write leaves the old file."""
    draft = _draft(path, text)
    try:
        os.replace(draft, path)
    finally:
        draft.unlink(missing_ok=True)


def release(weights: Path, index: int) -> None:
    """Undo trial `index`'s claim after a failed write: its weights and owner record go, unless
    an earlier attempt of the same trial left weights that still match their recorded hash."""
    record = owner_record(weights)
    if record is None or record["trial_index"] != str(index):
        return
    if weights.is_file() and record["sha256"] == _digest(weights):
        return
    weights.unlink(missing_ok=True)
    weights.with_suffix(OWNER).unlink(missing_ok=True)


def produced_by(weights: Path, trial_index: Any) -> bool:
    """Whether the file at a run's kept-weights path holds what trial `trial_index` trained: its
    owner record names that trial and, when it records a hash, the bytes still match it; a file
    `nas retrain` wrote is no trial's; a file kept before owners were recorded counts."""
    if not weights.is_file() or read_source(weights) is not None:
        return False
    record = owner_record(weights)
    if record is None:
        return True
    return record["trial_index"] == str(trial_index) and record["sha256"] in (None, _digest(weights))


def trial_threads(cpus_per_trial: float) -> int:
    """The CPU threads a sweep's trial trains with, given its experiment's resources.cpus_per_trial."""
    return max(1, int(cpus_per_trial))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_source(weights: Path, record: dict[str, Any]) -> Path:
    """Record beside a weights file where it came from, tied to its bytes by their SHA-256."""
    path = weights.with_name(weights.name + SOURCE)
    _replace(path, json.dumps({"sha256": _digest(weights), **record}, indent=1))
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

"""What every registered family must do, as helpers shared by the tests that iterate the registry
and by the throwaway-family test: a small network around the family, and its exports checked."""

from __future__ import annotations

from pathlib import Path

import torch

import spaces
from blocks.spec import ArchSpec, StemSpec, from_dict
from nas.exporting.export import Job, export_all
from nas.records.weights import fresh

SMALL = spaces.Context((3, 16, 16), 5, StemSpec("simple", 8, {"stride": 1}))


def stage_spec(family: str, seed: int = 0) -> ArchSpec:
    """Two stages of `family` (stride 1, then 2) on a 16x16 input, drawn by the `mixed` space from
    the family's own declaration: its grids, samplers and rules."""
    options = {"families": [family], "stages": 2, "strides": [1, 2], "max_width": 32, "max_depth": 2}
    (s,) = spaces.sample(spaces.get("mixed"), 1, seed, ctx=SMALL, options=options)
    return s.spec


def part_spec(kind: str, name: str) -> ArchSpec:
    """A stem or head at its declared defaults, around one plain residual stage, on 32x32."""
    stem = {"type": name, "width": 16} if kind == "stem" else {"type": "simple", "width": 16}
    head = {"type": name, "num_classes": 5} if kind == "head" else {"num_classes": 5}
    stage = {"block": "res_basic", "depth": 1, "width": 16, "stride": 1}
    return from_dict({"input_shape": [3, 32, 32], "stem": stem, "stages": [stage], "head": head})


def decoder_spec(name: str, params: dict | None = None) -> ArchSpec:
    """A decoder at `params` (else its defaults) on a small residual backbone over a 32x32 input,
    whose stem and three stages hand it features at strides 2, 4, 8 and 16."""
    stages = [{"block": "res_basic", "depth": 1, "width": w, "stride": 2} for w in (16, 32, 32)]
    return from_dict(
        {
            "input_shape": [3, 32, 32],
            "stem": {"type": "simple", "width": 8},
            "stages": stages,
            "head": {"type": "dense", "num_classes": 5},
            "decoder": {"type": name, "params": params or {}},
            "output_stride": 16,
        }
    )


def exports_match(spec: ArchSpec, out: Path, formats: tuple[str, ...] = ("torchscript", "exported")) -> None:
    """Every format exports and verifies, and each graph loaded back computes what eager does."""
    [done] = export_all([Job(spec, model=fresh(spec, 0))], out, list(formats))
    checks = {c.format: c for c in done.checks}
    for fmt in formats:
        assert checks[fmt].status == "verified", (
            f"{spec.to_json()} {fmt}: {checks[fmt].status} {checks[fmt].note}"
        )
    one = torch.randn(1, *spec.input_shape)  # batch 1: neither graph fixed the batch it was captured at
    with torch.no_grad():
        want = fresh(spec, 0)(one)
        if "torchscript" in formats:
            torch.testing.assert_close(torch.jit.load(str(done.dir / "model.ts"))(one), want)
        if "exported" in formats:
            torch.testing.assert_close(torch.export.load(str(done.dir / "model.pt2")).module()(one), want)

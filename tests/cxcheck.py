"""Shared check: analytic complexity of a spec equals what PyTorch measures on the built module."""

from __future__ import annotations

import torch

from blocks.complexity import complexity, measure
from blocks.network import build
from blocks.spec import ArchSpec, from_dict


def one_stage_spec(
    block: str, w_in: int, w_out: int, stride: int, depth: int, hw: int, params: dict, **kw
) -> ArchSpec:
    """A minimal network around one stage: stride-1 simple stem to w_in, the stage, a classifier."""
    return from_dict(
        {
            "input_shape": [kw.get("channels", 3), hw, kw.get("width", hw)],
            "stem": {"type": "simple", "width": w_in, "params": {"stride": 1}},
            "stages": [{"block": block, "depth": depth, "width": w_out, "stride": stride, "params": params}],
            "head": {"num_classes": kw.get("num_classes", 7)},
        }
    )


def assert_matches(spec: ArchSpec) -> None:
    """Analytic FLOPs, params and acts equal the measured ones, and the forward pass runs."""
    torch.manual_seed(0)
    model = build(spec)
    analytic, measured = complexity(spec), measure(model, spec.input_shape)
    assert analytic == measured, f"{spec.to_json()}\nanalytic {analytic}\nmeasured {measured}"
    model.eval()
    out = model(torch.randn(2, *spec.input_shape))
    dense = () if spec.decoder is None else tuple(spec.input_shape[1:])  # logits per pixel
    assert out.shape == (2, spec.head.num_classes, *dense)

"""Measured inference latency, one of the objectives multi-objective search can minimise."""

from __future__ import annotations

import time

import torch
from torch import nn


def latency_ms(
    model: nn.Module, input_shape: tuple[int, int, int], device: torch.device, repeats: int = 20
) -> float:
    """Median wall time of a batch-of-one forward pass in eval mode, after warm-up."""
    model.eval()
    x = torch.randn(1, *input_shape, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = []
    with torch.no_grad():
        for i in range(repeats + 3):
            sync()
            t0 = time.perf_counter()
            model(x)
            sync()
            if i >= 3:
                times.append(time.perf_counter() - t0)
    model.train()
    return 1e3 * sorted(times)[len(times) // 2]

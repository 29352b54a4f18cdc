"""The analytic estimate of a model's training memory, with no import of torch: planning
(nas.sweeping.memory) holds it against the per-trial budget, and the analysis reads it as the
`memory` complexity measure of a run's rows (nas.analysis.frame), which must not load torch."""

from __future__ import annotations

from typing import Any

BYTES = 4  # float32 weights, gradients, momentum and activations
STATE = 3  # copies of every parameter while training: weights, gradients, SGD momentum
# Activation memory per conv/linear output element (`Complexity.acts`) in training, in copies: the
# output and the norm and activation outputs after it are kept for the backward pass, which holds
# gradients of the same size. Peak RSS of CPU training steps measured 3.4 to 5.4 copies (RegNetX/Y,
# AnyNetX, NDS ResNet and vanilla at 32x32, batch 64-128); 5 errs on the side of refusing.
BACKWARD = 5


def training_bytes(params: Any, acts: Any, batch_size: int) -> Any:
    """Bytes to train a model of `params` parameters and `acts` activations (numbers or numpy
    arrays alike) at `batch_size`: STATE copies of its parameters and BACKWARD copies of its
    activations per image, BYTES each."""
    return BYTES * (STATE * params + BACKWARD * acts * batch_size)

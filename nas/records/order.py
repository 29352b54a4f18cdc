"""The one order of models from best to worst, shared by `nas analyze`'s best models and
`nas export --top`, so both name the same model when errors tie."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def best_first(
    error: Sequence[float] | np.ndarray,
    flops: Sequence[float] | np.ndarray,
    model_id: Sequence[str] | np.ndarray,
    trial_index: Sequence[int] | np.ndarray,
) -> np.ndarray:
    """Positions of the models best first: lowest error, then fewest FLOPs (missing ones last), then
    model id, then trial index."""
    cost = np.asarray(flops, dtype=float)
    cost = np.where(np.isnan(cost), np.inf, cost)
    ids = np.asarray(model_id, dtype=str)
    return np.lexsort((np.asarray(trial_index, dtype=np.int64), ids, cost, np.asarray(error, dtype=float)))

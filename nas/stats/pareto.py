"""The Pareto front of error against complexity: models no cheaper model beats or ties."""

from __future__ import annotations

import numpy as np


def pareto_front(cost: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """Indices of the front, cheapest first: each has lower error than every model at most as costly."""
    cost, errors = np.asarray(cost, dtype=float), np.asarray(errors, dtype=float)
    ok = np.flatnonzero(np.isfinite(cost) & np.isfinite(errors))
    order = ok[np.lexsort((errors[ok], cost[ok]))]
    if not len(order):
        return order
    best_before = np.concatenate([[np.inf], np.minimum.accumulate(errors[order])[:-1]])
    return order[errors[order] < best_before]


def nondominated(values: np.ndarray) -> np.ndarray:
    """Indices of rows no other row dominates (all columns minimised; <= everywhere, < somewhere).

    Pairwise, so meant for the few hundred models of a guided search; `pareto_front` is the
    fast two-objective path for whole sweeps."""
    values = np.asarray(values, dtype=float)
    keep = [
        i
        for i, v in enumerate(values)
        if not np.any(np.all(values <= v, axis=1) & np.any(values < v, axis=1))
    ]
    return np.array(keep, dtype=int)

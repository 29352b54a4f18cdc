"""Error distribution functions (Radosavovic et al. 2019): F(e) = (1/n) sum_i 1[e_i < e],
summary statistics and the Kolmogorov-Smirnov distance between two runs."""

from __future__ import annotations

import numpy as np


def edf(errors: np.ndarray, at: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Fraction (weighted if `weights`) of models with error strictly below each point of `at`."""
    errors = np.asarray(errors, dtype=float)
    w = np.ones_like(errors) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(errors)
    cum = np.concatenate([[0.0], np.cumsum(w[order])]) / w.sum()
    return cum[np.searchsorted(errors[order], np.asarray(at, dtype=float), side="left")]


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """sup_e |F_a(e) - F_b(e)|, evaluated at every observed error (where the sup is reached)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    points = np.concatenate([a, b])
    # one-sided limits from the right reach the sup for the '<' convention too
    fa = np.searchsorted(np.sort(a), points, side="right") / len(a)
    fb = np.searchsorted(np.sort(b), points, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


def summary(errors: np.ndarray) -> dict[str, float]:
    """count, min, median and mean of a run's final errors."""
    errors = np.asarray(errors, dtype=float)
    if errors.size == 0:
        return {"count": 0, "min": float("nan"), "median": float("nan"), "mean": float("nan")}
    return {
        "count": int(errors.size),
        "min": float(errors.min()),
        "median": float(np.median(errors)),
        "mean": float(errors.mean()),
    }

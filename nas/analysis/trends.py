"""Error against each design parameter: a binned trend, and where the best models lie.

Numeric parameters with at most `MAX_LEVELS` distinct values get one bin per value, others
quantile bins; each bin reports its count and the quartiles of error, flagged `few_models` where
fewer than `MIN_MODELS` models fill it. Categorical parameters (a stage's block family) get one
bin per category. The best-model bootstrap (`nas.analysis.bootstrap`)
adds the central (95%) interval of the best model's value, or each category's share of best models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nas.analysis.bootstrap import best_value, best_weights
from nas.analysis.defaults import LEVEL, SUBSAMPLE
from nas.analysis.result import few

MAX_LEVELS = 12


def bin_quartiles(
    labels: np.ndarray, errors: np.ndarray, nbins: int, by_error: np.ndarray | None = None
) -> np.ndarray:
    """(nbins, 3) array of the 25th, 50th and 75th percentile of error per bin label (NaN if empty);
    `by_error`, the stable argsort of errors, saves sorting them again for every parameter."""
    by_error = np.argsort(errors, kind="stable") if by_error is None else by_error
    order = by_error[np.argsort(labels[by_error], kind="stable")]  # by label, then by error
    lab, err = labels[order], errors[order]
    counts = np.bincount(lab, minlength=nbins)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = np.full((nbins, 3), np.nan)
    full = counts > 0
    for j, q in enumerate((0.25, 0.5, 0.75)):
        pos = start[full] + q * (counts[full] - 1)  # linear interpolation, as np.quantile
        low = np.floor(pos).astype(int)
        high = np.minimum(low + 1, start[full] + counts[full] - 1)
        out[full, j] = err[low] + (pos - low) * (err[high] - err[low])
    return out


def bin_stats(
    labels: np.ndarray, errors: np.ndarray, nbins: int, by_error: np.ndarray | None = None
) -> dict[str, list]:
    """Count, error quartiles and the few-models flag of each bin label."""
    q = bin_quartiles(labels, errors, nbins, by_error)
    counts = np.bincount(labels, minlength=nbins)
    return {
        "count": counts.tolist(),
        "q25": q[:, 0].tolist(),
        "median": q[:, 1].tolist(),
        "q75": q[:, 2].tolist(),
        "few_models": [few(c) for c in counts],
    }


def numeric_trend(
    x: np.ndarray, errors: np.ndarray, bins: int = 10, by_error: np.ndarray | None = None
) -> dict[str, Any]:
    """Bins of x (one per value when few values, else quantile bins) with count and error quartiles."""
    levels = np.unique(x)
    if len(levels) <= MAX_LEVELS:
        labels, centers = np.searchsorted(levels, x), levels
        lo = hi = levels
    else:
        edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)))
        labels = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
        lo, hi = edges[:-1], edges[1:]
        centers = np.array(
            [np.median(x[labels == j]) if np.any(labels == j) else np.nan for j in range(len(lo))]
        )
    return {
        "x": centers.tolist(),
        "lo": np.asarray(lo).tolist(),
        "hi": np.asarray(hi).tolist(),
        **bin_stats(labels, errors, len(lo), by_error),
    }


def categorical_trend(
    x: np.ndarray, errors: np.ndarray, by_error: np.ndarray | None = None
) -> dict[str, Any]:
    """One bin per category with count and error quartiles."""
    cats, labels = np.unique(x.astype(str), return_inverse=True)
    return {"x": cats.tolist(), **bin_stats(labels, errors, len(cats), by_error)}


@dataclass
class Shared:
    """What every parameter of a run with values everywhere shares: the errors' sort order and the
    best-model weights (they depend on the errors only), computed once instead of per parameter."""

    finite: np.ndarray
    by_error: np.ndarray
    weights: np.ndarray


def parameter(
    name: str, x: np.ndarray, errors: np.ndarray, fraction: float, level: float, shared: Shared | None = None
) -> dict[str, Any]:
    """Trend and best-model bootstrap of one parameter over models with a finite error."""
    numeric = x.dtype.kind == "f"
    keep = np.isfinite(errors) & (
        ~np.isnan(x) if numeric else np.array([v is not None for v in x], dtype=bool)
    )
    x, e = x[keep], errors[keep]
    out: dict[str, Any] = {"name": name, "kind": "numeric" if numeric else "categorical"}
    if len(x) < 2:
        return {**out, "n": int(len(x))}
    same = shared is not None and np.array_equal(keep, shared.finite)
    weights, by_error = (shared.weights, shared.by_error) if same else (None, None)
    out.update(best_value(x, e, fraction, level, weights))
    out["trend"] = numeric_trend(x, e, by_error=by_error) if numeric else categorical_trend(x, e, by_error)
    return out


def parameters(
    params: dict[str, np.ndarray], errors: np.ndarray, fraction: float = SUBSAMPLE, level: float = LEVEL
) -> list[dict[str, Any]]:
    """`parameter` for every design parameter of a run."""
    finite = np.isfinite(errors)
    e = errors[finite]
    shared = Shared(finite, np.argsort(e, kind="stable"), best_weights(e, fraction)) if len(e) >= 2 else None
    return [parameter(name, x, errors, fraction, level, shared) for name, x in params.items()]

"""Bootstrap statistics: pointwise confidence bands of EDFs, and where the best models lie.

EDF bands resample models with replacement. An EDF evaluated on a grid depends only on how many
resampled errors fall between consecutive grid points, and those counts are multinomial, so each
resample costs O(grid) instead of O(n) (O(n) when n is the smaller: few models are drawn directly). With strata (complexity bins) each stratum is resampled
on its own and weighs equally, which is exactly the complexity-normalised EDF.

The best-model bootstrap of the RegNet paper (take 25% of the models with replacement, keep the
best, record its parameter value, repeat; pycls's `get_filters` draws int(0.25 n) models, at
least one) is computed in its limit of infinitely many repeats: each model's probability of being
the best of a subsample (`nas.analysis.bestof`) weights its value.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nas.analysis.bestof import best_probs
from nas.analysis.defaults import LEVEL
from nas.analysis.result import few


def edf_band(
    errors: np.ndarray,
    grid: np.ndarray,
    resamples: int,
    rng: np.random.Generator,
    strata: np.ndarray | None = None,
    level: float = LEVEL,
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise `level` bootstrap band (low, high) of the EDF on `grid`; strata < 0 are left out."""
    errors = np.asarray(errors, dtype=float)
    labels = np.zeros(len(errors), dtype=int) if strata is None else np.asarray(strata)
    kept = [s for s in np.unique(labels) if s >= 0]
    if not kept or resamples < 1:
        nan = np.full(len(grid), np.nan)
        return nan, nan.copy()
    shares = np.zeros((resamples, len(grid) + 1))
    for s in kept:
        e = errors[labels == s]
        # cell c holds the errors with c grid points at or below them; F(grid[i]) counts cells <= i
        cell = np.searchsorted(grid, e, side="right")
        shares += _cell_counts(cell, len(grid) + 1, resamples, rng) / len(e)
    curves = np.cumsum(shares, axis=1)[:, : len(grid)] / len(kept)
    tail = (1.0 - level) / 2
    return np.quantile(curves, tail, axis=0), np.quantile(curves, 1.0 - tail, axis=0)


def _cell_counts(cell: np.ndarray, cells: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples, cells) counts of n = len(cell) draws with replacement: multinomial draws (one
    binomial per cell) when the models outnumber the cells, else the drawn models' cells counted
    (one integer per model): whichever draws fewer numbers."""
    n = len(cell)
    if n >= cells:
        return rng.multinomial(n, np.bincount(cell, minlength=cells) / n, size=resamples)
    picked = cell[rng.integers(0, n, (resamples, n))] + cells * np.arange(resamples)[:, None]
    return np.bincount(picked.ravel(), minlength=resamples * cells).reshape(resamples, cells)


def subsample_size(n: int, fraction: float) -> int:
    """Models per bootstrap subsample: `fraction` of the run rounded down, at least one (as pycls)."""
    return max(1, int(fraction * n))


def best_weights(errors: np.ndarray, fraction: float) -> np.ndarray:
    """Each model's probability of being the best of a random `fraction` subsample (with replacement)."""
    return best_probs(errors, subsample_size(len(errors), fraction))


def numeric_interval(values: np.ndarray, weights: np.ndarray, level: float = LEVEL) -> dict[str, float]:
    """Central `level` interval and median of the best model's value under `weights`."""
    order = np.argsort(values, kind="stable")
    v, cum = values[order], np.cumsum(weights[order])
    cum /= cum[-1]
    tail = (1.0 - level) / 2

    def at(q: float) -> float:
        return float(v[min(np.searchsorted(cum, q - 1e-12), len(v) - 1)])

    return {"lo": at(tail), "median": at(0.5), "hi": at(1.0 - tail)}


def category_shares(values: np.ndarray, weights: np.ndarray) -> dict[str, float]:
    """Probability that the best model of a subsample has each category, largest first."""
    cats, inverse = np.unique(values.astype(str), return_inverse=True)
    share = np.bincount(inverse, weights=weights) / weights.sum()
    order = np.argsort(-share, kind="stable")
    return {str(cats[i]): float(share[i]) for i in order}


def best_value(
    values: np.ndarray, errors: np.ndarray, fraction: float, level: float, weights: np.ndarray | None = None
) -> dict[str, Any]:
    """The bootstrap distribution of the best model's value of one parameter (NaN/None rows left out),
    flagged `few_models` when it rests on fewer than `MIN_MODELS` models; `weights`, the models'
    `best_weights` when no row is left out, saves computing them again for every parameter."""
    numeric = values.dtype.kind == "f"
    keep = ~np.isnan(values) if numeric else np.array([v is not None for v in values], dtype=bool)
    v, e = values[keep], errors[keep]
    if not len(v):
        return {"n": 0}
    w = best_weights(e, fraction) if weights is None or len(weights) != len(e) else weights
    out: dict[str, Any] = {
        "n": int(len(v)),
        "subsample": subsample_size(len(v), fraction),
        "few_models": few(len(v)),
    }
    if numeric:
        out.update(numeric_interval(v, w, level))
    else:
        out["shares"] = category_shares(v, w)
    return out

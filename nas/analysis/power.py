"""How many models per space the KS test needs to separate two runs: a bootstrap power analysis.

Each run's recorded errors stand in for its space. For n models per space, n errors are drawn
with replacement from each run, the two-sample KS test of the analysis (scipy's `ks_2samp`) is
applied, and the share of resamples with p < alpha estimates its power at n. The answer is the
smallest n whose estimated power reaches the target, found by bisection over n (power grows
with n) to within `RESOLUTION`, or none when even the largest n considered falls short or the
two EDFs are identical.

With n errors on each side the KS distance is a multiple of 1/n and the test rejects exactly
when it reaches a critical multiple, so each resample needs only its counts per distinct error:
one cumulative sum. Runs with more than `MAX_CELLS` distinct errors between them are merged into
that many cells at pooled quantiles: a distance is then read at the cell edges only, which lowers
it by at most the gap between the two runs' shares of one cell.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import stats

from nas.analysis.edf import ks_distance

MAX_CELLS = 1000
DRAWS = 2_000_000  # resampled indices held at once
REACH, FLOOR = 10, 1000  # n goes up to REACH times the larger run, and at least to FLOOR
RESOLUTION = 0.02  # the bisection stops when n is known to within 2% (or to the model)


def largest_n(a: int, b: int) -> int:
    """The largest n per space the search considers for runs of a and b models."""
    return max(FLOOR, REACH * max(a, b))


@lru_cache(maxsize=4096)
def critical(n: int, alpha: float) -> int:
    """Smallest k with ks_2samp p < alpha at distance k/n between two samples of n (n + 1: none)."""

    def rejects(k: int) -> bool:  # 0..n-1 against k..n+k-1: distance exactly k/n
        a = np.arange(n, dtype=float)
        return bool(stats.ks_2samp(a, a + k).pvalue < alpha)

    if not rejects(n):
        return n + 1
    k = min(n, max(1, round(stats.kstwobign.isf(alpha) * math.sqrt(2 * n))))  # asymptotic guess
    while k < n and not rejects(k):
        k += 1
    while k > 1 and rejects(k - 1):
        k -= 1
    return k


def cells(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Each error's cell among the distinct errors of both runs (or pooled quantiles past
    `MAX_CELLS`), and the number of cells."""
    pooled = np.concatenate([a, b])
    cuts = np.unique(pooled)
    if len(cuts) > MAX_CELLS:
        q = np.linspace(0, 1, MAX_CELLS + 1)[1:]
        cuts = np.unique(np.quantile(pooled, q, method="inverted_cdf"))
    return np.searchsorted(cuts, a), np.searchsorted(cuts, b), len(cuts)


def resample_counts(
    cell: np.ndarray, size: int, n: int, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """(resamples, size) counts per cell of n draws with replacement from the models in `cell`."""
    freq = np.bincount(cell, minlength=size) / len(cell)
    if n > 10 * size:  # multinomial costs about ten draws per cell
        return rng.multinomial(n, freq, size=resamples)
    out = np.empty((resamples, size), dtype=np.int64)
    step = max(1, DRAWS // n)
    for start in range(0, resamples, step):
        rows = min(step, resamples - start)
        picked = cell[rng.integers(0, len(cell), (rows, n))] + size * np.arange(rows)[:, None]
        out[start : start + rows] = np.bincount(picked.ravel(), minlength=rows * size).reshape(rows, size)
    return out


def distances(ca: np.ndarray, cb: np.ndarray) -> np.ndarray:
    """n times the KS distance of each pair of count rows (both summing to n)."""
    return np.abs(np.cumsum(ca - cb, axis=1)).max(axis=1)


def power(
    cell_a: np.ndarray,
    cell_b: np.ndarray,
    size: int,
    n: int,
    alpha: float,
    resamples: int,
    rng: np.random.Generator,
) -> float:
    """Share of `resamples` draws of n models per run in which the KS test rejects at alpha."""
    k = critical(n, alpha)
    if k > n:
        return 0.0
    ca = resample_counts(cell_a, size, n, resamples, rng)
    cb = resample_counts(cell_b, size, n, resamples, rng)
    return float(np.mean(distances(ca, cb) >= k))


def models_needed(
    a: np.ndarray,
    b: np.ndarray,
    alpha: float,
    target: float,
    largest: int,
    resamples: int,
    rng: np.random.Generator,
) -> tuple[int | None, float]:
    """Smallest n <= `largest` (to within `RESOLUTION`) with estimated power >= `target`, and that
    power; (None, power at `largest`) when it is not reached there, (None, 0) for identical EDFs."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if ks_distance(a, b) == 0:
        return None, 0.0
    cell_a, cell_b, size = cells(a, b)

    def at(n: int) -> float:
        return power(cell_a, cell_b, size, n, alpha, resamples, rng)

    top = at(largest)
    if top < target:
        return None, top
    lo, hi, got = 1, largest, top  # power(lo) < target <= power(hi)
    while hi - lo > max(1, RESOLUTION * lo):
        mid = min(hi - 1, max(lo + 1, round(math.sqrt(lo * hi))))
        p = at(mid)
        if p >= target:
            hi, got = mid, p
        else:
            lo = mid
    return hi, got

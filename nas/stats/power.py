"""How many models per space the KS test needs to separate two runs: a bootstrap power analysis.

Each run's recorded errors stand in for its space. For n models per space, n errors are drawn
with replacement from each run, the two-sample KS test of the analysis (scipy's `ks_2samp`) is
applied, and the share of resamples with p < alpha estimates its power at n. The answer is the
smallest n whose estimated power reaches the target, found by bisection over n (power grows
with n) to within `RESOLUTION`, or none when even the largest n considered falls short or the
two EDFs are identical.

Planned from two recorded runs (`planned`), the observed distance is an optimistic stand-in for
the spaces' own: it is biased upward, the more so the fewer the models. So the effect is taken at
its `CONFIDENCE` lower bound (the basic bootstrap: twice the observed distance less that quantile of
the resampled ones), both runs' EDFs are drawn toward each other until they are that far apart,
and n is found for those. A pair whose recorded difference is not significant, or whose bound is
not above zero, cannot be planned for: the data cannot tell whether there is a difference at all.

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

from nas.stats.dist import kolmogorov_isf, ks_2samp, ks_p, shifted_distance
from nas.stats.edf import ks_distance

MAX_CELLS = 1000
DRAWS = 2_000_000  # resampled indices held at once
REACH, FLOOR = 10, 1000  # n goes up to REACH times the larger run, and at least to FLOOR
RESOLUTION = 0.02  # the bisection stops when n is known to within 2% (or to the model)
CONFIDENCE = 0.8  # a planned n assumes the effect at its 80% lower confidence bound


def largest_n(a: int, b: int) -> int:
    """The largest n per space the search considers for runs of a and b models."""
    return max(FLOOR, REACH * max(a, b))


@lru_cache(maxsize=4096)
def critical(n: int, alpha: float) -> int:
    """Smallest k with ks_2samp p < alpha at distance k/n between two samples of n (n + 1: none)."""

    def rejects(k: int) -> bool:  # 0..n-1 against k..n+k-1: distance k/n
        return ks_p(n, n, shifted_distance(n, k)) < alpha

    if not rejects(n):
        return n + 1
    k = min(n, max(1, round(kolmogorov_isf(alpha) * math.sqrt(2 * n))))  # asymptotic guess
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
    cell: np.ndarray,
    size: int,
    n: int,
    resamples: int,
    rng: np.random.Generator,
    other: np.ndarray | None = None,
    share: float = 0.0,
) -> np.ndarray:
    """(resamples, size) counts per cell of n draws with replacement from the models in `cell`,
    each draw taken from the models in `other` instead with probability `share`."""
    freq = np.bincount(cell, minlength=size) / len(cell)
    if share:
        mixed = (1 - share) * freq + share * np.bincount(other, minlength=size) / len(other)
        freq = mixed / mixed.sum()  # rounding must not push the sum past 1 for numpy's multinomial
    if n > 10 * size:  # multinomial costs about ten draws per cell
        return rng.multinomial(n, freq, size=resamples)
    out = np.empty((resamples, size), dtype=np.int64)
    step = max(1, DRAWS // n)
    for start in range(0, resamples, step):
        rows = min(step, resamples - start)
        picked = cell[rng.integers(0, len(cell), (rows, n))]
        if share:
            swap = rng.random((rows, n)) < share
            picked[swap] = other[rng.integers(0, len(other), int(swap.sum()))]
        picked += size * np.arange(rows)[:, None]
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
    share: float = 0.0,
) -> float:
    """Share of `resamples` draws of n models per run in which the KS test rejects at alpha (each
    run's draws taken from the other run with probability `share`)."""
    k = critical(n, alpha)
    if k > n:
        return 0.0
    ca = resample_counts(cell_a, size, n, resamples, rng, cell_b, share)
    cb = resample_counts(cell_b, size, n, resamples, rng, cell_a, share)
    return float(np.mean(distances(ca, cb) >= k))


def models_needed(
    a: np.ndarray,
    b: np.ndarray,
    alpha: float,
    target: float,
    largest: int,
    resamples: int,
    rng: np.random.Generator,
    share: float = 0.0,
) -> tuple[int | None, float]:
    """Smallest n <= `largest` (to within `RESOLUTION`) with estimated power >= `target`, and that
    power; (None, power at `largest`) when it is not reached there, (None, 0) for identical EDFs.
    With `share`, each run's EDF is first mixed with that share of the other's, which brings
    them 1 - 2 share of their distance apart."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if ks_distance(a, b) == 0:
        return None, 0.0
    cell_a, cell_b, size = cells(a, b)

    def at(n: int) -> float:
        return power(cell_a, cell_b, size, n, alpha, resamples, rng, share)

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


def effect_bound(a: np.ndarray, b: np.ndarray, resamples: int, rng: np.random.Generator) -> float:
    """`CONFIDENCE` lower bound of the spaces' KS distance from their runs' errors: the basic
    bootstrap's 2 D - q(D*), D* the distances of runs resampled at their own sizes."""
    cell_a, cell_b, size = cells(a, b)
    ca = resample_counts(cell_a, size, len(a), resamples, rng)
    cb = resample_counts(cell_b, size, len(b), resamples, rng)
    resampled = np.abs(np.cumsum(ca / len(a) - cb / len(b), axis=1)).max(axis=1)
    return 2 * ks_distance(a, b) - float(np.quantile(resampled, CONFIDENCE))


def planned(
    a: np.ndarray,
    b: np.ndarray,
    alpha: float,
    target: float,
    largest: int,
    resamples: int,
    rng: np.random.Generator,
) -> tuple[int | None, float, float | None, str | None]:
    """Models per space for a new comparison of the spaces two runs came from: (n, its power, the
    effect assumed, None), or (None, power, effect, why) when it cannot be planned with this data."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    d = ks_distance(a, b)
    if d == 0:
        return None, 0.0, None, "identical EDFs"
    p = ks_2samp(a, b)[1]
    if p >= alpha:
        return None, 0.0, None, f"their difference is not significant: p {p:.2g} >= {alpha:g}"
    bound = effect_bound(a, b, resamples, rng)
    if bound <= 0:
        return None, 0.0, bound, f"the {CONFIDENCE:.0%} lower bound of their KS distance is 0"
    n, got = models_needed(a, b, alpha, target, largest, resamples, rng, share=(1 - bound / d) / 2)
    why = None if n else f"power {got:.2f} < {target:g} even at {largest:,} models per space"
    return n, got, bound, why

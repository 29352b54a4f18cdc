"""The best of k models drawn at random (with replacement) from a run's sample, in closed form.

Sort the n errors ascending; the best of k independent draws has rank >= r with probability
((n - r + 1) / n)^k, so rank r is the best with probability ((n-r+1)/n)^k - ((n-r)/n)^k. Tied
errors share their ranks' probability equally (a random tie-break). This gives random-search
efficiency (the expected best error of k samples) and the exact limit of the RegNet paper's
bootstrap (the best model of many 25% subsamples) without any Monte Carlo.
"""

from __future__ import annotations

import numpy as np


def rank_probs(n: int, k: float) -> np.ndarray:
    """P(the best of k draws from n sorted items is the r-th), r = 1..n."""
    above = np.arange(n, -1, -1, dtype=float) / n  # P(one draw has rank >= r), r = 1..n+1
    return -np.diff(above**k)


def best_probs(errors: np.ndarray, k: float) -> np.ndarray:
    """Per model (in the given order): the probability it is the best of k draws, ties shared."""
    errors = np.asarray(errors, dtype=float)
    n = len(errors)
    if n == 0:
        return np.zeros(0)
    order = np.argsort(errors, kind="stable")
    p = rank_probs(n, k)
    _, group, counts = np.unique(errors[order], return_inverse=True, return_counts=True)
    shared = np.bincount(group, weights=p) / counts
    out = np.empty(n)
    out[order] = shared[group]
    return out


def expected_best(errors: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """E[min error of k random draws from the sample] for each k in `ks`."""
    e = np.sort(np.asarray(errors, dtype=float))
    if not len(e):
        return np.full(len(ks), np.nan)
    # sum_r e_(r) P(rank r) = e_(1) + sum_{r>1} (e_(r) - e_(r-1)) P(best rank >= r)
    above = (np.arange(len(e) - 1, 0, -1, dtype=float) / len(e))[None, :] ** np.asarray(ks, float)[:, None]
    return e[0] + above @ np.diff(e)


def search_ks(n: int, points: int = 24) -> np.ndarray:
    """Sample counts 1..n at which to evaluate random search: log-spaced, powers of ten included."""
    n = max(n, 1)
    tens = 10 ** np.arange(int(np.log10(n)) + 1)
    return np.union1d(np.round(np.geomspace(1, n, points)).astype(int), tens)

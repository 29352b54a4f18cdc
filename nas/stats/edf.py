"""Error distribution functions (Radosavovic et al. 2019): F(e) = sum_i w_i 1[e_i < e] with
w_i = 1/n (plain) or complexity-normalising weights, and the Kolmogorov-Smirnov test between runs.

Complexity normalisation follows the 2019 paper: the complexity range is cut into k bins and
each of the m_j models in bin j gets weight 1/(k m_j), so every run's complexity histogram
becomes uniform over the same bins. Bins are log-spaced over the range all compared runs share
and are kept only where every run has a model; models outside the kept bins get weight 0.
"""

from __future__ import annotations

import numpy as np

from nas.stats import dist


def edf(errors: np.ndarray, at: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Fraction (weighted if `weights`) of models with error strictly below each point of `at`."""
    errors = np.asarray(errors, dtype=float)
    w = np.ones_like(errors) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(errors, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(w[order])]) / w.sum()
    return cum[np.searchsorted(errors[order], np.asarray(at, dtype=float), side="left")]


def weighted_ks_distance(a: np.ndarray, wa: np.ndarray, b: np.ndarray, wb: np.ndarray) -> float:
    """sup_e |F_a(e) - F_b(e)| of two weighted EDFs, checked at every observed error."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    points = np.concatenate([a, b])
    # the right-hand limits at the jumps reach the sup for the '<' convention too
    return float(np.max(np.abs(_right_edf(a, wa, points) - _right_edf(b, wb, points))))


def _right_edf(x: np.ndarray, w: np.ndarray, at: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(np.asarray(w, dtype=float)[order])])
    return cum[np.searchsorted(x[order], at, side="right")] / cum[-1]


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """sup_e |F_a(e) - F_b(e)| of two plain EDFs."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return weighted_ks_distance(a, np.ones(len(a)), b, np.ones(len(b)))


def ks_test(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Two-sample KS distance and p-value (scipy's ks_2samp: exact for small samples)."""
    d, p = dist.ks_2samp(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    return {"ks": d, "p": p}


def effective_size(weights: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2: n for equal weights, less when unequal."""
    w = np.asarray(weights, dtype=float)
    return float(w.sum() ** 2 / np.sum(w**2)) if np.any(w) else 0.0


def weighted_ks_test(a: np.ndarray, wa: np.ndarray, b: np.ndarray, wb: np.ndarray) -> dict[str, float]:
    """Weighted KS distance D with an asymptotic p-value: P(K > D sqrt(n_a n_b / (n_a + n_b))) for the
    Kolmogorov distribution K, the n being effective sample sizes of the weights (zero weights dropped)."""
    a, wa, b, wb = (np.asarray(x, dtype=float) for x in (a, wa, b, wb))
    a, wa, b, wb = a[wa > 0], wa[wa > 0], b[wb > 0], wb[wb > 0]
    na, nb = effective_size(wa), effective_size(wb)
    if not (na and nb):
        return {"ks": float("nan"), "p": float("nan"), "n_eff_a": na, "n_eff_b": nb}
    d = weighted_ks_distance(a, wa, b, wb)
    p = float(dist.kolmogorov_sf(d * np.sqrt(na * nb / (na + nb))))
    return {"ks": d, "p": p, "n_eff_a": na, "n_eff_b": nb}


def complexity_bins(complexities: list[np.ndarray], bins: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Log-spaced bin edges over the complexity range every run shares, and per run each model's
    bin index among the bins occupied in every run (-1: outside them, or no positive complexity)."""
    cx = [np.asarray(c, dtype=float) for c in complexities]
    valid = [np.isfinite(c) & (c > 0) for c in cx]
    none = np.array([]), [np.full(len(c), -1) for c in cx]
    if not cx or not all(v.any() for v in valid):
        return none
    lo = max(float(c[v].min()) for c, v in zip(cx, valid))
    hi = min(float(c[v].max()) for c, v in zip(cx, valid))
    if lo > hi:  # disjoint ranges: no shared complexity, nothing to compare
        return none
    edges = np.geomspace(lo, hi, bins + 1) if hi > lo else np.array([lo, hi])
    raw = []
    for c, v in zip(cx, valid):
        idx = np.clip(np.searchsorted(edges, c, side="right") - 1, 0, len(edges) - 2)
        raw.append(np.where(v & (c >= lo) & (c <= hi), idx, -1))
    occupied = np.ones(len(edges) - 1, dtype=bool)
    for r in raw:
        occupied &= np.bincount(r[r >= 0], minlength=len(edges) - 1) > 0
    renumber = np.where(occupied, np.cumsum(occupied) - 1, -1)
    return edges, [np.where(r >= 0, renumber[np.maximum(r, 0)], -1) for r in raw]


def stratum_weights(labels: np.ndarray) -> np.ndarray:
    """Weight 1/(k m_j) for each of the m_j models in stratum j of k; 0 for label -1."""
    labels = np.asarray(labels)
    counts = np.bincount(labels[labels >= 0]) if np.any(labels >= 0) else np.zeros(0)
    k = int(np.count_nonzero(counts))
    w = np.zeros(len(labels))
    inside = labels >= 0
    w[inside] = 1.0 / (k * counts[labels[inside]])
    return w


def default_bins(sizes: list[int]) -> int:
    """About five models per bin in the smallest run, between 1 and 10 bins."""
    return int(np.clip(min(sizes, default=0) // 5, 1, 10))


def error_grid(curves: list[np.ndarray], log: bool = False, points: int = 400) -> np.ndarray:
    """Points on the error axis spanning every curve (log-spaced over positive errors if `log`)."""
    finite = [e[np.isfinite(e)] for e in curves if np.isfinite(e).any()]
    lo = min(float(e.min()) for e in finite) if finite else 0.0
    hi = max(float(e.max()) for e in finite) if finite else 100.0
    if log:
        positive = [e[e > 0] for e in finite if (e > 0).any()]
        lo = min(float(e.min()) for e in positive) if positive else 1e-3
        return np.geomspace(lo * 0.95, max(hi, lo) * 1.05, points)
    pad = 0.02 * (hi - lo or 1.0)
    return np.linspace(lo - pad, hi + pad, points)


def summary(errors: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
    """count, min, median and mean of a run's final errors (weighted median and mean if `weights`)."""
    errors = np.asarray(errors, dtype=float)
    if weights is not None:
        keep = np.asarray(weights) > 0
        errors, weights = errors[keep], np.asarray(weights, dtype=float)[keep]
    if errors.size == 0:
        return {"count": 0, "min": float("nan"), "median": float("nan"), "mean": float("nan")}
    if weights is None:
        median, mean = float(np.median(errors)), float(errors.mean())
    else:
        order = np.argsort(errors, kind="stable")
        cum = np.cumsum(weights[order]) / weights.sum()
        median = float(errors[order][np.searchsorted(cum, 0.5)])
        mean = float(np.average(errors, weights=weights))
    return {"count": int(errors.size), "min": float(errors.min()), "median": median, "mean": mean}

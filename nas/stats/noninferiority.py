"""Is a refined design space no worse than its parent? A non-inferiority test on complexity-
normalised error distributions, with the error rate held over a whole multi-step exploration.

The effect is the Mann-Whitney functional pi = P(X < Y) + P(X = Y) / 2 for an error X of the
candidate space and Y of the parent, each drawn from its complexity-normalised EDF: pi = 1/2 when
the two EDFs agree, above 1/2 when the candidate's models tend to be better. The candidate is
non-inferior when pi > 1/2 - margin. This is the Mann-Whitney test for non-inferiority of Wellek
(2010, "Testing Statistical Hypotheses of Equivalence and Noninferiority", 2nd ed., ch. 6): reject
H0: pi <= 1/2 - margin when z = (pi_hat - 1/2 + margin) / se exceeds z_{1 - alpha}, se from the
U-statistic's first-order (Hajek) projection. With complexity-normalising weights a_i, b_j (each
summing to 1; nas.stats.edf) the estimate is sum_ij a_i b_j h(x_i, y_j) and its variance
sum_i a_i^2 var(H1) + sum_j b_j^2 var(H2), the H being the projections. The normalised EDF is a
stratified sample (a fixed weight per complexity bin), so each variance is taken within the bins
(the stratified-sampling estimator); a model alone in its bin is taken about the pooled mean,
which can only over-state it. Equal weights and one bin give Wellek's asymptotic test.

One exploration tests many candidates over several steps. Each step k gets level alpha / K for
at most K steps (Bonferroni spending over the looks), and within a step Holm's procedure over its
candidates: the chance that any step accepts a candidate that is in truth worse than its parent
by the margin or more is then at most alpha, whatever the data decide along the way, provided a
step's candidate models are drawn afresh (so each step's test is valid given the past).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from blocks.errors import ParamError
from nas.stats.dist import norm_sf
from nas.stats.edf import complexity_bins, default_bins, effective_size, stratum_weights


@dataclass(frozen=True)
class NonInferiority:
    """One candidate against its parent: the estimated pi, its standard error, the one-sided
    p-value of H0: pi <= 1/2 - margin, and the effective numbers of models on each side."""

    pi: float
    se: float
    p: float
    margin: float
    n_candidate: float
    n_parent: float

    def to_dict(self) -> dict:
        """JSON-safe dict."""
        return asdict(self)


def check_level(name: str, value: float) -> None:
    """Refuse a level, margin or share outside (0, 1) (margins also below 1/2)."""
    high = 0.5 if name == "margin" else 1.0
    if not (isinstance(value, (int, float)) and 0 < value < high):
        raise ParamError(name, f"{value!r} is illegal; legal: a number strictly between 0 and {high:g}")


def _scores(x: np.ndarray, y: np.ndarray, wy: np.ndarray) -> np.ndarray:
    """For each x_i the weighted share of y above it, ties counted half (weights wy sum to 1)."""
    order = np.argsort(y, kind="stable")
    ys, cum = y[order], np.concatenate([[0.0], np.cumsum(wy[order])])
    below = cum[np.searchsorted(ys, x, side="left")]
    at_or_below = cum[np.searchsorted(ys, x, side="right")]
    return 1.0 - at_or_below + (at_or_below - below) / 2


def _spread(h: np.ndarray, w: np.ndarray, mean: float, strata: np.ndarray) -> float:
    """sum w_i^2 (h_i - centre_i)^2 over models, centre_i the mean of h in model i's stratum,
    inflated by m / (m - 1) per stratum of m models (a lone model: about `mean`, n_eff / (n_eff - 1))."""
    total = 0.0
    for s in np.unique(strata):
        hs, ws = h[strata == s], w[strata == s]
        if len(hs) > 1:
            total += float(np.sum(ws**2 * (hs - np.average(hs, weights=ws)) ** 2)) * len(hs) / (len(hs) - 1)
        else:
            n = effective_size(w)
            total += float(np.sum(ws**2 * (hs - mean) ** 2)) * (n / (n - 1) if n > 1 else np.inf)
    return total


def mann_whitney(
    candidate: np.ndarray,
    parent: np.ndarray,
    margin: float,
    w_candidate: np.ndarray | None = None,
    w_parent: np.ndarray | None = None,
    strata: tuple[np.ndarray, np.ndarray] | None = None,
) -> NonInferiority:
    """Wellek's Mann-Whitney non-inferiority test of candidate errors against parent errors
    (lower is better), weighted if weights are given (models of weight 0 take no part), with the
    variances taken within `strata` (labels of the candidate's and the parent's models) if given."""
    check_level("margin", margin)
    x, y = np.asarray(candidate, dtype=float), np.asarray(parent, dtype=float)
    a = np.ones(len(x)) if w_candidate is None else np.asarray(w_candidate, dtype=float)
    b = np.ones(len(y)) if w_parent is None else np.asarray(w_parent, dtype=float)
    sa, sb = (np.zeros(len(x), int), np.zeros(len(y), int)) if strata is None else map(np.asarray, strata)
    x, a, sa, y, b, sb = x[a > 0], a[a > 0], sa[a > 0], y[b > 0], b[b > 0], sb[b > 0]
    if len(x) < 2 or len(y) < 2:
        nan = float("nan")
        return NonInferiority(nan, nan, 1.0, margin, effective_size(a), effective_size(b))
    a, b = a / a.sum(), b / b.sum()
    h1 = _scores(x, y, b)  # P(Y > x_i)
    h2 = 1.0 - _scores(y, x, a)  # P(X < y_j), ties half
    pi = float(np.sum(a * h1))
    se = float(np.sqrt(_spread(h1, a, pi, sa) + _spread(h2, b, pi, sb)))
    # se 0: the samples do not overlap, pi is 0 or 1 and says so without doubt
    p = float(norm_sf((pi - 0.5 + margin) / se)) if se else float(pi <= 0.5 - margin)
    return NonInferiority(pi, se, p, margin, effective_size(a), effective_size(b))


def normalised_test(
    candidate: np.ndarray,
    cx_candidate: np.ndarray,
    parent: np.ndarray,
    cx_parent: np.ndarray,
    margin: float,
    bins: int | None = None,
) -> NonInferiority:
    """`mann_whitney` on complexity-normalised EDFs: both runs' models weighted so each run's complexity
    histogram is uniform over the log-spaced bins they share (nas.stats.edf), variances within bins."""
    bins = bins or default_bins([len(candidate), len(parent)])
    _, (lc, lp) = complexity_bins([np.asarray(cx_candidate), np.asarray(cx_parent)], bins)
    return mann_whitney(candidate, parent, margin, stratum_weights(lc), stratum_weights(lp), (lc, lp))


def step_level(level: float, steps: int) -> float:
    """The level one step may spend when an exploration takes at most `steps` steps."""
    check_level("level", level)
    if int(steps) != steps or steps < 1:
        raise ParamError("steps", f"{steps!r} is illegal; legal: a whole number >= 1")
    return level / steps


def holm(pvalues: list[float], level: float) -> list[bool]:
    """Holm's step-down procedure: which hypotheses are rejected at family-wise level `level`."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    out = [False] * len(pvalues)
    for rank, i in enumerate(order):
        if pvalues[i] > level / (len(pvalues) - rank):
            break
        out[i] = True
    return out

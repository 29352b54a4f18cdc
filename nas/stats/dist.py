"""The distribution functions the analysis needs, in numpy and math: the two-sample KS test, the
Kolmogorov distribution, normal quantiles and exact binomial bounds.

`import scipy.stats` costs about a second, more than a quickstart's whole analysis, so the analysis
path computes these itself. The KS p-value is scipy's `ks_2samp` (method "auto"): exact, from the
lattice-path distribution of the distance under the null (Hodges 1958), ties ignored as scipy ignores
them, for two samples of the same size up to `EXACT_UP_TO` or of any sizes up to `WALKED_UP_TO`; beyond
`EXACT_UP_TO` a side, scipy's asymptotic form, the one-sample two-sided law at the effective size
(kstwo.py). Only unequal samples between the two limits still need scipy's compiled exact count,
imported then.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from nas.stats.kstwo import kstwo_sf

EXACT_UP_TO = 10_000  # scipy's MAX_AUTO_N: exact up to it, asymptotic beyond
WALKED_UP_TO = 1_000  # the band walk in numpy takes a quarter second at 1,000 x 1,000, less than the import


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """sup |F_a - F_b| of two samples' EDFs, read at every observed value."""
    a, b = np.sort(np.asarray(a, dtype=float)), np.sort(np.asarray(b, dtype=float))
    both = np.concatenate([a, b])
    diff = np.searchsorted(a, both, side="right") / len(a) - np.searchsorted(b, both, side="right") / len(b)
    return float(max(diff.max(), -diff.min(), 0.0))


def ks_2samp(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sided two-sample KS distance and p-value, as scipy's `ks_2samp(a, b)` gives them."""
    n1, n2 = len(a), len(b)
    if not (n1 and n2):
        raise ValueError("ks_2samp needs two non-empty samples")
    if n1 != n2 and WALKED_UP_TO < max(n1, n2) <= EXACT_UP_TO:
        from scipy import stats  # about a second to import, only for unequal samples this large

        res = stats.ks_2samp(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
        return float(res.statistic), float(res.pvalue)
    d = ks_statistic(a, b)
    return d, ks_p(n1, n2, d)


def ks_p(n1: int, n2: int, d: float) -> float:
    """The p-value `ks_2samp` gives distance d between samples of n1 and n2 (not unequal ones between
    `WALKED_UP_TO` and `EXACT_UP_TO`, which scipy counts)."""
    if max(n1, n2) > EXACT_UP_TO:  # scipy's 'asymp': the one-sample law at the effective size
        m, n = max(n1, n2), min(n1, n2)
        return kstwo_sf(round(float(m) * float(n) / float(m + n)), d)
    g = math.gcd(n1, n2)
    lcm = (n1 // g) * n2
    h = int(np.round(d * lcm))  # the distance on the lattice of multiples of 1/lcm
    return ks_exact_p(n1, n2, h)


def shifted_distance(n: int, k: int) -> float:
    """`ks_statistic` of 0..n-1 against k..n+k-1 (0 < k <= n) without sorting: k/n, rounded as that
    function rounds the differences of its EDFs (the same divisions and subtractions)."""
    inner = np.arange(k, n)
    middle = (inner + 1) / n - (inner - k + 1) / n
    return float(max(k / n, middle.max(initial=0.0), n / n - (n - k + 1) / n))


def ks_exact_p(n1: int, n2: int, h: int) -> float:
    """P(D >= h / lcm(n1, n2)) under the null for samples of n1 and n2 without ties."""
    if h <= 0:
        return 1.0
    if n1 == n2:
        return float(np.clip(_outside_square(n1, h), 0.0, 1.0))
    return float(np.clip(_outside_band(n1, n2, h), 0.0, 1.0))


def _outside_square(n: int, h: int) -> float:
    """Equal samples: the reflection formula 2 sum_k (-1)^(k-1) C(2n, n - kh) / C(2n, n), each ratio a
    product of h factors, summed innermost first so nothing cancels."""
    total = 0.0
    for k in range(n // h, -1, -1):
        ratio = 1.0
        for j in range(h):
            ratio = (n - k * h - j) * ratio / (n + k * h + j + 1)
        total = ratio * (1.0 - total)
    return 2 * total


def _outside_band(n1: int, n2: int, h: int) -> float:
    """Unequal samples: the probability that a uniformly random lattice path from (0, 0) to (n1, n2)
    leaves the band |i n2 - j n1| < h gcd, walked one anti-diagonal at a time. The path steps right
    from (i, j) with probability (n1 - i) / (n1 + n2 - i - j), so every mass stays in [0, 1]; what
    steps onto a point outside the band is added to the answer and removed."""
    g = math.gcd(n1, n2)
    reach = h * g
    total = n1 + n2
    mass = np.array([1.0])  # on the diagonal i + j = s, indexed by i from lo
    lo, out = 0, 0.0
    for s in range(total):
        i = np.arange(lo, lo + len(mass))
        j = s - i
        right = mass * (n1 - i) / (total - s)
        up = mass * (n2 - j) / (total - s)
        nxt = np.zeros(len(mass) + 1)  # diagonal s + 1, indexed by i from lo
        nxt[1:] += right
        nxt[:-1] += up
        ni = np.arange(lo, lo + len(nxt))
        nj = s + 1 - ni
        valid = (ni <= n1) & (nj >= 0) & (nj <= n2)
        outside = valid & (np.abs(ni * n2 - nj * n1) >= reach)
        out += float(nxt[outside].sum())
        keep = valid & ~outside
        if not keep.any():
            break
        first, last = int(np.argmax(keep)), len(keep) - int(np.argmax(keep[::-1]))
        mass = np.where(keep, nxt, 0.0)[first:last]
        lo += first
    return out


def kolmogorov_sf(x: float) -> float:
    """P(K > x) for the Kolmogorov distribution (scipy's `kstwobign.sf`)."""
    if x <= 0:
        return 1.0
    if x < 1.0:  # the theta-function series of the CDF converges fast for small x
        terms = [math.exp(-((2 * k - 1) ** 2) * math.pi**2 / (8 * x * x)) for k in range(1, 30)]
        return 1.0 - math.sqrt(2 * math.pi) / x * math.fsum(terms)
    return 2 * math.fsum((-1) ** (k - 1) * math.exp(-2 * k * k * x * x) for k in range(1, 30))


def kolmogorov_isf(p: float) -> float:
    """x with P(K > x) = p, by bisection (scipy's `kstwobign.isf`)."""
    lo, hi = 0.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if kolmogorov_sf(mid) > p else (lo, mid)
    return (lo + hi) / 2


def norm_sf(x: float) -> float:
    """P(Z > x) for a standard normal Z."""
    return 0.5 * math.erfc(x / math.sqrt(2))


def norm_isf(p: float) -> float:
    """x with P(Z > x) = p for a standard normal Z."""
    return -NormalDist().inv_cdf(p)


def beta_ppf(q: float, a: int, b: int) -> float:
    """The q quantile of Beta(a, b) for whole a, b >= 1, through P(Beta(a, b) <= x) = P(Bin(a + b - 1,
    x) >= a), solved by bisection: what an exact (Clopper-Pearson) binomial interval needs."""
    n = a + b - 1
    k = np.arange(a, n + 1)
    logs = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1)))])
    log_comb = logs[n] - logs[k] - logs[n - k]

    def cdf(x: float) -> float:
        return float(np.exp(log_comb + k * math.log(x) + (n - k) * math.log1p(-x)).sum())

    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        lo, hi = (lo, mid) if cdf(mid) >= q else (mid, hi)
    return (lo + hi) / 2

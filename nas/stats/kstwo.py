"""P(D_n >= d) for the two-sided one-sample KS statistic D_n of n observations: scipy's `kstwo.sf(d, n)`,
which its `ks_2samp` reads at n = round(m k / (m + k)) for samples of m and k beyond 10,000 a side.

Each (n, d) is computed the way Simard and L'Ecuyer (2011) chose and scipy follows: Ruben and Gambino's
closed forms at both ends, twice the one-sided Smirnov tail (the Birnbaum-Tingey sum) where both tails
cannot be crossed at once or the tail is small, Durbin's matrix (as Marsaglia, Tsang and Wang compute
it) for small n d^1.5, Pomeranz's recursion for the middle of small n, and the Pelz-Good expansion of
the Li-Chien/Korolyuk series for the middle of large n.
"""

from __future__ import annotations

import math

import numpy as np

SMALL_N = 140  # up to it, Durbin and Pomeranz; beyond, Durbin or Pelz-Good
DURBIN_UP_TO = 100_000  # beyond it Pelz-Good, however small n d^1.5
SMIRNOV_EXACT_UP_TO = 1_000_000  # beyond it the one-sided tail is approximated
_SCALE = 128  # powers of two rescale products that would leave the double range


def kstwo_sf(n: int, d: float) -> float:
    """P(D_n >= d), clipped to [0, 1]."""
    if d >= 1.0:
        return 0.0
    if d <= 0.0:
        return 1.0
    t = n * d
    if t <= 1.0:  # Ruben-Gambino: P(D_n <= d) = n!/n^n (2t - 1)^n for 1/2n <= d <= 1/n
        return 1.0 if t <= 0.5 else _clip(1.0 - _lower_end_cdf(n, t))
    if t >= n - 1:  # Ruben-Gambino at the upper end
        return _clip(2 * (1.0 - d) ** n)
    if d >= 0.5:  # both one-sided tails cannot be crossed together: twice one of them
        return _clip(2 * smirnov_sf(n, d))
    nd2 = t * d
    if n <= SMALL_N:
        if nd2 <= 0.754693:
            return _clip(1.0 - _durbin_cdf(n, d))
        if nd2 <= 4.0:
            return _clip(1.0 - _pomeranz_cdf(n, d))
        return _clip(2 * smirnov_sf(n, d))
    if nd2 >= 370.0:
        return 0.0
    if nd2 >= 2.2:
        return _clip(2 * smirnov_sf(n, d))
    if n <= DURBIN_UP_TO and n * d**1.5 <= 1.4:
        return _clip(1.0 - _durbin_cdf(n, d))
    return _clip(1.0 - _pelz_good_cdf(n, d))


def _clip(p: float) -> float:
    return float(min(max(p, 0.0), 1.0))


def _lower_end_cdf(n: int, t: float) -> float:
    """n!/n^n (2t - 1)^n, as a product for small n and through logs beyond."""
    if n <= SMALL_N:
        return float(np.prod(np.arange(1, n + 1) * (1.0 / n) * (2 * t - 1)))
    return math.exp(math.lgamma(n + 1) - n * math.log(n) + n * math.log(2 * t - 1))


def smirnov_sf(n: int, d: float) -> float:
    """P(D_n^+ >= d) for 0 < d < 1 and n d > 1, the one-sided tail (scipy's `smirnov`): Birnbaum and
    Tingey's d sum_{v < n(1-d)} C(n, v) p^(v-1) (1-p)^(n-v) at p = d + v/n, every term positive, each a
    binomial probability over p computed in Loader's (2000) saddle-point form, which keeps its relative
    error near the rounding of a double at any n; past `SMIRNOV_EXACT_UP_TO` scipy's approximation
    exp(-(6nd + 1)^2 / 18n)."""
    if n > SMIRNOV_EXACT_UP_TO:
        return math.exp(-((6.0 * n * d + 1) ** 2) / 18.0 / n)
    if math.floor(n * d) >= n - 1:
        return (1.0 - d) ** n
    nd = n * d
    v = np.arange(1, math.floor(n * (1.0 - d)) + 1, dtype=float)
    v = v[n - v > nd]  # 1 - p > 0
    w = n - v
    logs = _stirling_error(np.array([float(n)]))[0] - _stirling_error(v) - _stirling_error(w)
    logs -= v * _log_excess(-nd / v) + w * _log_excess(nd / w)  # Loader's bd0 at np = nd + v
    logs += 0.5 * np.log(n / (2 * math.pi * v * w)) - np.log((nd + v) / n)
    first = math.exp(n * math.log1p(-d) - math.log(d))  # v = 0: (1 - d)^n / d
    return d * (first + float(np.sum(np.exp(logs))))


def _log_excess(r: np.ndarray) -> np.ndarray:
    """-log(1 - r) - r for r < 1, by its series r^2/2 + r^3/3 + ... where that cancels."""
    out = -np.log1p(-r) - r
    small = np.abs(r) <= 0.1
    rs = r[small]
    series, power = np.zeros(len(rs)), rs * rs
    for j in range(2, 19):
        series += power / j
        power = power * rs
    out[small] = series
    return out


def _stirling_error(k: np.ndarray) -> np.ndarray:
    """log k! - (k + 1/2) log k + k - log sqrt(2 pi) for whole k >= 1: lgamma up to 15, the series beyond."""
    out = np.empty(len(k))
    few = k <= 15
    out[few] = [
        math.lgamma(x + 1) - (x + 0.5) * math.log(x) + x - 0.5 * math.log(2 * math.pi) for x in k[few]
    ]
    x = k[~few]
    inv2 = 1 / (x * x)
    out[~few] = (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 * (1 / 1680 - inv2 / 1188)))) / x
    return out


def _durbin_cdf(n: int, d: float) -> float:
    """P(D_n < d) = n!/n^n (H^n)[k, k] for d = (k - h)/n, 0 <= h < 1, with Durbin's (2k-1)-square
    matrix H; the power by repeated squaring, its scale kept apart in powers of two."""
    nd = n * d
    if nd <= 0.5:
        return 0.0
    k = math.ceil(nd)
    h = k - nd
    m = 2 * k - 1
    inv_fact = np.ones(m + 1)  # 1/j!
    for j in range(1, m + 1):
        inv_fact[j] = inv_fact[j - 1] / j
    rows, cols = np.indices((m, m))
    below = rows - cols + 1
    hmat = np.where(below >= 0, inv_fact[np.clip(below, 0, m)], 0.0)
    j = np.arange(1, m + 1)
    edge = (1.0 - h**j) * inv_fact[1:]  # first column; reversed, the last row
    edge[-1] = (1.0 + max(2 * h - 1.0, 0.0) ** m - 2 * h**m) * inv_fact[m]
    hmat[:, 0] = edge
    hmat[-1, :] = edge[::-1]

    power, power_exp = np.eye(m), 0
    square, square_exp = hmat, 0
    left = n
    while left:
        if left & 1:
            power = power @ square
            power_exp += square_exp
        square = square @ square
        square_exp *= 2
        if abs(square[k - 1, k - 1]) > 2.0**_SCALE:
            square = square / 2.0**_SCALE
            square_exp += _SCALE
        left >>= 1
    return _times_factorial_over_power(float(power[k - 1, k - 1]), power_exp, n)


def _times_factorial_over_power(p: float, exp2: int, n: int) -> float:
    """p 2^exp2 n!/n^n: the factors i/n multiplied 32 at a time (each block above n^-32), the running
    product's exponent moved into exp2 after each block."""
    factors = np.ones(-(-n // 32) * 32)
    factors[:n] = np.arange(1, n + 1) / n
    p, e = math.frexp(p)
    exp2 += e
    for block in np.prod(factors.reshape(-1, 32), axis=1):
        p, e = math.frexp(p * float(block))
        exp2 += e
    return math.ldexp(p, exp2)


def _pomeranz_cdf(n: int, d: float) -> float:
    """P(D_n <= d) by Pomeranz's recursion (1974): 2n + 1 convolutions of a row with scaled Poisson
    weights, only the row's few non-zero entries kept, its scale kept apart in powers of two."""
    t = n * d
    whole = math.floor(t)
    frac = t - whole
    g = min(frac, 1.0 - frac)
    ceil_f = 1 if frac > 0 else 0
    round_f = 1 if frac > 0.5 else 0
    size = 2 * (whole + 1)

    def weights(rate: float) -> np.ndarray:  # rate^m / m!, m = 0 .. size - 1
        w = np.ones(size)
        for m in range(1, size):
            w[m] = w[m - 1] * rate / m
        return w

    edge_w, mid_odd, mid_even = weights(g / n), weights(2 * g / n), weights((1 - 2 * g) / n)

    def bounds(i: int) -> tuple[int, int]:
        if i == 0:
            lo, hi = -whole - ceil_f - 1, whole + ceil_f - 1
        else:
            half, odd = divmod(i + 1, 2)
            if odd == 0 and half == n + 1:
                lo, hi = n - whole - ceil_f - 1, n + whole + ceil_f - 1
            elif odd == 0:
                lo, hi = half - 2 - whole - round_f, half + whole - 2 + ceil_f
            else:
                lo, hi = half - whole - 2, half + whole + round_f - 1
        return max(lo + 2, 0), min(hi, n)

    row, row_start, exp2 = np.zeros(size), 0, 0
    row[0] = 1.0
    lo, _ = bounds(0)
    for i in range(1, 2 * n + 2):
        prev_lo, prev, prev_start = lo, row, row_start
        lo, hi = bounds(i)
        w = edge_w if i in (1, 2 * n + 1) else (mid_odd if i % 2 else mid_even)
        row = np.zeros(size)
        span = hi - prev_lo + 1
        if span > 0:
            conv = np.convolve(prev[prev_lo - prev_start : prev_lo - prev_start + span], w[:span])
            row[: hi - lo + 1] = conv[lo - prev_lo : hi - prev_lo + 1]
            if 0 < row.max() < 2.0**-_SCALE:
                row *= 2.0**_SCALE
                exp2 -= _SCALE
            row_start = prev_start + lo - prev_lo
        else:
            row_start = prev_start
    p = float(row[n - row_start])
    for i in range(1, n + 1):  # times n!
        if abs(p) > 2.0**_SCALE:
            p *= 2.0**-_SCALE
            exp2 += _SCALE
        p *= i
    return math.ldexp(p, exp2)


def _pelz_good_cdf(n: int, d: float) -> float:
    """P(D_n <= d) ~ K0(z) + K1(z)/sqrt(n) + K2(z)/n + K3(z)/n^1.5 at z = d sqrt(n) (Li-Chien,
    Korolyuk), each K_i in Pelz and Good's (1976) theta-function form that converges for small z."""
    z = math.sqrt(n) * d
    z2 = z * z
    log_q = -(math.pi**2) / 8 / z2
    if log_q < -708:
        return 0.0
    q = math.exp(log_q)
    pi2, pi4, pi6 = math.pi**2, math.pi**4, math.pi**6
    # the K_i are sums over odd m = 2k - 1 of c_i(m) q^(m^2), evaluated innermost first
    c1 = (-z2, pi2 / 4)
    c2 = (6 * z**6 + 2 * z**4, (2 * z**4 - 5 * z2) * pi2 / 4, pi4 * (1 - 2 * z2) / 16)
    c3 = (
        -30 * z**6 - 90 * z**8,
        pi2 * (135 * z**4 - 96 * z**6) / 4,
        pi4 * (-60 * z2 + 212 * z**4) / 16,
        pi6 * (5 - 30 * z2) / 64,
    )
    top = math.ceil(16 * z / math.pi)
    sums = np.zeros(4)
    for k in range(top, 0, -1):
        m2 = (2 * k - 1) ** 2
        term = np.array(
            [
                1.0,
                c1[0] + c1[1] * m2,
                c2[0] + c2[1] * m2 + c2[2] * m2 * m2,
                c3[0] + c3[1] * m2 + c3[2] * m2 * m2 + c3[3] * m2**3,
            ]
        )
        sums = sums * q ** (8 * k) + term
    sums = sums * q * math.sqrt(2 * math.pi) / np.array([z, 6 * z**4, 72 * z**7, 6480 * z**10])
    # K2 and K3 also carry sums over all k of terms in q'^(k^2), q' = exp(-pi^2 / 2z^2)
    ks = np.arange(top, 0, -1, dtype=float)
    weights = ks**2 * math.exp(-pi2 / 2 / z2) ** (ks**2)
    sums[2] += float(np.sum(weights)) * pi2 * math.sqrt(2 * math.pi) / (-36 * z**3)
    r3z = math.sqrt(3) * z
    extra = np.sum((r3z + math.pi * ks) * (r3z - math.pi * ks) * weights)
    sums[3] += float(extra) * pi2 * math.sqrt(2 * math.pi) / (216 * z**6)
    sums = sums / float(n) ** (np.arange(4) / 2.0)
    return float(sum(sums))

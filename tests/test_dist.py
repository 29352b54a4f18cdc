"""The analysis path's own distribution functions against scipy's (which the analysis no longer imports)."""

import math

import numpy as np
import pytest
from scipy import stats

from nas.stats import dist, kstwo


@pytest.mark.parametrize("seed", range(6))
def test_ks_2samp_is_scipys_on_unequal_equal_and_tied_samples(seed):
    rng = np.random.default_rng(seed)
    for n1, n2 in [(24, 24), (24, 23), (7, 31), (60, 45), (120, 120), (300, 290)]:
        a, b = rng.normal(size=n1), rng.normal(0.4, 1, n2)
        if seed % 2:
            a, b = np.round(a * 2), np.round(b * 2)  # ties
        d, p = dist.ks_2samp(a, b)
        ref = stats.ks_2samp(a, b)
        assert d == pytest.approx(ref.statistic, abs=1e-15)
        assert p == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)


def test_exact_p_values_by_hand():
    # two samples of 2: of the C(4, 2) = 6 orderings, AABB and BBAA reach D = 1
    assert dist.ks_exact_p(2, 2, 2) == pytest.approx(2 / 6)
    # 1 against 2 (lcm 2): D = 1 needs the single A first or last (2 of 3 orderings), D >= 1/2 always
    assert dist.ks_exact_p(1, 2, 2) == pytest.approx(2 / 3)
    assert dist.ks_exact_p(1, 2, 1) == pytest.approx(1.0)
    assert dist.ks_exact_p(5, 7, 0) == 1.0


def test_large_samples_go_to_scipys_asymptotic_form():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=1500), rng.normal(0.1, 1, 1400)
    assert dist.ks_2samp(a, b)[1] == pytest.approx(stats.ks_2samp(a, b).pvalue, rel=1e-12)


def test_kolmogorov_normal_and_beta_against_scipy():
    for x in [0.05, 0.4, 0.8, 0.99, 1.0, 1.36, 2.5]:
        assert dist.kolmogorov_sf(x) == pytest.approx(stats.kstwobign.sf(x), rel=1e-12, abs=1e-15)
    assert dist.kolmogorov_isf(0.05) == pytest.approx(1.3580986393225505, rel=1e-12)
    assert dist.norm_isf(0.025) == pytest.approx(1.959963984540054, rel=1e-12)
    assert dist.norm_sf(1.0) == pytest.approx(stats.norm.sf(1.0), rel=1e-12)
    for q, a, b in [(0.025, 3, 18), (0.975, 1, 5), (0.5, 10, 10), (0.025, 1, 1)]:
        assert dist.beta_ppf(q, a, b) == pytest.approx(stats.beta.ppf(q, a, b), rel=1e-10)
    assert dist.beta_ppf(0.025, 1, 1) == pytest.approx(0.025)  # Beta(1, 1) is uniform


def _kstwo_grid() -> list[tuple[int, float]]:
    """(n, d) across every method kstwo_sf picks and on both sides of each boundary between them
    (scipy takes up to a second a point at n = 100,000: a few points there)."""
    points = []
    for n in [1, 2, 5, 50, 139, 140, 141, 1000, 25_000, 100_000, 100_001]:
        ds = [(1.4 / n) ** (2 / 3)]  # n d^1.5 = 1.4: Durbin below, Pelz-Good above (n > 140)
        ds += [math.sqrt(c / n) for c in (2.2, 370.0)]  # n d^2: Smirnov's sum from 2.2, 0 from 370
        if n <= 25_000:
            ds += [math.sqrt(c / n) for c in (0.754693, 4.0)]  # n <= 140: Durbin, Pomeranz, Smirnov
            ds += [z / math.sqrt(n) for z in (0.1, 0.5, 1.0, 1.36, 2.0, 6.0)]
            ds += [t / n for t in (0.5, 0.51, 0.99, 1.0, 1.01, n - 1.01, n - 1, n - 0.99)]
            ds += [0.49, 0.5, 0.51, 0.9]
        for d in ds:
            for side in (1 - 1e-9, 1.0, 1 + 1e-9):
                if 0 < d * side < 1:
                    points.append((n, d * side))
    return points


def test_kstwo_sf_is_scipys_over_n_and_d():
    for n, d in _kstwo_grid():
        assert kstwo.kstwo_sf(n, d) == pytest.approx(stats.kstwo.sf(d, n), rel=1e-11, abs=1e-300), (n, d)


def test_kstwo_sf_by_hand():
    # one observation: D_1 = max(U, 1 - U) >= d with probability 2 (1 - d) for d >= 1/2
    assert kstwo.kstwo_sf(1, 0.75) == pytest.approx(0.5, rel=1e-15)
    # Ruben-Gambino at the lower end: P(D_n <= d) = n!/n^n (2nd - 1)^n, here 2/4 * (2 * 0.75 - 1)^2
    assert kstwo.kstwo_sf(2, 0.375) == pytest.approx(1 - 0.5 * 0.25, rel=1e-15)
    assert kstwo.kstwo_sf(10, 0.0) == 1.0 and kstwo.kstwo_sf(10, 1.0) == 0.0
    assert kstwo.kstwo_sf(100_000, 0.1) == 0.0  # n d^2 = 1000: beyond the double range


@pytest.mark.parametrize("sizes", [(12_000, 12_000), (20_000, 10_500), (10_001, 40), (30_000, 3)])
def test_ks_2samp_beyond_the_exact_limit_is_scipys_asymptotic_form(sizes):
    rng = np.random.default_rng(sum(sizes))
    for shift in (0.0, 0.02, 0.1):
        a, b = rng.normal(size=sizes[0]), rng.normal(shift, 1, sizes[1])
        d, p = dist.ks_2samp(a, b)
        ref = stats.ks_2samp(a, b)
        assert d == ref.statistic
        assert p == pytest.approx(ref.pvalue, rel=1e-11, abs=1e-300)


def test_shifted_distance_is_ks_statistic_to_the_last_bit():
    for n in [*range(1, 40), 99, 1000, 10_001, 49_031]:
        for k in sorted(k for k in {1, 2, n // 3, n // 2, n - 1, n} if 1 <= k <= n):
            a = np.arange(n, dtype=float)
            assert dist.shifted_distance(n, k) == dist.ks_statistic(a, a + k), (n, k)

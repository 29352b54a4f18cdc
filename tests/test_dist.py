"""The analysis path's own distribution functions against scipy's (which the analysis no longer imports)."""

import numpy as np
import pytest
from scipy import stats

from nas.stats import dist


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

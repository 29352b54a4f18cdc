"""EDF, normalised EDF and KS values on hand-computed inputs, KS against scipy, weighted KS."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from nas.stats.edf import (
    complexity_bins,
    edf,
    effective_size,
    ks_distance,
    ks_test,
    stratum_weights,
    summary,
    weighted_ks_distance,
    weighted_ks_test,
)


def test_edf_hand_computed():
    errors = np.array([10.0, 20.0, 20.0, 40.0])
    at = np.array([5.0, 10.0, 10.5, 20.0, 25.0, 40.0, 41.0])
    # F(e) = fraction with error strictly below e
    assert edf(errors, at).tolist() == [0.0, 0.0, 0.25, 0.25, 0.75, 0.75, 1.0]


def test_weighted_edf_hand_computed():
    errors = np.array([1.0, 2.0, 3.0])
    w = np.array([1.0, 2.0, 1.0])
    assert edf(errors, np.array([1.5, 2.5, 3.5]), w).tolist() == [0.25, 0.75, 1.0]


def test_ks_hand_computed():
    assert ks_distance([1, 2, 3, 4], [3, 4, 5, 6]) == pytest.approx(0.5)
    assert ks_distance([1, 2], [1, 2]) == 0.0
    assert ks_distance([1], [2]) == 1.0


# scipy's exact p-value gives up on some tied samples and says so; only the statistic is compared
@pytest.mark.filterwarnings("ignore:ks_2samp. Exact calculation unsuccessful:RuntimeWarning")
@settings(max_examples=50, deadline=None)
@given(
    a=st.lists(st.integers(0, 30), min_size=1, max_size=30),
    b=st.lists(st.integers(0, 30), min_size=1, max_size=30),
)
def test_ks_equals_scipy(a, b):
    assert ks_distance(a, b) == pytest.approx(stats.ks_2samp(a, b).statistic)


def test_summary():
    s = summary(np.array([4.0, 1.0, 3.0]))
    assert s == {"count": 3, "min": 1.0, "median": 3.0, "mean": pytest.approx(8 / 3)}


def test_ks_test_matches_scipy_pvalue():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=40), rng.normal(0.5, 1, size=55)
    res = stats.ks_2samp(a, b)
    assert ks_test(a, b) == {"ks": pytest.approx(res.statistic), "p": pytest.approx(res.pvalue)}


def test_complexity_bins_and_normalised_edf_hand_computed():
    # shared flops range [1, 100], two log bins [1, 10) and [10, 100]
    a_cx, a_err = np.array([1.0, 2.0, 5.0, 100.0]), np.array([1.0, 2.0, 3.0, 4.0])
    b_cx, b_err = np.array([1.0, 20.0, 30.0, 100.0, 500.0]), np.array([5.0, 1.5, 2.5, 3.5, 0.5])
    edges, (la, lb) = complexity_bins([a_cx, b_cx], 2)
    assert edges == pytest.approx([1.0, 10.0, 100.0])
    assert la.tolist() == [0, 0, 0, 1] and lb.tolist() == [0, 1, 1, 1, -1]  # 500 is outside
    wa, wb = stratum_weights(la), stratum_weights(lb)
    assert wa == pytest.approx([1 / 6, 1 / 6, 1 / 6, 1 / 2])
    assert wb == pytest.approx([1 / 2, 1 / 6, 1 / 6, 1 / 6, 0.0])
    at = np.array([1.2, 2.2, 3.2, 4.2, 6.0])
    assert edf(a_err, at, wa) == pytest.approx([1 / 6, 2 / 6, 3 / 6, 1.0, 1.0])
    assert edf(b_err, at, wb) == pytest.approx([0.0, 1 / 6, 2 / 6, 1 / 2, 1.0])


def test_bins_empty_in_one_run_are_dropped():
    a, b = np.array([1.0, 1.5, 90.0]), np.array([1.2, 1.3, 95.0, 2.0])
    edges, (la, lb) = complexity_bins([a, b], 4)  # bins over [1.2, 90]; b has none above 2.0
    assert len(edges) == 5
    assert la.tolist() == [-1, 0, -1] and lb.tolist() == [0, 0, -1, 0]
    assert stratum_weights(la).sum() == pytest.approx(1.0) and stratum_weights(lb).sum() == pytest.approx(1.0)


def test_disjoint_complexity_ranges_give_no_bins():
    edges, labels = complexity_bins([np.array([1.0, 2.0]), np.array([5.0, 9.0])], 3)
    assert not len(edges) and all((lab == -1).all() for lab in labels)


def test_weighted_ks_with_equal_weights_is_the_plain_test():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=3000), rng.normal(0.05, 1, size=2000)
    w = weighted_ks_test(a, np.full(3000, 2.0), b, np.full(2000, 0.1))  # only relative weights matter
    ref = stats.ks_2samp(a, b, method="asymp")
    assert w["ks"] == pytest.approx(ref.statistic)
    assert w["n_eff_a"] == pytest.approx(3000) and w["n_eff_b"] == pytest.approx(2000)
    assert w["p"] == pytest.approx(ref.pvalue, rel=0.05)


def test_weighted_ks_integer_weights_equal_duplicated_samples():
    a, wa = np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0, 2.0])
    b, wb = np.array([1.5, 2.5]), np.array([2.0, 1.0])
    dup_a, dup_b = np.repeat(a, wa.astype(int)), np.repeat(b, wb.astype(int))
    assert weighted_ks_distance(a, wa, b, wb) == pytest.approx(ks_distance(dup_a, dup_b))


def test_weighted_ks_sanity():
    rng = np.random.default_rng(2)
    a = rng.normal(size=500)
    w = rng.uniform(0.2, 1.0, 500)
    same = weighted_ks_test(a, w, a, w)
    assert same["ks"] == 0.0 and same["p"] == 1.0
    shifted = weighted_ks_test(a, w, a + 1.0, w)
    assert shifted["ks"] > 0.3 and shifted["p"] < 1e-6
    assert 0 < shifted["n_eff_a"] < 500  # unequal weights carry less information than 500 models
    zero = weighted_ks_test(a, np.zeros(500), a, w)
    assert np.isnan(zero["p"])


def test_effective_size_and_weighted_summary():
    assert effective_size(np.ones(7)) == pytest.approx(7)
    assert effective_size(np.array([1.0, 1.0, 0.0, 0.0])) == pytest.approx(2)
    s = summary(np.array([1.0, 2.0, 3.0, 9.0]), np.array([0.5, 0.25, 0.25, 0.0]))
    assert s == {"count": 3, "min": 1.0, "median": 1.0, "mean": pytest.approx(1.75)}

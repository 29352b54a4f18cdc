"""EDF and KS values on hand-computed inputs, KS against scipy, analysis of stored rows."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from nas.edf import edf, ks_distance, summary


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

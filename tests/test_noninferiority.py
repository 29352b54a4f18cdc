"""The non-inferiority test: hand-computed values, scipy's Mann-Whitney U, its level on known
populations at the margin (seeded Monte Carlo), complexity normalisation, Holm and step levels."""

import numpy as np
import pytest
from scipy import stats

from blocks.errors import ParamError
from nas.stats import noninferiority as ni


def test_hand_computed():
    # pairs (x, y): 1<2, 1<3, 2=2 (half), 2<3 -> pi = 3.5 / 4
    got = ni.mann_whitney([1.0, 2.0], [2.0, 3.0], 0.1)
    assert got.pi == pytest.approx(0.875)
    # projections H1 = (1, .75), H2 = (.75, 1): each side .25 * 2 * .125^2 * 2/(2-1) = 1/64
    assert got.se == pytest.approx(np.sqrt(2 / 64))
    assert got.p == pytest.approx(stats.norm.sf((0.875 - 0.4) / np.sqrt(2 / 64)))
    assert (got.n_candidate, got.n_parent) == (2.0, 2.0)


def test_pi_is_scipys_u_over_mn():
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 20, 40).astype(float), rng.integers(0, 20, 31).astype(float)
    u = stats.mannwhitneyu(y, x).statistic  # counts y > x, ties half
    assert ni.mann_whitney(x, y, 0.1).pi == pytest.approx(u / (40 * 31))


def test_integer_weights_equal_repeating_models():
    x, y = np.array([1.0, 4.0, 2.5]), np.array([2.0, 3.0, 0.5, 5.0])
    weighted = ni.mann_whitney(x, y, 0.1, np.array([2.0, 1.0, 3.0]), np.ones(4))
    repeated = ni.mann_whitney(np.repeat(x, [2, 1, 3]), y, 0.1)
    assert weighted.pi == pytest.approx(repeated.pi)


def _boundary_shift(margin: float) -> float:
    """Shift d of N(d, 1) against N(0, 1) with P(X < Y) = 1/2 - margin exactly."""
    return float(np.sqrt(2) * stats.norm.isf(0.5 - margin))


@pytest.mark.parametrize("n", [15, 60])
def test_level_holds_at_the_margin(n):
    # candidate worse by exactly the margin: H0 true at its boundary, the hardest case
    rng, margin, reps = np.random.default_rng(n), 0.1, 1500
    d = _boundary_shift(margin)
    hits = sum(
        ni.mann_whitney(rng.normal(d, 1, n), rng.normal(0, 1, n), margin).p < 0.05 for _ in range(reps)
    )
    assert hits / reps <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / reps)  # within two Monte Carlo sds of the level


def test_power_when_equal():
    # same population: pi = 1/2, non-inferior; 100 a side, se = sqrt(2 / (12 * 100)) = 0.0408
    rng, reps = np.random.default_rng(7), 400
    hits = sum(
        ni.mann_whitney(rng.normal(0, 1, 100), rng.normal(0, 1, 100), 0.1).p < 0.05 for _ in range(reps)
    )
    assert 0.72 < hits / reps < 0.86  # normal approximation: power = Phi(0.1 / 0.0408 - 1.645) = 0.79


def test_normalisation_removes_a_complexity_shift():
    # error falls with log complexity; the candidate draws only small models, same law given complexity
    rng = np.random.default_rng(11)
    cx_p, cx_c = 10 ** rng.uniform(0, 2, 400), 10 ** rng.uniform(0, 1, 400)
    err_p = -np.log10(cx_p) + rng.normal(0, 0.2, 400)
    err_c = -np.log10(cx_c) + rng.normal(0, 0.2, 400)
    plain = ni.mann_whitney(err_c, err_p, 0.1)
    fair = ni.normalised_test(err_c, cx_c, err_p, cx_p, 0.1)
    assert plain.pi < 0.3  # the plain EDFs blame the space for its smaller models
    assert fair.pi == pytest.approx(0.5, abs=0.05)
    assert fair.p < 0.05 and fair.n_parent < 400  # only the parent's models in the shared range count


def test_normalised_level_at_the_margin():
    rng, margin, reps, n = np.random.default_rng(5), 0.1, 800, 60
    d = _boundary_shift(margin)
    hits = 0
    for _ in range(reps):
        cx_p, cx_c = 10 ** rng.uniform(0, 2, n), 10 ** rng.uniform(0, 1.5, n)
        hits += ni.normalised_test(rng.normal(d, 1, n), cx_c, rng.normal(0, 1, n), cx_p, margin).p < 0.05
    assert hits / reps <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / reps)


def test_separate_samples():
    assert ni.mann_whitney([1.0, 2.0], [5.0, 6.0], 0.1).p == 0.0
    assert ni.mann_whitney([5.0, 6.0], [1.0, 2.0], 0.1).p == 1.0
    assert ni.mann_whitney([1.0], [5.0, 6.0], 0.1).p == 1.0  # one model tells nothing


def test_holm_hand_computed():
    # sorted .01 <= .05/3, .02 <= .05/2, .04 <= .05/1: all; with .03 at rank 2 (> .025) it stops
    assert ni.holm([0.04, 0.01, 0.02], 0.05) == [True, True, True]
    assert ni.holm([0.04, 0.01, 0.03], 0.05) == [False, True, False]
    assert ni.holm([], 0.05) == []


def test_step_level_and_refusals():
    assert ni.step_level(0.05, 4) == pytest.approx(0.0125)
    with pytest.raises(ParamError, match="steps: 0 is illegal"):
        ni.step_level(0.05, 0)
    with pytest.raises(
        ParamError, match="margin: 0.6 is illegal; legal: a number strictly between 0 and 0.5"
    ):
        ni.mann_whitney([1.0, 2.0], [1.0, 2.0], 0.6)

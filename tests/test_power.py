"""The models-needed estimate: its KS decision against scipy's, its resampled distances against
scipy's statistic, and its n against an independent Monte Carlo of the KS test on fresh samples
from the true distributions."""

import math

import numpy as np
import pytest
from scipy import stats

from nas.analysis.analyze import needed
from nas.analysis.result import Settings
from nas.stats import power

ALPHA, TARGET = 0.05, 0.8


@pytest.mark.parametrize("n", [3, 4, 7, 25, 120])
# scipy's exact p-value gives up on a few tied samples and says so; its fallback's decision must match too
@pytest.mark.filterwarnings("ignore:ks_2samp. Exact calculation unsuccessful:RuntimeWarning")
def test_critical_distance_is_scipys_decision_on_samples_with_ties(n):
    rng = np.random.default_rng(n)
    k = power.critical(n, ALPHA)
    for _ in range(200):
        x, y = rng.integers(0, 12, n), rng.integers(0, 12, n) + rng.integers(0, 3)  # ties, shifts
        res = stats.ks_2samp(x, y)
        assert (res.pvalue < ALPHA) == (round(res.statistic * n) >= k)


@pytest.mark.parametrize("n", [9, 400])  # index draws, then multinomial counts (n > 10 cells)
def test_resampled_distances_are_scipys_statistic(n):
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 30, 50).astype(float), rng.integers(5, 40, 70).astype(float)
    cell_a, cell_b, size = power.cells(a, b)
    levels = np.unique(np.concatenate([a, b]))
    assert size == len(levels) and np.array_equal(levels[cell_a], a)
    ca = power.resample_counts(cell_a, size, n, 30, rng)
    cb = power.resample_counts(cell_b, size, n, 30, rng)
    assert (ca.sum(axis=1) == n).all() and not ca[:, levels > 29].any()  # drawn from a's errors only
    for d, x, y in zip(power.distances(ca, cb), ca, cb):
        assert d == round(n * stats.ks_2samp(np.repeat(levels, x), np.repeat(levels, y)).statistic)


def test_many_distinct_errors_are_merged_into_quantile_cells():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=3000), rng.normal(0.2, 1, 2000)
    cell_a, cell_b, size = power.cells(a, b)
    assert size == power.MAX_CELLS
    assert np.all(np.diff(cell_a[np.argsort(a)]) >= 0)  # cells keep the order of the errors
    share = np.bincount(np.concatenate([cell_a, cell_b]), minlength=size) / 5000
    assert share.max() <= 2 / power.MAX_CELLS


def true_power(n: int, shift: float, reps: int, rng: np.random.Generator) -> float:
    """P(ks_2samp rejects at ALPHA) for n fresh draws from N(0, 1) and from N(shift, 1)."""
    hits = sum(
        stats.ks_2samp(rng.normal(size=n), rng.normal(shift, 1, n)).pvalue < ALPHA for _ in range(reps)
    )
    return hits / reps


def test_models_needed_agrees_with_a_monte_carlo_of_the_true_test():
    """Errors at 500 quantiles of N(0, 1) and of N(0.5, 1) stand for the two spaces. The n the
    estimate reports must have true power (Monte Carlo of ks_2samp on fresh normal samples) equal
    to the estimated power within three standard errors of the two Monte Carlo estimates
    combined, and 80% of n must fall short of the target by more than three of its own."""
    shift, resamples, reps = 0.5, 4000, 2000
    q = stats.norm.ppf((np.arange(500) + 0.5) / 500)
    n, est = power.models_needed(q, q + shift, ALPHA, TARGET, 1000, resamples, np.random.default_rng(0))
    assert n is not None and est >= TARGET and 40 < n < 150
    rng = np.random.default_rng(1)
    got = true_power(n, shift, reps, rng)
    se = math.sqrt(est * (1 - est) / resamples + got * (1 - got) / reps)
    assert abs(got - est) <= 3 * se, (n, est, got)
    smaller = true_power(int(0.8 * n), shift, reps, rng)
    assert smaller < TARGET - 3 * math.sqrt(TARGET * (1 - TARGET) / reps), (n, smaller)


def test_identical_edfs_cannot_be_separated():
    a = np.random.default_rng(2).normal(10, 2, 200)
    assert power.models_needed(a, a[::-1].copy(), ALPHA, TARGET, 1000, 200, np.random.default_rng(0)) == (
        None,
        0.0,
    )
    assert (
        power.models_needed(a, np.tile(a, 2), ALPHA, TARGET, 1000, 200, np.random.default_rng(0))[0] is None
    )
    need = needed(a, a.copy(), Settings(bootstrap=200))
    assert need.n is None and need.why == "identical EDFs" and need.largest == 2000
    assert need.alpha == pytest.approx(0.05) and need.target == 0.8


def test_a_difference_too_small_for_the_largest_n_cannot_be_separated():
    q = stats.norm.ppf((np.arange(500) + 0.5) / 500)
    n, p = power.models_needed(q, q + 0.02, ALPHA, TARGET, 1000, 400, np.random.default_rng(0))
    assert n is None and p < TARGET
    need = needed(q, q + 0.02, Settings(bootstrap=400))
    assert need.n is None and need.why == "their difference is not significant: p 1 >= 0.05"
    n, got, effect, why = power.planned(q, q + 0.3, ALPHA, TARGET, 50, 400, np.random.default_rng(0))
    assert (
        n is None
        and 0 < effect < 0.3 * stats.norm.pdf(0)
        and why == f"power {got:.2f} < 0.8 even at 50 models per space"
    )


def test_planned_n_is_not_optimistic_against_a_monte_carlo_of_known_populations():
    """Pilots of 100 models from N(0, 1) and N(0.4, 1): at the n that the plug-in estimate reports
    (each pilot's EDF taken as its space's), the true test's power (ks_2samp on fresh normal samples)
    averages well below the target; at the planned n it reaches it. Pilots from one population are
    'cannot tell', not a number."""
    rng = np.random.default_rng(7)
    plug, plan = [], []
    for _ in range(16):
        a, b = rng.normal(size=100), rng.normal(0.4, 1, 100)
        plug.append(power.models_needed(a, b, ALPHA, TARGET, 1000, 300, rng)[0])
        plan.append(power.planned(a, b, ALPHA, TARGET, 1000, 300, rng)[0])
    reps = 150
    truth = np.random.default_rng(8)
    plugged = np.mean([true_power(n, 0.4, reps, truth) for n in plug])
    finite = [n for n in plan if n is not None]
    assert len(finite) >= 12, plan
    got = np.mean([true_power(n, 0.4, reps, truth) for n in finite])
    se = math.sqrt(TARGET * (1 - TARGET) / (reps * len(finite)))
    assert plugged < TARGET - 3 * se and got >= TARGET - se, (plugged, got, plug, plan)
    same = [
        power.planned(rng.normal(size=100), rng.normal(size=100), ALPHA, TARGET, 1000, 300, rng)
        for _ in range(20)
    ]
    assert sum(n is None for n, *_ in same) >= 18, same

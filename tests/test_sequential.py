"""The sequential comparison: the spending function by hand, the boundaries' shape and lattice,
its statistic against scipy's KS statistic, decisions on hand-built errors, JSON round trips,
the null error rate by simulation (with the naive repeated test failing it), and ties."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from blocks.errors import ParamError
from nas.stats import power
from nas.stats import sequential as sq
from nas.stats.edf import ks_distance

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small() -> sq.Design:
    """Six looks of 10 up to 60 models per space, against a KS difference of 0.3."""
    return sq.design(0.05, 0.8, 0.3, 10, 60, paths=4000)


def test_spending_function_values_by_hand():
    # 2 (1 - Phi(1.959964 / sqrt(t))): t = 1/4 -> 2 (1 - Phi(3.919928)), t = 1/2 -> 2 (1 - Phi(2.771808))
    assert sq.spend(0.25, 0.05) == pytest.approx(2 * 4.4286e-5, rel=1e-3)
    assert sq.spend(0.5, 0.05) == pytest.approx(2 * 0.0027873, rel=1e-3)
    assert sq.spend(1.0, 0.05) == pytest.approx(0.05)
    assert sq.spend(0.0, 0.05) == 0.0
    assert sq.spend(1.0, 0.2) == pytest.approx(0.2)


def test_boundaries_are_on_the_lattice_shrink_and_meet_at_the_end(small):
    assert small.sizes == (10, 20, 30, 40, 50, 60) and small.rounds == 6
    for n, e, f in zip(small.sizes, small.efficacy, small.futility):
        assert math.isclose(e * n, round(e * n)) and math.isclose(f * n, round(f * n))
        assert f <= e
    assert all(later <= earlier for earlier, later in zip(small.efficacy, small.efficacy[1:]))
    assert small.futility[-1] == small.efficacy[-1]
    assert small.efficacy[0] > 2 * small.efficacy[-1]  # O'Brien-Fleming: hard to stop early


def test_one_look_is_the_exact_ks_test():
    one = sq.design(0.05, 0.8, 0.3, 40, 40, paths=20_000)
    assert abs(round(one.efficacy[0] * 40) - power.critical(40, 0.05)) <= 1  # Monte Carlo vs exact


def test_counts_are_scipys_ks_statistic_at_every_look_with_ties():
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 15, (20, 30)).astype(float), rng.integers(2, 17, (20, 30)).astype(float)
    got = sq.counts(a, b, [10, 20, 30])
    for row, x, y in zip(got, a, b):
        want = [round(n * stats.ks_2samp(x[:n], y[:n]).statistic) for n in (10, 20, 30)]
        assert list(row) == want


def test_look_decides_on_hand_built_errors(small):
    a = np.arange(10.0)
    far, near = sq.look(small, 0, a, a + 10), sq.look(small, 0, a, a + 1)
    # exactly P(D_10 = 1) = 2 / C(20, 10) = 1.1e-5 under H0, above the 1.6e-6 spent by t = 1/6:
    # the first look cannot separate, however far apart
    assert small.efficacy[0] > 1 and 2 / math.comb(20, 10) > sq.spend(1 / 6, 0.05)
    assert (far.statistic, far.decision, far.better) == (1.0, None, "a")  # a's errors lower
    b = np.arange(20.0)
    assert sq.look(small, 1, b, b + 20).decision == sq.SEPARATED
    assert near.statistic == pytest.approx(0.1) and near.better == "a"
    assert near.decision == (sq.NOT_SEPARATED if round(small.futility[0] * 10) > 1 else None)
    same = sq.look(small, 0, a, a)
    assert (same.statistic, same.better, same.decision) == (0.0, None, sq.NOT_SEPARATED)
    assert sq.look(small, 0, a + 10, a).better == "b"
    with pytest.raises(ValueError, match="needs 10"):
        sq.look(small, 0, a, a[:9])


def test_path_stops_at_the_first_decision(small):
    rng = np.random.default_rng(0)
    a = rng.random(60)
    far = sq.path(small, a, a + 2)
    assert [x.round for x in far] == [1, 2] and far[1].decision == sq.SEPARATED
    middle = sq.reference(rng.random(60), 0.3)  # in between the boundaries for a while at least
    looks = sq.path(small, a, middle)
    assert all(x.decision is None for x in looks[:-1]) and looks[-1].decision in (
        sq.SEPARATED,
        sq.NOT_SEPARATED,
    )
    assert [x.n for x in looks] == list(small.sizes[: len(looks)])
    assert len(sq.path(small, a[:25], a[:25] + 0.01)) <= 2  # stops where the errors run out


def test_no_efficacy_boundary_spends_more_than_its_exact_single_look_tail(small):
    """A look's crossing probability is at least its marginal tail P(D_k >= c), computed exactly
    (scipy's two-sample KS): it may not exceed the alpha spent by then."""
    from scipy import stats

    for n, c in zip(small.sizes, small.efficacy):
        k = round(c * n)
        if k <= n:
            x = np.arange(n, dtype=float)
            assert stats.ks_2samp(x, x + k, method="exact").pvalue <= sq.spend(n / small.sizes[-1], 0.05)


def test_design_and_look_round_trip_through_json(small):
    assert sq.Design.from_dict(json.loads(json.dumps(small.to_dict()))) == small
    one = sq.look(small, 1, np.arange(20.0), np.arange(20.0) + 3)
    assert sq.Look.from_dict(json.loads(json.dumps(one.to_dict()))) == one


def test_null_rate_holds_the_level_and_the_naive_repeated_test_does_not(small):
    sim = sq.simulate(small, lambda r, n: r.random(n), lambda r, n: r.random(n), 600, seed=7)
    assert sim.interval[0] <= small.level  # not above the level beyond its Monte Carlo interval
    assert sq.clopper_pearson(round(sim.naive * 600), 600)[0] > small.level
    assert 10 <= sim.mean_used < 60 and sim.futility > 0.5


def test_power_against_the_reference_matches_the_design(small):
    sim = sq.simulate(small, lambda r, n: r.random(n), lambda r, n: sq.reference(r.random(n), 0.3), 600, 8)
    lo, hi = sim.interval
    assert lo - 0.03 <= small.attained <= hi + 0.03  # the design's own paths against fresh draws
    assert sim.fixed_n == small.fixed_n and sim.fixed_power == pytest.approx(0.8, abs=0.06)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0, 100), min_size=1, max_size=40),
    st.lists(st.floats(0, 100), min_size=1, max_size=40),
    st.sampled_from([100 / 360, 100 / 1000, 1.0, 5.0]),
)
def test_ties_from_a_small_validation_set_never_raise_the_distance(a, b, step):
    a, b = np.array(a), np.array(b)
    assert ks_distance(np.round(a / step) * step, np.round(b / step) * step) <= ks_distance(a, b) + 1e-12


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 12).flatmap(
        lambda n: st.tuples(*[st.lists(st.integers(0, 8), min_size=n, max_size=n)] * 2)
    )
)
def test_look_statistic_is_the_ks_distance(pair):
    a, b = (np.array(x, dtype=float) for x in pair)
    design = sq.Design.from_dict(
        {**sq.design(0.05, 0.8, 0.3, 10, 60, paths=4000).to_dict(), "sizes": [len(a)]}
    )
    assert sq.look(design, 0, a, b).statistic == pytest.approx(ks_distance(a, b))


def test_bad_parameters_name_the_field():
    with pytest.raises(ParamError, match="level"):
        sq.design(1.5, 0.8, 0.1, 10, 50)
    with pytest.raises(ParamError, match="round_size"):
        sq.design(0.05, 0.8, 0.1, 0, 50)


def test_benchmark_quick_runs():
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "sequential_compare.py"), "--quick"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout
    assert "null: lognormal" in out and "reference alternative" in out

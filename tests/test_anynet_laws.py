"""AnyNet sampling laws against independent samplers written here (RegNet paper, section 3.1).

Every statistical test runs at a fixed seed: a chi-square test of homogeneity (two samples)
or of goodness of fit (a sample against an exact law), over bins merged until each holds at
least MIN_BIN draws. A test function rejects at ALPHA = 0.01 in all, split evenly among its
comparisons (Bonferroni).
"""

import json
import math

import numpy as np
import optuna
import pytest
from scipy import stats

import spaces
from nas.cli import main
from spaces.base import Context
from spaces.draw import Reject, ReplayDraw, RngDraw

ALPHA = 0.01
MIN_BIN = 20
CTX = Context()
DEPTHS = (1, 16, 1)  # low, high, step: the paper's d_i <= 16
WIDTHS = (8, 1024, 8)  # the paper's w_i <= 1024, divisible by 8


def log_uniform_pmf(low: int, high: int, q: int) -> tuple[np.ndarray, np.ndarray]:
    """The grid low..high (step q) and each point's probability under a log-uniform density on
    (low - q*, high], q* = min(q, low / 2), whose value is rounded up to the grid: point v takes
    the mass of the cell (v - q, v], the first cell starting at low - q* (pycls's convention)."""
    grid = np.arange(low, high + 1, q)
    bottom = math.log(low - min(q, low / 2))
    lower = np.maximum(np.log(np.maximum(grid - q, 1e-300)), bottom)
    return grid, (np.log(grid) - lower) / (math.log(high) - bottom)


def independent(rng: np.random.Generator, law: tuple[int, int, int], size: tuple[int, ...]) -> np.ndarray:
    """Draws of the quantised log-uniform law by inverse CDF over its grid (not pycls's
    exp-then-round construction the space uses)."""
    grid, pmf = log_uniform_pmf(*law)
    return rng.choice(grid, p=pmf, size=size)


def rejected(rng: np.random.Generator, law: tuple[int, int, int], n: int, count: int) -> np.ndarray:
    """`count` vectors of n independent draws conditioned on v_1 <= ... <= v_n, by rejection."""
    out = np.empty((0, n), dtype=int)
    while len(out) < count:
        v = independent(rng, law, (20 * count, n))
        out = np.concatenate([out, v[np.all(np.diff(v, axis=1) >= 0, axis=1)]])
    return out[:count]


def _merged(counts: np.ndarray) -> np.ndarray:
    """Columns of a (rows x bins) count table merged left to right until each holds MIN_BIN."""
    cols, acc = [], np.zeros(counts.shape[0])
    for col in counts.T:
        acc = acc + col
        if acc.sum() >= MIN_BIN:
            cols.append(acc)
            acc = np.zeros(counts.shape[0])
    if acc.sum() and cols:
        cols[-1] = cols[-1] + acc
    return np.array(cols).T


def same_law(a, b) -> float:
    """p-value of the chi-square test that samples a and b of a discrete quantity share one law."""
    support = np.union1d(a, b)
    table = np.array([[np.sum(np.asarray(x) == v) for v in support] for x in (a, b)])
    return stats.chi2_contingency(_merged(table)).pvalue


def fits(sample, support, pmf) -> float:
    """p-value of the chi-square goodness-of-fit test of `sample` against the law `pmf` on `support`."""
    counts = np.array([np.sum(np.asarray(sample) == v) for v in support])
    table = _merged(np.vstack([counts, np.asarray(pmf) * len(sample)]))
    return stats.chisquare(table[0], table[1] * table[0].sum() / table[1].sum()).pvalue


def drawn(space: str, count: int, seed: int, options: dict | None = None) -> list[dict]:
    """The values of `count` unconstrained draws of a space (define only, no complexity)."""
    sp, rng = spaces.get(space), np.random.default_rng(seed)
    opt = sp.resolve(options)
    out = []
    for _ in range(count):
        draw = RngDraw(rng)
        try:
            sp.define(draw, opt, CTX)
        except Reject:
            continue
        out.append(draw.values)
    return out


def column(values: list[dict], name: str) -> np.ndarray:
    return np.array([v[name] for v in values])


@pytest.fixture(scope="module")
def space_a() -> list[dict]:
    return drawn("anynet_x_a", 2000, 1)


@pytest.mark.parametrize("name, law", [("d", DEPTHS), ("w", WIDTHS)])
def test_a_draws_d_and_w_log_uniformly(space_a, name, law):
    # AnyNetX_A's stages are independent and identically drawn: pool them
    ours = np.concatenate([column(space_a, f"{name}{i}") for i in range(1, 5)])
    ref = independent(np.random.default_rng(1), law, (len(ours),))
    assert same_law(ours, ref) > ALPHA / 2
    assert fits(ours, *log_uniform_pmf(*law)) > ALPHA / 2


def test_medians_are_the_log_uniform_ones(space_a):
    # the figures: uniform draws put the medians near 512 and 8, log-uniform near 64-90 and 3-4
    assert 64 <= np.median(column(space_a, "w1")) <= 90
    assert 3 <= np.median(column(space_a, "d1")) <= 4


def test_b_and_g_are_the_papers_sets_uniformly(space_a):
    b = np.concatenate([column(space_a, f"b{i}") for i in range(1, 5)])
    g = np.concatenate([column(space_a, f"g{i}") for i in range(1, 5)])
    assert set(b) == {1.0, 2.0, 4.0} and set(g) == {1, 2, 4, 8, 16, 32}
    assert fits(b, [1.0, 2.0, 4.0], [1 / 3] * 3) > ALPHA / 2
    assert fits(g, [1, 2, 4, 8, 16, 32], [1 / 6] * 6) > ALPHA / 2


def test_the_uniform_option_draws_the_grid_uniformly():
    values = drawn("anynet_x_a", 600, 2, {"law": "uniform"})
    d = np.concatenate([column(values, f"d{i}") for i in range(1, 5)])
    w = np.concatenate([column(values, f"w{i}") for i in range(1, 5)])
    assert fits(d, np.arange(1, 17), np.full(16, 1 / 16)) > ALPHA / 2
    assert fits(w, np.arange(8, 1025, 8), np.full(128, 1 / 128)) > ALPHA / 2


@pytest.mark.parametrize("variant, ordered", [("d", ("w",)), ("e", ("d", "w"))])
def test_d_and_e_are_the_log_uniform_law_conditioned_on_order(variant, ordered):
    values = drawn(f"anynet_x_{variant}", 1500, 3)
    assert len(values) == 1500  # a random draw redraws the vector, never rejects the whole draw
    rng, tests = np.random.default_rng(4), 2 * 4 + len(ordered)
    for name, law in (("d", DEPTHS), ("w", WIDTHS)):
        ours = np.array([[v[f"{name}{i}"] for i in range(1, 5)] for v in values])
        if name not in ordered:  # unconstrained: independent draws
            ref = independent(rng, law, ours.shape)
        else:
            assert np.all(np.diff(ours, axis=1) >= 0)
            ref = rejected(rng, law, 4, len(ours))
        for i in range(4):
            assert same_law(ours[:, i], ref[:, i]) > ALPHA / tests, f"{name}{i + 1}"
        if name in ordered:  # ties tell conditioning from sorting, which makes them rarer
            distinct = [len(set(row)) for row in ours]
            assert same_law(distinct, [len(set(row)) for row in ref]) > ALPHA / tests


def test_the_tie_test_would_catch_sorted_draws():
    """The tie statistic above has power: sorted independent depths are not the conditioned law."""
    rng = np.random.default_rng(5)
    conditioned = rejected(rng, DEPTHS, 4, 2500)
    sorted_draws = np.sort(independent(rng, DEPTHS, (2500, 4)), axis=1)
    ties = [[len(set(row)) for row in x] for x in (conditioned, sorted_draws)]
    assert same_law(*ties) < ALPHA


@pytest.mark.parametrize("name", [f"anynet_{k}_{v}" for k in "xy" for v in "abcde"])
def test_replaying_the_drawn_values_rebuilds_the_spec(name):
    sp = spaces.get(name)
    for s in spaces.sample(sp, 3, 6, ctx=CTX):
        assert sp.define(ReplayDraw(s.values), sp.resolve({}), CTX).model_id == s.spec.model_id


def test_sample_json_lines_carry_the_values_that_rebuild_the_spec(capsys):
    args = ["sample", "anynet_x_e", "-n", "3", "--input", "3,32,32", "--classes", "10", "--json"]
    assert main(args) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    sp, ctx = spaces.get("anynet_x_e"), Context((3, 32, 32), 10)
    assert len(lines) == 3
    for line in lines:
        assert set(line) == {"model_id", "values", "complexity", "spec"}
        spec = sp.define(ReplayDraw(line["values"]), sp.resolve({}), ctx)
        assert spec.model_id == line["model_id"] and spec.to_dict() == line["spec"]


def test_out_of_order_values_are_rejected_not_redrawn_forever():
    values = drawn("anynet_x_d", 1, 7)[0] | {"w1": 512, "w2": 64}
    with pytest.raises(Reject, match=r"w1..w4 out of order"):
        spaces.get("anynet_x_d").define(ReplayDraw(values), spaces.get("anynet_x_d").resolve({}), CTX)


def test_an_optuna_trial_gets_an_ordered_spec_or_a_rejection():
    from spaces.draw import OptunaDraw

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    sp, kinds = spaces.get("anynet_x_e"), set()
    for _ in range(20):
        try:
            spec = sp.define(OptunaDraw(study.ask()), sp.resolve({}), CTX)
        except Reject as why:
            kinds.add(why.kind)
            continue
        assert [s.depth for s in spec.stages] == sorted(s.depth for s in spec.stages)
    assert kinds <= {"d1..d4 out of order", "w1..w4 out of order"}


def test_an_empty_width_range_is_refused():
    with pytest.raises(Exception, match="no multiple of width_step 8 in \\[100, 90\\]; the smallest is 104"):
        spaces.get("anynet_x_a").resolve({"min_width": 100, "max_width": 90})


@pytest.mark.parametrize("name", [f"anynet_{k}_{v}" for k in "xy" for v in "abcde"])
def test_every_anynet_space_declares_the_law_of_each_quantity(name):
    laws = {law.quantity.split()[0]: law for law in spaces.get(name).laws}
    assert set(laws) in ({"d_i", "w_i", "b_i", "g_i"}, {"d_i", "w_i", "b", "g_i"}, {"d_i", "w_i", "b", "g"})
    assert all("section 3.1" in law.source for law in laws.values())
    assert ("conditioned" in laws["w_i"].range) == (name[-1] in "de")
    assert ("conditioned" in laws["d_i"].range) == (name[-1] == "e")

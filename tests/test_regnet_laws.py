"""RegNet spaces: pycls' sampling laws inside the paper's ranges, pycls' stage rule, and every
published RegNet of the zoo inside the default space.

Each law is compared with an independent sampler written here from pycls/sweep/random.py
(two-sample chi-square on the drawn values, KS where the grid is too fine for bins), at fixed
seeds and significance level ALPHA.
"""

import contextlib
from decimal import Decimal

import numpy as np
import optuna
import pytest
from scipy import stats

import spaces
from blocks.errors import UserError
from blocks.spec import StemSpec
from nas import zoo
from nas.zoo.regnet import REGNETX, REGNETY
from spaces.base import Context
from spaces.draw import OptunaDraw, Reject, ReplayDraw, RngDraw, quantize
from spaces.regnet import ranges

ALPHA = 0.001
N = 20_000
CTX = Context()

# the paper's ranges: section 3.3 (d < 64, w0, wa < 256, 1.5 <= wm <= 3, b and g as in AnyNetX,
# g up to 32 with multiples of 8, appendix D) and section 4 (b = 1, d <= 40, wm >= 2)
INITIAL = {"d": (1, 63), "w0": (8, 248), "wa": (8.0, 255.99), "wm": (1.5, 3.0), "g": (1, 32), "b": (1.0, 4.0)}
CONSTRAINED = {**INITIAL, "d": (1, 40), "wm": (2.0, 3.0), "b": (1.0, 1.0)}
PAPER = {f"regnet_{b}{s}": r for b in "xy" for s, r in (("", INITIAL), ("_constrained", CONSTRAINED))}
OPTION = {"d": "depth", "w0": "w0", "wa": "wa", "wm": "wm", "g": "group_width", "b": "bottleneck_ratio"}
STEP = {"w0": "8", "wa": "0.01", "wm": "0.001"}


def run_define(space, draw) -> dict:
    """The values `draw` records while the space defines a spec, kept or rejected."""
    with contextlib.suppress(Reject):
        space.define(draw, space.resolve({}), CTX)
    return draw.values


def space_draws(name: str, n: int, seed: int) -> dict[str, np.ndarray]:
    """n draws of each parameter by the space's own laws (its options' ranges, RngDraw)."""
    laws = ranges(spaces.get(name).resolve({}))
    rng = np.random.default_rng(seed)
    out = {p: [] for p in laws}
    for _ in range(n):
        draw = RngDraw(rng)
        for p, (law, lo, hi, q) in laws.items():
            out[p].append(draw.quantized(p, lo, hi, q, law))
    return {p: np.array(v, dtype=float) for p, v in out.items()}


def log_uniform_steps(rng, lo: float, hi: float, q: float, n: int) -> np.ndarray:
    """pycls' log_uniform as grid indices: exp(U(log(lo - min(q, lo/2)), log hi]), rounded up to q."""
    f = np.exp(rng.uniform(np.log(lo - min(q, lo / 2)), np.log(hi), n))
    return np.ceil(f / q)


def independent_draws(paper: dict, n: int, seed: int) -> dict[str, np.ndarray]:
    """The same laws written independently: d uniform; w0, wa, wm log-uniform (steps 8, 0.01,
    0.001); g a uniform power of two in [1, 32], replaced when it reaches 8 by a log-uniform
    multiple of 8; b a uniform power of two. Continuous laws come back as grid indices."""
    rng = np.random.default_rng(seed)
    (d_lo, d_hi), (b_lo, b_hi), (g_lo, g_hi) = paper["d"], paper["b"], paper["g"]
    power = 2.0 ** rng.integers(np.log2(g_lo), np.log2(g_hi) + 1, n)
    multiple = 8 * log_uniform_steps(rng, 8, g_hi, 8, n)
    return {
        "d": rng.integers(d_lo, d_hi + 1, n).astype(float),
        **{p: log_uniform_steps(rng, *paper[p], float(STEP[p]), n) for p in STEP},
        "g": np.where(power < 8, power, multiple),
        "b": 2.0 ** rng.integers(np.log2(b_lo), np.log2(b_hi) + 1, n),
    }


def steps(values: np.ndarray, q: str) -> np.ndarray:
    """Grid indices of values that must lie on the multiples of q (asserted, in decimal)."""
    exact = [Decimal(repr(float(v))) / Decimal(q) for v in values]
    assert all(k == k.to_integral_value() for k in exact), f"values off the {q} grid"
    return np.array(exact, dtype=float)


def chi_square_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample chi-square p-value over the union of the values drawn."""
    support = np.union1d(a, b)
    table = [[np.count_nonzero(x == v) for v in support] for x in (a, b)]
    return stats.chi2_contingency(table)[1]


@pytest.mark.parametrize("name", ["regnet_x", "regnet_x_constrained"])
def test_each_law_matches_an_independent_pycls_sampler(name):
    paper = PAPER[name]
    mine, theirs = space_draws(name, N, seed=1), independent_draws(paper, N, seed=2)
    for p, (lo, hi) in paper.items():
        assert lo <= mine[p].min() and mine[p].max() <= hi, p
    for p, q in STEP.items():
        assert stats.ks_2samp(steps(mine[p], q), theirs[p]).pvalue > ALPHA, p
    for p in ("d", "g", "b"):
        if len(np.unique(theirs[p])) > 1:
            assert chi_square_p(mine[p], theirs[p]) > ALPHA, p
        assert set(mine[p]) == set(theirs[p]), p
    assert set(mine["g"]) == {1, 2, 4, 8, 16, 24, 32}  # g = 24 (RegNetX-600MF) is drawable


def test_the_define_function_draws_by_these_laws_in_pycls_order():
    space = spaces.get("regnet_y")
    laws = ranges(space.resolve({}))
    for seed in range(20):
        values = run_define(space, RngDraw(np.random.default_rng(seed)))
        replay = RngDraw(np.random.default_rng(seed))
        expected = {p: replay.quantized(p, lo, hi, q, law) for p, (law, lo, hi, q) in laws.items()}
        assert list(values) == ["d", "w0", "wa", "wm", "g", "b"] and values == expected


def pycls_keeps(d: int, w0: int, wa: float, wm: float, stages=(4, 4)) -> bool:
    """pycls' check_regnet_constraints over generate_regnet (q = 8), written out."""
    ks = np.round(np.log((np.arange(d) * wa + w0) / w0) / np.log(wm))
    widths = np.round(w0 * wm**ks / 8).astype(int) * 8
    used = len(np.unique(widths))
    return used == ks.max() + 1 and stages[0] <= used <= stages[1]


@pytest.mark.parametrize("name", ["regnet_x", "regnet_y_constrained"])
def test_a_draw_is_kept_exactly_when_pycls_keeps_it(name):
    space, rng = spaces.get(name), np.random.default_rng(0)
    options = space.resolve({})
    kept = agreed = four_widths_refused = 0
    for _ in range(3000):
        draw, refused = RngDraw(rng), ""
        try:
            spec = space.define(draw, options, CTX)
        except Reject as why:
            assert why.kind in ("width levels skipped or merged", "stage count outside 4..4")
            refused = why.kind
        v = draw.values
        agreed += (not refused) == pycls_keeps(v["d"], v["w0"], v["wa"], v["wm"])
        ks = np.round(np.log((np.arange(v["d"]) * v["wa"] + v["w0"]) / v["w0"]) / np.log(v["wm"]))
        if not refused:
            kept += 1
            assert sorted(set(ks)) == list(range(len(spec.stages))) == [0, 1, 2, 3]  # every level used
        elif refused.startswith("width levels"):
            four_widths_refused += len(np.unique(np.round(v["w0"] * v["wm"] ** ks / 8))) == 4
    assert agreed == 3000 and kept > 300  # the same draws kept, so the same acceptance count
    assert four_widths_refused > 0  # four distinct widths yet a level skipped: kept before issue 11


def test_space_options_are_the_papers_ranges():
    for name, paper in PAPER.items():
        options = spaces.get(name).resolve({})
        assert {p: tuple(options[OPTION[p]]) for p in paper} == paper, name


def on_law_grid(p: str, v: float, lo: float, hi: float) -> bool:
    """Whether v is a value the law of p can draw on [lo, hi]."""
    power2 = float(np.log2(v)).is_integer()
    on_grid = {
        "d": float(v).is_integer(),
        "w0": v % 8 == 0,
        "wa": Decimal(repr(float(v))) % Decimal("0.01") == 0,
        "wm": Decimal(repr(float(v))) % Decimal("0.001") == 0,
        "g": (power2 and v < 8) or v % 8 == 0,
        "b": power2,
    }[p]
    return on_grid and lo <= v <= hi


ZOO = [(f"regnet{k}_{m}", k, p) for k, table in (("x", REGNETX), ("y", REGNETY)) for m, p in table.items()]


@pytest.mark.parametrize("model, block, params", ZOO, ids=[z[0] for z in ZOO])
@pytest.mark.parametrize("suffix", ["", "_constrained"])
def test_every_published_regnet_is_inside_the_space(model, block, params, suffix):
    d, w0, wa, wm, g = params
    values = {"d": d, "w0": w0, "wa": wa, "wm": wm, "g": g, "b": 1.0}
    name = f"regnet_{block}{suffix}"
    for p, v in values.items():
        assert on_law_grid(p, v, *PAPER[name][p]), (p, v)
    published = zoo.get(model)
    ctx = Context(stem=StemSpec("simple", 32, {"stride": 2}))
    space = spaces.get(name)
    spec = space.define(ReplayDraw(values), space.resolve({}), ctx)
    assert spec.stages == published.stages and spec.model_id == published.model_id


def test_every_regnet_space_declares_the_law_of_each_drawn_value():
    for name in PAPER:
        space = spaces.get(name)
        values = run_define(space, RngDraw(np.random.default_rng(0)))
        assert [law.quantity for law in space.laws] == list(values)
        assert all("paper" in law.source and "pycls" in law.source for law in space.laws)


@pytest.mark.parametrize(
    "options", [{"w0": [9, 15]}, {"group_width": [9, 15]}, {"bottleneck_ratio": [3.0, 3.0]}]
)
def test_a_range_without_a_drawable_value_is_refused(options):
    with pytest.raises(UserError, match=f"space.options.{next(iter(options))}: .* holds no value"):
        spaces.get("regnet_x").resolve(options)


def test_refined_ranges_draw_on_the_grid_inside_them():
    # what `nas refine` may write: a g range from 24 (no power of two), w_a ends of 4 digits
    laws = ranges(spaces.get("regnet_x").resolve({"group_width": [24, 32], "wa": [9.701, 46.69]}))
    draw = RngDraw(np.random.default_rng(0))
    drawn = {
        p: [draw.quantized(p, lo, hi, q, law) for _ in range(2000)] for p, (law, lo, hi, q) in laws.items()
    }
    assert set(drawn["g"]) == {24, 32}
    assert min(drawn["wa"]) >= 9.71 and max(drawn["wa"]) <= 46.69
    steps(np.array(drawn["wa"]), "0.01")


def test_optuna_draws_the_same_grids():
    space = spaces.get("regnet_y")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        trial = study.ask()
        v = run_define(space, OptunaDraw(trial))
        for p, (lo, hi) in INITIAL.items():
            assert on_law_grid(p, v[p], lo, hi), (p, v[p])
        study.tell(trial, 0.0)


def test_quantize_takes_numpy_floats_as_python_floats():
    """Optuna and numpy hand back np.float64, whose repr is not a plain number."""
    for f in (14.63, 0.25, 2.5010000000000003):
        for up in (True, False):
            assert quantize(np.float64(f), 0.25, up) == quantize(f, 0.25, up)
    assert quantize(np.float64(0.75), 0.25, up=True) == 0.75

"""Analysis statistics against brute force: best of k, the best-model bootstrap, EDF bands,
Pareto fronts, binned trends, and the columns read from a run's rows."""

import itertools
import json
import subprocess
import sys

import numpy as np
import pytest

from nas.analysis.bestof import best_probs, expected_best, rank_probs, search_ks
from nas.analysis.bootstrap import best_value, best_weights, edf_band, subsample_size
from nas.analysis.frame import CACHE, load
from nas.analysis.trends import bin_quartiles, numeric_trend
from nas.records import store
from nas.stats.edf import edf
from nas.stats.pareto import pareto_front


def brute_best(errors, k):
    """Enumerate every ordered k-draw with replacement: P(each model is the best), E[min]."""
    n = len(errors)
    share, total = np.zeros(n), 0.0
    for draw in itertools.product(range(n), repeat=k):
        low = min(errors[i] for i in draw)
        winners = sorted({i for i in draw if errors[i] == low})
        for i in winners:  # a random tie-break among the tied models drawn
            share[i] += 1 / len(winners)
        total += low
    return share / n**k, total / n**k


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_best_of_k_against_enumeration(k):
    errors = np.array([3.0, 1.0, 2.0, 2.0, 5.0])
    share, mean_min = brute_best(errors, k)
    assert best_probs(errors, k) == pytest.approx(share)
    assert expected_best(errors, np.array([k]))[0] == pytest.approx(mean_min)


def test_rank_probs_and_search_ks():
    assert rank_probs(10, 3).sum() == pytest.approx(1.0)
    assert rank_probs(4, 1) == pytest.approx([0.25] * 4)
    ks = search_ks(1000)
    assert ks[0] == 1 and ks[-1] == 1000 and np.all(np.diff(ks) > 0)
    best = expected_best(np.arange(100.0), ks)
    assert np.all(np.diff(best) <= 0) and best[0] == pytest.approx(49.5)


def test_bootstrap_interval_contains_the_known_optimum():
    rng = np.random.default_rng(0)
    w = rng.integers(1, 33, 600) * 8.0  # 8 .. 256
    errors = (w - 96.0) ** 2 / 100 + rng.normal(0, 2.0, len(w))
    b = best_value(w, errors, 0.25, 0.95)
    assert b["lo"] <= 96 <= b["hi"] and b["hi"] - b["lo"] <= 48
    assert b["n"] == 600 and b["subsample"] == 150


def test_exact_bootstrap_matches_the_papers_monte_carlo():
    rng = np.random.default_rng(1)
    w = rng.integers(1, 33, 200) * 8.0
    errors = (w - 96.0) ** 2 / 100 + rng.normal(0, 5.0, len(w))
    picks = rng.integers(0, 200, (20_000, 50))  # 25% subsamples with replacement
    best = picks[np.arange(len(picks)), np.argmin(errors[picks], axis=1)]
    freq = np.bincount(best, minlength=200) / len(picks)
    assert np.abs(freq - best_weights(errors, 0.25)).max() < 0.015
    mc = np.quantile(w[best], [0.025, 0.5, 0.975], method="inverted_cdf")
    exact = best_value(w, errors, 0.25, 0.95)
    assert [exact["lo"], exact["median"], exact["hi"]] == pytest.approx(mc, abs=8.0)


def test_subsample_size_is_pyclss_rounding_down():
    # pycls get_filters: max(1, int(n * 0.25)); 0.25 n = 0.25, 0.75, 1, 1.75, 28.75, 150
    assert [subsample_size(n, 0.25) for n in (1, 3, 4, 7, 115, 600)] == [1, 1, 1, 1, 28, 150]
    assert best_value(np.arange(3.0), np.arange(3.0), 0.25, 0.95)["subsample"] == 1


def test_exact_bootstrap_matches_pyclss_draws_where_rounding_matters():
    """pycls's procedure (28 of 115 models with replacement, keep the best) against the exact
    weights: every model's share within 4 standard errors of the 100,000 draws; the best model's
    share is more than 4 away from what 29-model subsamples (rounding up) would give."""
    rng = np.random.default_rng(7)
    errors = rng.normal(10, 2, 115)
    picks = rng.integers(0, 115, (100_000, 28))
    best = picks[np.arange(len(picks)), np.argmin(errors[picks], axis=1)]
    freq = np.bincount(best, minlength=115) / len(picks)
    w = best_weights(errors, 0.25)
    se = np.sqrt(w * (1 - w) / len(picks))
    assert np.all(np.abs(freq - w) <= 4 * se + 1e-12)
    top = np.argmin(errors)
    assert abs(freq[top] - best_probs(errors, 29)[top]) > 4 * se[top]


def test_categorical_shares_pick_the_good_category():
    rng = np.random.default_rng(2)
    block = rng.choice(["res_bottleneck_x", "res_basic"], 300).astype(object)
    errors = np.where(block == "res_basic", 10.0, 5.0) + rng.normal(0, 1.0, 300)
    shares = best_value(block, errors, 0.25, 0.95)["shares"]
    assert list(shares)[0] == "res_bottleneck_x" and shares["res_bottleneck_x"] > 0.99
    assert sum(shares.values()) == pytest.approx(1.0)


def test_edf_band_matches_direct_resampling_and_covers_the_truth():
    rng = np.random.default_rng(3)
    errors = rng.normal(30, 5, 400)
    grid = np.linspace(15, 45, 61)
    lo, hi = edf_band(errors, grid, 2000, np.random.default_rng(4))
    direct = np.array([edf(errors[rng.integers(0, 400, 400)], grid) for _ in range(2000)])
    assert lo == pytest.approx(np.quantile(direct, 0.025, axis=0), abs=0.02)
    assert hi == pytest.approx(np.quantile(direct, 0.975, axis=0), abs=0.02)
    f = edf(errors, grid)
    assert np.all(lo <= f + 1e-12) and np.all(f <= hi + 1e-12)
    from scipy.stats import norm

    assert np.mean((lo <= norm.cdf(grid, 30, 5)) & (norm.cdf(grid, 30, 5) <= hi)) > 0.9


def test_stratified_band_surrounds_the_normalised_edf():
    rng = np.random.default_rng(5)
    errors = np.concatenate([rng.normal(10, 1, 300), rng.normal(20, 1, 30)])
    strata = np.array([0] * 300 + [1] * 30)
    grid = np.linspace(5, 25, 41)
    lo, hi = edf_band(errors, grid, 500, rng, strata=strata)
    assert lo[20] <= 0.5 <= hi[20]  # half the weight sits below 15 whatever the counts
    assert edf_band(errors, grid, 0, rng)[0].size == len(grid)


def test_pareto_front_hand_computed():
    cost = np.array([1.0, 2.0, 2.0, 3.0, 4.0, 5.0, np.nan])
    err = np.array([5.0, 6.0, 4.0, 4.0, 2.0, 3.0, 0.0])
    assert pareto_front(cost, err).tolist() == [0, 2, 4]
    assert pareto_front(np.array([]), np.array([])).tolist() == []


def test_bin_quartiles_and_trend_match_numpy():
    rng = np.random.default_rng(6)
    x = rng.uniform(0, 100, 500)
    e = rng.normal(size=500)
    labels = (x // 20).astype(int)
    q = bin_quartiles(labels, e, 6)
    for j in range(5):
        assert q[j] == pytest.approx(np.quantile(e[labels == j], [0.25, 0.5, 0.75]))
    assert np.isnan(q[5]).all()
    t = numeric_trend(x, e, bins=5)
    assert sum(t["count"]) == 500 and len(t["x"]) == 5
    assert t["few_models"] == [False] * 5  # 100 models per bin
    t = numeric_trend(np.array([1.0, 2.0, 2.0, 4.0]), np.array([1.0, 2.0, 4.0, 0.0]))
    assert t["x"] == [1.0, 2.0, 4.0] and t["median"] == [1.0, 3.0, 0.0]
    assert t["count"] == [1, 2, 1] and t["few_models"] == [True, True, True]


def test_read_rows_skips_a_torn_line_and_keeps_the_last_row_per_trial(tmp_path):
    store.append(tmp_path / store.TRIALS, {"trial_index": 0, "status": "failed", "error": None})
    store.append(tmp_path / store.TRIALS, {"trial_index": 1, "status": "ok", "error": 3.0})
    store.append(tmp_path / store.TRIALS, {"trial_index": 0, "status": "ok", "error": 2.0})
    with open(tmp_path / store.TRIALS, "a") as fh:
        fh.write('{"trial_index": 2, "sta')
    assert [(r["trial_index"], r["error"]) for r in store.rows(tmp_path)] == [(0, 2.0), (1, 3.0)]
    assert [(r.entry.trial_index, r.error) for r in store.trial_rows(tmp_path)] == [(0, 2.0), (1, 3.0)]
    assert load(tmp_path).error.tolist() == [2.0, 3.0]


def test_load_columns_and_spec_parameters(tmp_path):
    def row(i, d, w, block, status="ok"):
        return {
            "trial_index": i,
            "space": "toy",
            "model_id": f"m{i}",
            "status": status,
            "error": None if status != "ok" else float(i),
            "complexity": {"flops": 10 * (i + 1), "params": i + 1, "acts": 1},
            "values": {"d1": d, "w1": w, "flag": i % 2 == 0},
            "spec": {"stages": [{"block": block, "depth": d, "width": w + 8, "params": {"se": 0.25}}]},
        }

    for r in [row(0, 1, 8, "a"), row(1, 2, 16, "b"), row(2, 3, 16, "a", "diverged")]:
        store.append(tmp_path / store.TRIALS, r)
    (tmp_path / store.PLAN).write_text("".join(json.dumps({"trial_index": i}) + "\n\n" for i in range(3)))
    d = load(tmp_path)
    assert d.label == "toy" and d.planned == 3 and d.status.tolist() == ["ok", "ok", "diverged"]
    assert np.isnan(d.error[2]) and d.complexity["flops"].tolist() == [10.0, 20.0, 30.0]
    # d1 and stage1.depth are the same column; se is constant; flag is categorical (True/False as str)
    assert list(d.params) == ["d1", "flag", "w1", "stage1.width", "stage1.block"]  # rows keep sorted keys
    assert d.drawn == ["d1", "flag", "w1"]
    assert d.params["stage1.block"].tolist() == ["a", "b", "a"] and d.params["flag"][0] == "True"
    # read again unchanged: the same columns, from the cache beside the rows
    assert (tmp_path / CACHE).exists()
    again = load(tmp_path)
    for name in ("index", "model_id", "status", "reason"):
        assert getattr(again, name).tolist() == getattr(d, name).tolist()
    assert np.array_equal(again.error, d.error, equal_nan=True) and again.drawn == d.drawn
    assert {k: v.tolist() for k, v in again.params.items()} == {k: v.tolist() for k, v in d.params.items()}
    assert again.params["stage1.block"].dtype == object and again.label == "toy" and again.planned == 3
    # a new row (trial 2 rerun) changes the trials file: parsed again, not the stale cache
    store.append(tmp_path / store.TRIALS, row(2, 3, 16, "c"))
    assert load(tmp_path).params["stage1.block"].tolist() == ["a", "b", "c"]


def test_cached_columns_keep_missing_values_as_none(tmp_path):
    store.append(
        tmp_path / store.TRIALS, {"trial_index": 0, "status": "ok", "error": 1.0, "values": {"k": "x"}}
    )
    store.append(
        tmp_path / store.TRIALS, {"trial_index": 1, "status": "ok", "error": 2.0, "values": {"j": 3}}
    )
    store.append(
        tmp_path / store.TRIALS, {"trial_index": 2, "status": "ok", "error": 2.5, "values": {"k": "y"}}
    )
    first, second = load(tmp_path), load(tmp_path)
    assert first.params["k"].tolist() == second.params["k"].tolist() == ["x", None, "y"]


def test_nondominated_three_objectives():
    from nas.stats.pareto import nondominated

    v = np.array([[1, 5, 5], [2, 2, 2], [3, 1, 9], [3, 3, 3], [1, 5, 6]])
    assert nondominated(v).tolist() == [0, 1, 2]  # [3,3,3] is dominated by [2,2,2], [1,5,6] by [1,5,5]


def test_figures_leave_matplotlib_global_state_alone(tmp_path):
    """Drawing switches no backend and never loads pyplot (a fresh interpreter, so nothing else did)."""
    code = f"""
import sys
from pathlib import Path
import matplotlib
import numpy as np
from nas.analysis import plots
before = dict.__getitem__(matplotlib.rcParams, "backend")
plots.edf_figure({{"a": np.arange(20.0)}}, Path({str(tmp_path)!r}) / "edf.png")
plots.search_figure({{"a": (np.array([1, 10]), np.array([9.5, 1.0]))}}, Path({str(tmp_path)!r}) / "s.png")
assert "matplotlib.pyplot" not in sys.modules, "pyplot imported"
assert dict.__getitem__(matplotlib.rcParams, "backend") == before, "backend switched"
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "edf.png").read_bytes()[:4] == b"\x89PNG" and (
        tmp_path / "s.png"
    ).stat().st_size > 1000

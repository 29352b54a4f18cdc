"""Trends by FLOPs regime (the RegNet paper's 200MF / 400MF / 800MF reading), the per-model width
fit the e_fit figure plots, and epoch time as a complexity measure, on hand-made rows."""

import numpy as np
import pytest

from blocks.widths import regnet_widths
from nas.analysis import regimes
from nas.analysis.frame import EPOCH_TIME, load
from nas.analysis.linearfit import fit_models
from nas.records import store
from nas.zoo.regnet import REGNETX


def test_regime_names_and_boundaries():
    names = [regimes.name(f) for f in (200e6, 1.6e9, 12.5e6, 400e6, 200e6 / 2**11)]
    assert names == ["200MF", "1.6GF", "12.5MF", "400MF", "97.7KF"]
    # a regime holds the models within sqrt(2) of its nominal FLOPs: 200MF is [141.4M, 282.8M)
    k = regimes.assign(np.array([141e6, 142e6, 200e6, 282e6, 283e6, 800e6, np.nan, 0.0]))
    assert k[:6].tolist() == [-1, 0, 0, 0, 1, 2] and (k[6:] < -1000).all()


def test_regimes_keep_the_populated_ones_in_flops_order():
    flops = np.array([200e6] * 12 + [400e6] * 3 + [800e6] * 15 + [100e6] * 11)
    kept = regimes.regimes(flops, least=10, most=2)  # 400MF has too few; of 100, 200, 800 the two largest
    assert [r["regime"] for r in kept] == ["200MF", "800MF"]
    assert [len(r["rows"]) for r in kept] == [12, 15] and kept[0]["rows"].tolist() == list(range(12))
    assert kept[0]["lo"] == pytest.approx(200e6 / np.sqrt(2)) and kept[1]["hi"] == pytest.approx(
        800e6 * np.sqrt(2)
    )


def test_a_trend_that_turns_between_regimes():
    """Depth helps at 200MF (error 20 - d) and hurts at 800MF (error 10 + d): each regime's trend says so."""
    d = np.tile(np.arange(1.0, 13.0), 2)
    flops = np.repeat([200e6, 800e6], 12)
    errors = np.where(flops < 500e6, 20 - d, 10 + d)
    out = regimes.regime_trends(
        flops, {"d": d, "block": np.array(["a"] * 24, dtype=object)}, errors, ["d", "block"]
    )
    assert [(r["regime"], r["count"]) for r in out] == [("200MF", 12), ("800MF", 12)]
    low, high = out[0]["trends"]["d"], out[1]["trends"]["d"]
    assert low["x"] == list(range(1, 13)) and low["median"] == [20.0 - x for x in range(1, 13)]
    assert high["median"] == [10.0 + x for x in range(1, 13)]
    assert "block" not in out[0]["trends"]  # categorical parameters have no numeric trend


def test_exactly_linear_widths_fit_with_zero_error():
    d, w_0, w_a, w_m, _ = REGNETX["200mf"]
    widths, depths, _ = regnet_widths(w_0, w_a, w_m, d)
    # 64 then 16 wide: a linear law never narrows, so the best predicts one width p for both, and
    # |log(p / 64)| + |log(p / 16)| is at least log 4 (any p between them): e_fit = log(4) / 2
    other = ([1, 1], [64, 16])
    n = max(len(depths), 2)
    sd, sw = np.full((2, n), np.nan), np.full((2, n), np.nan)
    sd[0, : len(depths)], sw[0, : len(widths)] = depths, widths
    sd[1, :2], sw[1, :2] = other
    fits = fit_models(sd, sw, np.array([5.0, 6.0]), np.random.default_rng(0))
    assert [i for i, _ in fits] == [0, 1]
    assert fits[0][1].e_fit == 0.0 and fits[1][1].e_fit == pytest.approx(np.log(4) / 2)


def test_fit_models_keeps_the_best_when_it_must_choose():
    sd, sw = np.ones((40, 2)), np.tile([16.0, 32.0], (40, 1))
    errors = np.arange(40.0)[::-1]  # row 39 is the best
    rows = [i for i, _ in fit_models(sd, sw, errors, np.random.default_rng(1), limit=8)]
    assert len(rows) == 8 and {39, 38} <= set(rows)


def test_epoch_time_is_a_complexity_measure_where_rows_time_training(tmp_path):
    rows = [
        {"trial_index": 0, "status": "ok", "error": 3.0, "train_time": 30.0, "epochs": 3},
        {"trial_index": 1, "status": "ok", "error": 4.0, "train_time": 0.0, "epochs": 0},
        {"trial_index": 2, "status": "ok", "error": 5.0, "train_time": 12.5, "epochs": 5},
    ]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for r in rows:
        store.append(tmp_path / "a" / store.TRIALS, r)
    d = load(tmp_path / "a")
    assert d.complexity[EPOCH_TIME][[0, 2]].tolist() == [10.0, 2.5] and np.isnan(d.complexity[EPOCH_TIME][1])
    store.append(tmp_path / "b" / store.TRIALS, {"trial_index": 0, "status": "ok", "error": 3.0})
    assert EPOCH_TIME not in load(tmp_path / "b").complexity

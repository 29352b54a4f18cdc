"""The linear-width-law candidate (AnyNetX_E -> RegNet, RegNet paper section 3.3): offered from E
only when the good models fit the quantised linear law, with ranges spanning their fits and the
parent's b, g, stages and strides; drawable by the real space and by the synthetic trainer; and
accepted by the loop on a planted truth where irregular widths cost error."""

import math

import numpy as np
import pytest

import spaces
from blocks.widths import regnet_widths
from nas.analysis.linearfit import fit
from nas.exploring import synthetic
from nas.exploring.candidates import E_FIT_MAX, LINEAR, Candidate, Round, linear, propose
from nas.exploring.path import Settings, explore
from spaces import Context

# two RegNets' own stages: w_0 24, w_a 36, w_m 2.5, d 13 and w_0 48, w_a 27, w_m 2.2, d 16
GOOD = [([1, 1, 4, 7], [24, 64, 152, 376]), ([1, 4, 6, 5], [48, 104, 232, 512])]
BAD = ([1, 1, 1, 1], [8, 16, 512, 520])  # e_fit 0.567: no quantised linear law comes near


def _round(models: list[tuple[list[int], list[int]]], errors: list[float]) -> Round:
    """A round of AnyNetX_E-like models with these stage depths and widths, shared b 2 and g 8."""
    d, w = np.array([m[0] for m in models], float), np.array([m[1] for m in models], float)
    params = {f"{k}{i + 1}": a[:, i] for k, a in (("d", d), ("w", w)) for i in range(4)}
    n = len(models)
    return Round(np.array(errors, float), np.ones(n), {**params, "b": np.full(n, 2.0), "g": np.full(n, 8.0)})


def test_the_good_models_fits_make_the_regnet_ranges():
    assert [regnet_widths(24, 36.0, 2.5, 13)[:2], regnet_widths(48, 27.0, 2.2, 16)[:2]] == [
        (w, d) for d, w in GOOD
    ]
    fits = [fit(d, w) for d, w in GOOD]
    assert fits[0].e_fit == 0.0 and fits[1].e_fit < 0.01  # the grid search comes within 0.5%
    # 8 models, the best quarter (2) are the RegNets; the rest fit badly
    data = _round(GOOD + [BAD] * 6, [1.0, 2.0] + [10.0] * 6)
    parent = Candidate("anynet_x_e", {"group_widths": [8, 16], "strides": [1, 2, 2, 2]})
    (cand,) = linear(parent, data, [LINEAR])
    w0, wa, wm = ([getattr(f, k) for f in fits] for k in ("w_0", "w_a", "w_m"))
    assert cand.space == "regnet_x" and cand.kind == LINEAR
    assert cand.options == {
        "depth": [13, 16],  # 1 + 1 + 4 + 7 and 1 + 4 + 6 + 5
        "w0": [24, 48],
        "wa": [round(min(wa), 2), round(max(wa), 2)],
        "wm": [round(min(wm), 3), round(max(wm), 3)],
        "group_width": [8, 16],
        "bottleneck_ratio": [1.0, 4.0],
        "stages": [4, 4],
        "strides": [1, 2, 2, 2],
    }
    assert min(w0) == 24 and max(w0) == 48
    assert f"median e_fit {fits[1].e_fit / 2:.3f} <= 0.1" in cand.change
    # the real RegNet space draws it: every sample four stages, widths from the law
    ctx = Context((3, 32, 32), 10)
    for s in spaces.sample(spaces.get(cand.space), 5, 0, ctx=ctx, options=cand.options):
        assert len(s.spec.stages) == 4 and 13 <= s.values["d"] <= 16


def test_offered_only_from_e_when_the_good_models_fit():
    fitting = _round(GOOD + [BAD] * 6, [1.0, 2.0] + [10.0] * 6)
    misfit = _round(GOOD + [BAD] * 6, [10.0, 10.0] + [1.0] * 6)  # the good models are the bad fits
    assert fit(*BAD).e_fit == pytest.approx(0.567, abs=1e-3) and E_FIT_MAX == 0.1
    assert linear(Candidate("anynet_x_e", {}), misfit, [LINEAR]) == []
    assert linear(Candidate("anynet_x_d", {}), fitting, [LINEAR]) == []
    assert linear(Candidate("anynet_x_e", {}), fitting, ["narrow"]) == []
    (y,) = linear(Candidate("anynet_y_e", {}), fitting, [LINEAR])
    assert y.space == "regnet_y" and y.options["se_ratio"] == 0.25
    kinds = [c.kind for c in propose(Candidate("anynet_x_e", {}), fitting, [LINEAR, "narrow"], 0.25, 0.95)]
    assert kinds[-1] == LINEAR


def test_synthetic_regnet_draw_and_irregularity():
    # stage widths 8, 16, 64, 64: log ratios log 2, log 4, 0, spread log 4
    w = np.array([[8.0, 16, 32, 64], [8.0, 16, 64, 64]])
    assert synthetic.irregularity(w).tolist() == pytest.approx([0.0, math.log(4)])
    opt = spaces.get("regnet_x").resolve({"depth": [13, 16], "w0": [24, 48], "stages": [4, 4]})
    v = synthetic.draw("regnet_x", opt, 50, np.random.default_rng(0))
    assert v["d"].shape == (50, 4) and np.all(np.diff(v["w"], axis=1) > 0)
    assert np.all(v["d"].sum(axis=1) == v["r_d"]) and set(np.unique(v["r_w0"])) <= {24.0, 32.0, 40.0, 48.0}
    for i in range(5):  # the stages are the law's at the drawn values
        ws, ds, _ = regnet_widths(v["r_w0"][i], v["r_wa"][i], v["r_wm"][i], int(v["r_d"][i]))
        assert (ws, ds) == (v["w"][i].astype(int).tolist(), v["d"][i].astype(int).tolist())
    assert sorted(synthetic.params("regnet_x", v)) == ["b", "d", "g", "w0", "wa", "wm"]


def test_the_loop_accepts_the_law_where_it_is_better():
    truth = synthetic.Truth(irregular=8.0)
    path = explore(
        Candidate("anynet_x_e", {"max_depth": 8}),
        synthetic.runner(truth),
        Settings(models=300, steps=1, seed=3),
    )
    (step,) = path
    kinds = [t["candidate"]["kind"] for t in step.tests]
    assert LINEAR in kinds and step.chosen.kind == LINEAR and step.chosen.space == "regnet_x"


def test_an_experiment_may_name_the_kind():
    from nas import config

    exp = config.parse({"space": "anynet_x_e", "explore": {"kinds": [LINEAR, "narrow"]}}, "e.yaml")
    assert exp.explore.kinds == (LINEAR, "narrow") and LINEAR == "linear_widths"

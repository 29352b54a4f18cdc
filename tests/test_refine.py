"""`nas refine`: narrowed experiments that load, resolve and sample; options mapped per space."""

import math

import numpy as np
import pytest
import yaml

import spaces
from blocks.errors import UserError
from nas import config
from nas.analysis.refine import Refinement, inside, select
from nas.cli import main
from tests.synth import CTX, write_run


def regnet_error(v, rng):
    """Best near w0 = 32 and wa = 20 (5% there: an error is a percentage, never below 0)."""
    return 5 + ((v["w0"] - 32) / 8) ** 2 + (3 * math.log(v["wa"] / 20)) ** 2 + rng.normal(0, 0.3)


def anynet_error(v, rng):
    """Best with every stage wide (near 64): min_width, shared by the stages, can narrow."""
    return 5 + (3 * 64 - v["w1"] - v["w2"] - v["w3"]) / 4 + rng.normal(0, 0.5)


def load_refined(path):
    exp = config.load(path)
    (sc,) = exp.spaces
    options = spaces.get(sc.name).resolve(sc.options, where=f"{path}: spaces[0].options")
    return exp, sc, options


def test_refine_regnet_writes_a_loadable_narrower_experiment(tmp_path, capsys):
    run = write_run(tmp_path, "regnet_x", 240, regnet_error)
    out = tmp_path / "next.yaml"
    assert main(["refine", str(run), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "w0: [8, 64] ->" in printed and f"wrote {out}" in printed
    exp, sc, options = load_refined(out)
    assert exp.name == "synth_refined" and sc.name == "regnet_x"
    lo, hi = options["w0"]
    assert 8 <= lo <= 32 <= hi <= 64 and hi - lo < 56
    lo, hi = options["wa"]
    assert 8.0 <= lo <= 20 <= hi <= 64.0 and hi - lo < 56
    lo, hi = options["group_width"]
    assert 1 <= lo <= hi <= 32
    assert out.read_text().startswith("# refined by `nas refine` from")
    assert "regnet_x), 240 models\n" in out.read_text() and "indicative" not in out.read_text()
    drawn = spaces.sample(spaces.get("regnet_x"), 5, 0, ctx=CTX, options=sc.options)
    assert all(lo <= s.values["wa"] <= hi for s in drawn)


def test_refine_anynet_maps_shared_options_and_reports_the_rest(tmp_path, capsys):
    run = write_run(tmp_path, "anynet_x_c", 200, anynet_error)
    out = tmp_path / "next.yaml"
    assert main(["refine", str(run), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "not mapped: d1: only one end maps; no option sets its lower bound" in printed
    _, sc, options = load_refined(out)
    assert 8 < options["min_width"] <= options["max_width"] <= 64
    assert options["max_depth"] <= 4 and set(options["bottleneck_ratios"]) <= {1.0, 2.0, 4.0}
    assert sc.options["stages"] == 3 and sc.options["strides"] == [1, 2, 2]  # untouched options kept
    spaces.sample(spaces.get("anynet_x_c"), 5, 0, ctx=CTX, options=sc.options)

    assert main(["refine", str(run), "--out", str(out), "--params", "w"]) == 0
    changed = yaml.safe_load(out.read_text())["spaces"][0]["options"]
    assert set(changed) == {"stages", "max_depth", "max_width", "strides", "min_width"}
    assert "max_depth" in changed and changed["max_depth"] == 4  # the user's option, not narrowed

    assert main(["refine", str(run), "--out", str(out), "--params", "nope"]) == 2
    assert "--params: no parameter 'nope'" in capsys.readouterr().err


def test_refine_of_a_labelled_run_maps_the_label_to_its_space_and_keeps_it(tmp_path, capsys):
    from nas.analysis import frame

    run = write_run(tmp_path, "anynet_x_c", 200, anynet_error, label="wide")
    d = frame.load(run)
    assert (d.label, d.space) == ("wide", "anynet_x_c")
    out = tmp_path / "next.yaml"
    assert main(["refine", str(run), "--out", str(out)]) == 0
    assert "(anynet_x_c), 200 models" in out.read_text()
    _, sc, options = load_refined(out)
    assert (sc.name, sc.label) == ("anynet_x_c", "wide") and 8 < options["min_width"] <= 64


def test_refine_that_narrows_nothing_says_why_and_writes_no_file(tmp_path, capsys):
    import nas

    run = write_run(tmp_path, "anynet_x_a", 24, lambda v, rng: 10.0 + rng.random())  # no effect at all
    out = tmp_path / "next.yaml"
    assert main(["refine", str(run), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert "max_width: 64 unchanged   (from w1, w2, w3)" in printed
    assert printed[-1] == (
        f"nothing to narrow: the best models' intervals cover every option's whole range, so {out} "
        "would repeat the run's space and is not written (more models may narrow it)"
    )
    assert not out.exists() and not any("wrote" in line for line in printed)
    experiment, ref = nas.refine(run, out)
    assert not nas.api.narrows(ref) and not out.exists() and experiment["spaces"][0]["name"] == "anynet_x_a"
    assert main(["refine", str(run), "--out", str(out), "--params", "w1"]) == 0  # maps, still unchanged
    assert not out.exists()


def test_select_expands_stage_numbers():
    names = ["d1", "d2", "d10", "w0", "wa", "g"]
    assert select(names, ["d"]) == ["d1", "d2", "d10"]
    assert select(names, ["w0", "g"]) == ["w0", "g"]
    with pytest.raises(UserError):
        select(names, ["x"])


def test_inside_checks_every_narrowed_option():
    ref = Refinement("anynet_x_c", {})
    ref.changes = [
        {"option": "max_depth", "kind": "high", "params": ["d1", "d2"], "before": 4, "after": 2},
        {"option": "min_width", "kind": "low", "params": ["w1"], "before": 8, "after": 16},
        {"option": "group_widths", "kind": "choices", "params": ["g"], "before": [1, 2, 4], "after": [2, 4]},
        {"option": "w0", "kind": "range", "params": ["w0"], "before": [8, 64], "after": [16, 32]},
    ]
    params = {
        "d1": np.array([1.0, 2.0, 3.0, 1.0, 1.0, 1.0]),
        "d2": np.array([1.0, np.nan, 1.0, 1.0, 1.0, 1.0]),
        "w1": np.array([16.0, 24.0, 16.0, 8.0, 16.0, 16.0]),
        "g": np.array([2.0, 4.0, 2.0, 2.0, 1.0, 2.0]),
        "w0": np.array([16.0, 32.0, 16.0, 16.0, 16.0, 40.0]),
    }
    assert inside(ref, params).tolist() == [True, True, False, False, False, False]


def test_each_space_declares_its_refinement_rules_over_its_own_options():
    kinds = {"range", "low", "high", "choices"}
    for name in spaces.names():
        space = spaces.get(name)
        assert all(r.option in space.options and r.kind in kinds for r in space.refine), name
    assert [r.option for r in spaces.get("regnet_y").refine] == [
        *("depth", "w0", "wa", "wm", "group_width", "bottleneck_ratio")
    ]
    anynet = {r.option: (r.params, r.kind) for r in spaces.get("anynet_y_e").refine}
    assert anynet["max_depth"] == (r"d\d+", "high") and anynet["min_width"] == (r"w\d+", "low")
    assert spaces.get("mixed").refine == ()  # nothing declared: refine narrows nothing


def test_refine_refuses_fewer_than_ten_models_unless_forced(tmp_path, capsys):
    run = write_run(tmp_path, "regnet_x", 9, regnet_error)
    out = tmp_path / "next.yaml"
    assert main(["refine", str(run), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "9 finished models; intervals from fewer than 10 are mostly noise" in err and "--force" in err
    assert not out.exists()
    assert main(["refine", str(run), "--out", str(out), "--force"]) == 0
    assert "warning: intervals from 9 models (fewer than 10): indicative only" in capsys.readouterr().out
    head = out.read_text().splitlines()[:2]
    assert (
        head[0].endswith("(regnet_x), 9 models")
        and head[1] == "#   intervals from 9 models (fewer than 10): indicative only"
    )
    load_refined(out)


def test_narrowed_bounds_print_as_four_significant_digits():
    from nas.analysis.refine import _outward

    assert _outward(1.53512, up=False) == 1.535  # not 1.5350000000000001
    assert _outward(2.96551, up=True) == 2.966
    assert _outward(58.761, up=True) == 58.77
    assert repr(_outward(0.00123456, up=False)) == "0.001234"

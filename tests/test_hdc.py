"""Gridding analysis and HDC rules: hand-checked schedules, brute force, search and the CLI."""

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import convolve2d

from blocks.errors import ParamError
from blocks.gridding import (
    analyze,
    check_schedule,
    count_map,
    coverage_1d,
    hole_free_schedules,
    holes,
    widest_hole_free,
)
from nas import cli
from nas.hdc import m_chain, report, rules, sawtooth_group, suggest


def _brute_map(schedule, k):
    """Propagate a 2-D path-count map layer by layer with each layer's dilated k x k kernel."""
    out = np.ones((1, 1), dtype=np.int64)
    for r in schedule:
        kernel = np.zeros(((k - 1) * r + 1,) * 2, dtype=np.int64)
        kernel[::r, ::r] = 1
        out = convolve2d(out, kernel)
    return out


def test_125_has_no_holes_and_m2_is_2():
    a = analyze([1, 2, 5], 3)
    assert a.ok and a.span == 17 and a.holes_2d == 0 and a.reached_2d == 1.0
    assert a.counts.tolist() == [1, 1, 2, 1, 2, 2, 2, 2, 1, 2, 2, 2, 2, 1, 2, 1, 1]
    assert m_chain([1, 2, 5]) == [1, 2, 5]
    assert rules([1, 2, 5], 3)["m2"] == 2 and rules([1, 2, 5], 3)["passes"]
    assert check_schedule([1, 2, 5], 3) == []


def test_129_gives_m2_5_and_holes():
    assert m_chain([1, 2, 9])[1] == 5
    assert not rules([1, 2, 9], 3)["m2_ok"]
    assert holes([1, 2, 9], 3) == (-5, -4, 4, 5)


def test_246_fails_the_common_factor_rule():
    hdc = rules([2, 4, 6], 3)
    assert hdc["gcd"] == 2 and not hdc["no_common_factor"] and not hdc["passes"]
    assert all(d % 2 for d in holes([2, 4, 6], 3))


def test_222_holes_are_named():
    assert holes([2, 2, 2], 3) == (-5, -3, -1, 1, 3, 5)
    a = analyze([2, 2, 2], 3)
    assert a.holes_2d == 13 * 13 - 7 * 7
    (msg,) = check_schedule([2, 2, 2], 3)
    assert "±1, ±3, ±5" in msg and "120 of" in msg


def test_sawtooth_groups():
    assert sawtooth_group([1, 2, 5, 1, 2, 5]) == ((1, 2, 5), 2)
    assert sawtooth_group([1, 2, 1, 2, 1, 2]) == ((1, 2), 3)
    assert sawtooth_group([2, 2, 2]) == ((2, 2, 2), 1)
    assert sawtooth_group([1, 2, 5, 1, 2]) == ((1, 2, 5, 1, 2), 1)
    hdc = rules([1, 2, 9, 1, 2, 9], 3)
    assert hdc["sawtooth"] and hdc["group"] == [1, 2, 9] and hdc["m2"] == 5


def test_report_says_where_rule_and_exact_analysis_disagree():
    first_rate_gap = report([2, 3], 3)
    assert first_rate_gap["hdc"]["passes"] and not first_rate_gap["hole_free"]
    assert not first_rate_gap["agree"] and "although the HDC rules pass" in first_rate_gap["verdict"]
    order_only = report([1, 5, 1], 3)
    assert not order_only["hdc"]["passes"] and order_only["hole_free"]
    assert "although the HDC rule fails" in order_only["verdict"]
    assert report([1, 2, 5], 3)["agree"]


@settings(max_examples=60, deadline=None)
@given(
    schedule=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    k=st.sampled_from([1, 3, 5]),
)
def test_outer_product_equals_brute_force_2d(schedule, k):
    brute = _brute_map(schedule, k)
    assert np.array_equal(count_map(schedule, k), brute)
    radius = len(brute) // 2
    zero_rows = np.flatnonzero(brute.sum(1) == 0) - radius
    assert holes(schedule, k) == tuple(zero_rows)
    a = analyze(schedule, k)
    assert a.holes_2d == int((brute == 0).sum())
    assert a.cv_2d == pytest.approx(brute.std() / brute.mean(), abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(schedule=st.lists(st.integers(1, 9), min_size=1, max_size=5), data=st.data())
def test_coverage_ignores_order(schedule, data):
    shuffled = data.draw(st.permutations(schedule))
    assert np.array_equal(coverage_1d(schedule, 3), coverage_1d(shuffled, 3))


def test_deep_schedules_switch_to_shares_and_keep_holes_exact():
    rates = [1 + (7 * i) % 100 for i in range(50)]
    a = analyze(rates, 3)
    assert not a.exact and a.span == 2 * sum(rates) + 1
    assert a.counts.sum() == pytest.approx(1.0) and a.ok
    even = analyze([2 * (1 + i % 50) for i in range(50)], 3)
    assert even.holes == tuple(d for d in range(-(even.span // 2), even.span // 2 + 1) if d % 2)


def test_shares_match_exact_counts_past_int64():
    rates = [1, 2, 3] * 14  # 3**42 paths overflow int64
    exact = np.array([1], dtype=object)
    for r in rates:
        tap = np.zeros(2 * r + 1, dtype=object)
        tap[::r] = 1
        exact = np.convolve(exact, tap)
    shares = coverage_1d(rates, 3)
    assert np.allclose(shares, (exact / 3 ** len(rates)).astype(float), rtol=1e-12, atol=0)


@pytest.mark.parametrize("k, length, max_rate", [(3, 1, 5), (3, 3, 9), (3, 4, 6), (5, 3, 12)])
def test_hole_free_search_equals_brute_force(k, length, max_rate):
    brute = [
        s for s in itertools.combinations_with_replacement(range(1, max_rate + 1), length) if analyze(s, k).ok
    ]
    assert list(hole_free_schedules(length, k, max_rate)) == brute
    top = widest_hole_free(length, k, max_rate, 5)
    cut = sorted((sum(s) for s in brute), reverse=True)[min(4, len(brute) - 1)]
    assert sorted(top) == sorted(s for s in brute if sum(s) >= cut)


def test_suggest_ranks_hole_free_schedules_by_field():
    rows = suggest(6, 3, 20, top=10)
    assert len(rows) == 10 and rows[0]["schedule"] == [1, 3, 9, 20, 20, 20]
    assert all(analyze(r["schedule"], 3).ok for r in rows)
    assert [r["span"] for r in rows] == sorted((r["span"] for r in rows), reverse=True)


@pytest.mark.parametrize(
    "schedule, k, needle",
    [([], 3, "at least one"), ([1, 0, 5], 3, "position 2"), ([1, 2], 4, "kernel"), ([1, 2], 0, "kernel")],
)
def test_bad_input_raises_naming_the_argument(schedule, k, needle):
    with pytest.raises(ParamError, match=needle):
        analyze(schedule, k)


@pytest.fixture
def nas(monkeypatch, capsys):
    """Run `nas` with only the hdc command loaded; returns (exit code, stdout, stderr)."""
    assert "hdc" in cli.COMMANDS
    monkeypatch.setattr(cli, "COMMANDS", ["hdc"])

    def run(*argv):
        code = cli.main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_cli_exit_codes_and_json(nas):
    code, out, _ = nas("hdc", "1,2,5")
    assert code == 0 and "verdict: no gridding holes" in out and "M_2 = 2" in out
    code, out, _ = nas("hdc", "2,2,2", "--json")
    rep = json.loads(out)
    assert code == 1 and rep["holes"] == [-5, -3, -1, 1, 3, 5] and rep["hdc"]["gcd"] == 2


def test_cli_plot_writes_png(nas, tmp_path):
    png = tmp_path / "grid.png"
    code, out, _ = nas("hdc", "1,2,9", "--plot", str(png))
    assert code == 1 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_suggest(nas):
    code, out, _ = nas(
        "hdc", "suggest", "--layers", "3", "--kernel", "3", "--max-rate", "9", "--top", "3", "--json"
    )
    rows = json.loads(out)
    assert code == 0 and [r["schedule"] for r in rows] == [[1, 3, 9], [1, 3, 8], [1, 3, 7]]
    code, out, _ = nas("hdc", "suggest", "--layers", "4")
    assert code == 0 and out.splitlines()[2].split()[1] == "1,3,9,20"
    assert out.splitlines()[-1].startswith("note: ") and "largest rate allowed, 20: their field is set" in out
    code, out, _ = nas("hdc", "suggest", "--layers", "6")
    capped = sum(line.split()[1].endswith(",20") for line in out.splitlines()[2:12])
    assert capped == 10 and out.splitlines()[-1].startswith("note: 10 of these 10 schedules end at")
    code, out, _ = nas("hdc", "suggest", "--layers", "3", "--max-rate", "20", "--top", "4")
    assert code == 0 and "note:" not in out  # 1,3,9 is the widest: the cap does not bind


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["1,x,5"], "SCHEDULE"),
        (["1,0,5"], "rate 0 at position 2"),
        (["1,2,5", "--kernel", "4"], "--kernel: expected an odd integer >= 1"),
        (["1,2,5", "--kernel", "0"], "--kernel"),
        (["1,2,5", "--layers", "3"], "--layers"),
        (["suggest"], "--layers"),
        (["suggest", "--layers", "0"], "--layers"),
        (["suggest", "--layers", "3", "--kernel", "1"], "--kernel"),
        (["suggest", "--layers", "3", "--plot", "x.png"], "--plot"),
        (["suggest", "--layers", "300"], "--layers: expected an integer in [1, 200], got 300"),
        (["suggest", "--layers", "3", "--max-rate", "0"], "--max-rate: expected an integer >= 1"),
        (["suggest", "--layers", "3", "--top", "0"], "--top: expected an integer >= 1, got 0"),
        (["999999999"], "SCHEDULE: receptive field 1999999999 px wide exceeds"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(nas, argv, needle):
    code, out, err = nas("hdc", *argv)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1

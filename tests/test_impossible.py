"""A catalogue of requests that would otherwise wait in silence: constraints no model of a space
can meet, refused within seconds (the stem alone over an upper bound at once, a bound no draw
meets after a few thousand draws), and `nas build --check` of a spec too large to measure. Each
case runs `nas` in-process and must exit 2 with one line naming the bound or the limit."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import spaces
from spaces import base
from tests.test_bad_inputs import SPEC, refused

SMALL = ["--input", "3,8,8", "--classes", "10", "-n", "3"]
QUICKSTART = str(Path(__file__).parent.parent / "experiments" / "quickstart.yaml")

STEM_BOUNDS = {
    "flops-under-the-stem": (["--flops", ",100"], "has flops 13,824, above the bound 100"),
    "params-under-the-stem": (["--params", ",10"], "has params 928, above the bound 10"),
}
DRAWN_BOUNDS = {
    "flops-over-any-model": (["--flops", "1e15,"], "flops below 1e+15"),
    "params-over-any-model": (["--params", "1e13,"], "params below 1e+13"),
}


@pytest.mark.parametrize("space", spaces.names())
@pytest.mark.parametrize("flags, message", STEM_BOUNDS.values(), ids=STEM_BOUNDS.keys())
def test_a_bound_below_the_stem_is_refused_before_any_draw(capsys, monkeypatch, space, flags, message):
    monkeypatch.setattr(base, "draw_one", lambda *a: pytest.fail("drew a spec although no model can fit"))
    line = refused(["sample", space, *SMALL, *flags], capsys, f"space '{space}'", "the stem alone", message)
    assert "raise the bound or take a cheaper stem or input" in line


@pytest.mark.parametrize("space", spaces.names())
@pytest.mark.parametrize("flags, message", DRAWN_BOUNDS.values(), ids=DRAWN_BOUNDS.keys())
def test_a_bound_no_draw_meets_is_refused_after_hopeless_draws(capsys, monkeypatch, space, flags, message):
    monkeypatch.setattr(base, "HOPELESS", 60)
    line = refused(["sample", space, *SMALL, *flags], capsys, f"space '{space}'", message)
    assert "only 0 of 3 samples satisfy the constraints after 60 draws (so under 5.00% of the space" in line


@pytest.mark.parametrize("mode", ["sample", "optimize"])
@pytest.mark.parametrize(
    "bound, message",
    [
        ("constraints.flops=[null, 100]", "has flops 9,216, above the bound 100"),
        ("constraints.params=[null, 5]", "has params 176, above the bound 5"),
    ],
    ids=["flops", "params"],
)
def test_the_quickstart_with_an_impossible_bound_is_refused_in_seconds(
    tmp_path, capsys, mode, bound, message
):
    start = time.perf_counter()
    argv = ["sweep", QUICKSTART, "--set", bound, "--set", f"search.mode={mode}", "--out", str(tmp_path / "o")]
    refused(argv, capsys, "quickstart.yaml: constraints: space 'anynet_x_a'", message)
    assert time.perf_counter() - start < 60  # it drew 480,000 specs for 8 minutes before
    assert not (tmp_path / "o" / "anynet_x_a").exists()


def test_a_dry_run_stops_after_hopeless_draws_with_the_default_bound(capsys):
    start = time.perf_counter()
    argv = ["sweep", QUICKSTART, "--dry-run", "--set", "constraints.flops=[1.0e+15, null]"]
    line = refused(argv, capsys, "after 5000 draws (so under 0.06% of the space does, at 95% confidence)")
    assert "flops below 1e+15: 5000 draws" in line and time.perf_counter() - start < 120


def _spec_file(tmp_path: Path, stages: list[dict]) -> str:
    path = tmp_path / "big.json"
    path.write_text(json.dumps({**SPEC, "stages": stages}))
    return str(path)


STAGE = SPEC["stages"][0]
TOO_BIG = {
    "one-deep-stage": [{**STAGE, "stride": 1, "depth": 10_000}],
    "many-stages": [{**STAGE, "stride": 1}] * 2_001,
    "just-over": [{**STAGE, "stride": 1, "depth": 1_000}, {**STAGE, "stride": 1, "depth": 1_001}],
}


@pytest.mark.parametrize("stages", TOO_BIG.values(), ids=TOO_BIG.keys())
def test_build_check_of_a_huge_spec_is_refused_at_once(tmp_path, capsys, stages):
    start = time.perf_counter()
    blocks = f"{sum(s['depth'] for s in stages):,} blocks"
    path = _spec_file(tmp_path, stages)
    refused(["build", path, "--check"], capsys, path, blocks, "it measures at most 2,000")
    assert time.perf_counter() - start < 30


def test_build_check_of_a_large_spec_says_what_it_does_first(tmp_path, capsys):
    path = _spec_file(tmp_path, [{**STAGE, "stride": 1, "depth": 101}])
    from nas.cli import main

    assert main(["build", path, "--check"]) == 0
    out = capsys.readouterr().out
    assert "building and measuring 101 blocks with PyTorch" in out and "(equal)" in out

"""The 2019 paper's design spaces (Vanilla, ResNet, ResNeXt-A/B): Table 1's ranges, its
uniform-per-stage law against an independent sampler, exact complexity, Optuna and replay."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from scipy.stats import chi2_contingency

import spaces
from blocks.complexity import complexity
from blocks.errors import UserError
from blocks.spec import StemSpec
from nas.cli import main
from spaces.base import draw_one
from spaces.draw import OptunaDraw, Reject, ReplayDraw
from tests.cxcheck import assert_matches, one_stage_spec

CIFAR = spaces.Context((3, 32, 32), 10, StemSpec("simple", 16, {"stride": 1}))
SMALL = spaces.Context((3, 16, 16), 10, StemSpec("simple", 16, {"stride": 1}))

# Table 1 of Radosavovic et al. 2019 as (a, b, n): n values from a to b; written out here,
# independently of spaces/nds.py
TABLE = {
    "nds_vanilla": {"d": (1, 24, 9), "w": (16, 256, 12)},
    "nds_resnet": {"d": (1, 24, 9), "w": (16, 256, 12)},
    "nds_resnext_a": {"d": (1, 16, 5), "w": (16, 256, 5), "b": (1, 4, 3), "g": (1, 4, 3)},
    "nds_resnext_b": {"d": (1, 16, 5), "w": (64, 1024, 5), "b": (1, 4, 3), "g": (1, 16, 5)},
}
BLOCK = {"nds_vanilla": "vanilla", "nds_resnet": "res_basic"}
OPTION = {"d": "depths", "w": "widths", "b": "bottleneck_ratios", "g": "groups"}
NAMES = sorted(TABLE)


def grids(name: str) -> dict[str, list]:
    """The space's default grid of every quantity, keyed d/w/b/g."""
    opts = spaces.get(name).resolve({})
    return {q: sorted(opts[OPTION[q]]) for q in TABLE[name]}


@pytest.mark.parametrize("name", NAMES)
def test_grids_are_table_1(name):
    for q, (a, b, n) in TABLE[name].items():
        grid = grids(name)[q]
        assert (grid[0], grid[-1], len(set(grid))) == (a, b, n), q
        if n <= 5:  # five or three values evenly spaced in log space are powers of two
            np.testing.assert_allclose(grid, np.geomspace(a, b, n))


@pytest.mark.parametrize("name", NAMES)
def test_samples_lie_in_table_1(name):
    for s in spaces.sample(spaces.get(name), 60, 1, ctx=CIFAR):
        assert [st.stride for st in s.spec.stages] == [1, 2, 2]
        for i, st in enumerate(s.spec.stages, 1):
            v = s.values
            assert (st.depth, st.width) == (v[f"d{i}"], v[f"w{i}"])
            assert st.depth in grids(name)["d"] and st.width in grids(name)["w"]
            if name in BLOCK:
                assert st.block == BLOCK[name] and st.params == {}
            else:  # g_i groups of (w_i / b_i) channels: the block gets the group width
                assert st.block == "res_bottleneck_x" and v[f"b{i}"] in grids(name)["b"]
                assert st.params["group_width"] * v[f"g{i}"] == st.width / v[f"b{i}"]


def product_sampler(name: str, n: int, seed: int) -> list[dict[str, float]]:
    """Independent reference: one index into the whole product of the per-stage grids (every
    model equally likely, Table 1's (dw)^3 or (dwbg)^3 count), decoded into named values."""
    per_stage = list(TABLE[name])
    cells = [(f"{q}{i}", grids(name)[q]) for i in (1, 2, 3) for q in per_stage]
    sizes = [len(g) for _, g in cells]
    rng = np.random.default_rng(seed)
    out = []
    for k in rng.integers(0, int(np.prod(sizes)), size=n):
        row = {}
        for key, grid in reversed(cells):
            k, j = divmod(int(k), len(grid))
            row[key] = grid[j]
        out.append(row)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_law_is_uniform_per_stage_and_independent(name):
    """Chi-square homogeneity tests of the space's draws against the product sampler: every
    per-stage marginal, and the joint (d1, d2) and (d1, w1) tables for independence. Fixed
    seeds; each test at alpha = 0.01 / (number of tests) (Bonferroni, family level 1%)."""
    n = 2000
    ours = [s.values for s in spaces.sample(spaces.get(name), n, 7, ctx=SMALL)]
    ref = product_sampler(name, n, 8)
    keys = [(k,) for k in ref[0]] + [("d1", "d2"), ("d1", "w1")]
    alpha = 0.01 / len(keys)
    for key in keys:
        cells = sorted({tuple(r[k] for k in key) for r in ours + ref})
        table = [[sum(tuple(r[k] for k in key) == c for r in rows) for c in cells] for rows in (ours, ref)]
        p = chi2_contingency(table).pvalue
        assert p > alpha, f"{name} {key}: p = {p:.2e}"


@pytest.mark.parametrize("name", NAMES)
def test_sampled_complexity_equals_pytorch(name):
    for s in spaces.sample(spaces.get(name), 2, 3, ctx=SMALL, limits=spaces.Limits(flops=(None, 1e7))):
        assert_matches(s.spec)


def test_vanilla_is_the_basic_block_without_its_shortcut():
    for stride, w_in in ((1, 16), (2, 16), (1, 8)):
        plain = complexity(one_stage_spec("vanilla", w_in, 16, stride, 2, 16, {}))
        res = complexity(one_stage_spec("res_basic", w_in, 16, stride, 2, 16, {}))
        shortcut = 0 if (w_in, stride) == (16, 1) else w_in * 16 + 2 * 16
        assert res.params - plain.params == shortcut


@pytest.mark.parametrize("name", NAMES)
def test_replay_and_optuna_rebuild_the_same_spec(name):
    space = spaces.get(name)
    opts = space.resolve({})
    for s in spaces.sample(space, 5, 11, ctx=CIFAR):
        assert space.define(ReplayDraw(s.values), opts, CIFAR).model_id == s.spec.model_id
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(5):
        trial = study.ask()
        s = draw_one(space, OptunaDraw(trial), opts, CIFAR, spaces.Limits())
        assert set(trial.params) == set(s.values)
        assert space.define(ReplayDraw(trial.params), opts, CIFAR).model_id == s.spec.model_id
        study.tell(trial, 1.0)


def test_groups_that_do_not_divide_the_inner_width_are_rejected():
    opts = {"widths": [24], "bottleneck_ratios": [4.0], "groups": [4]}  # w / b = 6 channels
    with pytest.raises(UserError, match="g_i does not divide w_i / b_i"):
        spaces.sample(spaces.get("nds_resnext_a"), 1, 0, ctx=SMALL, options=opts, max_draws=5)
    space = spaces.get("nds_resnext_a")
    with pytest.raises(Reject):
        space.define(ReplayDraw({"d1": 1, "w1": 24, "b1": 4.0, "g1": 4}), space.resolve(opts), SMALL)


@pytest.mark.parametrize("name", ["nds_vanilla", "nds_resnet", "nds_resnext_a", "nds_resnext_b"])
def test_nas_spaces_says_the_grids_are_recalled_where_it_prints_them(name, capsys):
    assert main(["spaces", name]) == 0
    out = capsys.readouterr().out
    assert "(Table 1 as recalled: 1," in out and "Table 1: " not in out
    assert out.rstrip().splitlines()[-1].startswith("  caveat: the grids are Table 1 as recalled")

"""The exploration loop on the synthetic trainer (no training): the trainer's planted law by hand,
its sampler against the AnyNet laws, the path it takes, replay of recorded steps after a crash,
budget, kinds, and the harmful-acceptance rate at the margin (seeded Monte Carlo)."""

import json
import math

import numpy as np
import pytest

from blocks.errors import ParamError
from nas.exploring import synthetic
from nas.exploring.candidates import Candidate, variant
from nas.exploring.path import BUDGET, NO_CANDIDATE, Settings, Step, explore, label
from nas.stats import noninferiority as ni
from spaces import get


def test_truth_hand_computed():
    v = {"d": np.array([[1, 9, 10, 2]]), "w": np.array([[64, 32, 32, 128]])}
    # 40 - 3 log10(1000) + 1.5 (one width drop) + 0.5 * (1 + 2) (blocks beyond 8)
    got = synthetic.Truth(noise=0.0).errors(v, np.array([1000.0]), np.random.default_rng(0))
    assert got.tolist() == [pytest.approx(34.0)]
    ordered = {"d": np.array([[1, 2, 2, 3]]), "w": np.array([[8, 8, 16, 16]])}
    truth = synthetic.Truth(noise=0.0, ordered_depths=2.0)
    assert truth.errors(ordered, np.array([10.0]), np.random.default_rng(0)).tolist() == [pytest.approx(39.0)]


def test_flops_hand_computed():
    v = {k: np.array([x]) for k, x in {"d": [1, 2], "w": [8, 16], "b": [1, 2], "g": [1, 4]}.items()}
    # 4x4 map: 1 * (2 * 64 + 9 * 8) * 16 = 3200; 2x2 map: 2 * (2 * 256 / 2 + 9 * 8 * 4) * 4 = 4352
    assert synthetic.flops(v, resolution=8).tolist() == [7552.0]


@pytest.mark.parametrize("letter", "abcde")
def test_draw_follows_the_space(letter):
    space = f"anynet_x_{letter}"
    opt = get(space).resolve({"max_width": 256})
    v = synthetic.draw(space, opt, 4000, np.random.default_rng(1))
    d, w, b, g = v["d"], v["w"], v["b"], v["g"]
    assert d.shape == (4000, 4) and d.min() == 1 and d.max() == 16
    assert w.min() >= 8 and w.max() == 256 and not np.any(w % 8)
    assert np.all(np.diff(w, axis=1) >= 0) == (letter in "de")
    assert np.all(np.diff(d, axis=1) >= 0) == (letter == "e")
    assert np.all(b == b[:, :1]) == (letter != "a") and np.all(g == g[:, :1]) == (letter in "cde")
    if letter == "a":  # pycls' log-uniform on (0.5, 16] rounded up: P(d = 1) = log 2 / log 32 = 0.2
        assert np.mean(d == 1) == pytest.approx(0.2, abs=0.01)
        assert set(np.unique(g)) == {1, 2, 4, 8, 16, 32}


def test_params_carry_the_runs_names():
    opt = get("anynet_x_c").resolve({})
    v = synthetic.draw("anynet_x_c", opt, 3, np.random.default_rng(0))
    assert sorted(synthetic.params("anynet_x_c", v)) == [
        "b",
        "d1",
        "d2",
        "d3",
        "d4",
        "g",
        "w1",
        "w2",
        "w3",
        "w4",
    ]
    assert len(synthetic.params("anynet_x_a", v)) == 16
    assert variant("anynet_y_d") == "d" and variant("regnet_x") == ""


def _recorder(sink: list):
    """A record callback that keeps each step as a JSON round trip, as the exploration folder does."""
    return lambda step: sink.append(Step.from_dict(json.loads(json.dumps(step.to_dict()))))


SETTINGS = Settings(models=500, steps=8, seed=1)


def test_path_on_planted_truth():
    calls = []
    run = synthetic.runner(synthetic.Truth())

    def counting(lab, cand, n, seed):
        calls.append(lab)
        return run(lab, cand, n, seed)

    path = explore(Candidate("anynet_x_a", {}), counting, SETTINGS)
    accepted = [s.chosen for s in path if s.chosen]
    letters = [variant(c.space) for c in accepted]
    assert letters == sorted(letters) and letters[-1] in "de"  # walked the chain up to ordered widths
    for s in path:
        level = ni.step_level(0.05, 8)
        passed = ni.holm([t["test"]["p"] for t in s.tests], level)
        assert [t["passed"] for t in s.tests] == passed
        assert s.models == (1 + len(s.tests)) * 500 if s.tests else s.models == 0
        if s.chosen:  # the best pi among the passing
            best = max(t["test"]["pi"] for t in s.tests if t["passed"])
            assert s.tests[s.accepted]["test"]["pi"] == best
    assert len(calls) == 1 + sum(1 + len(s.tests) for s in path if s.tests)
    assert calls[:2] == ["start", label(1, 0)]


def test_a_crash_resumes_at_its_step():
    run = synthetic.runner(synthetic.Truth())
    whole = explore(Candidate("anynet_x_a", {}), run, SETTINGS)
    assert len(whole) >= 3
    kept, calls = [], []

    def crashing(lab, cand, n, seed):
        if lab.startswith("step3-"):
            raise RuntimeError("killed")
        return run(lab, cand, n, seed)

    with pytest.raises(RuntimeError, match="killed"):
        explore(Candidate("anynet_x_a", {}), crashing, SETTINGS, record=_recorder(kept))
    assert [s.index for s in kept] == [1, 2]

    def counting(lab, cand, n, seed):
        calls.append(lab)
        return run(lab, cand, n, seed)

    resumed = explore(Candidate("anynet_x_a", {}), counting, SETTINGS, recorded=kept)
    assert [s.to_dict() for s in resumed] == [s.to_dict() for s in whole]
    # steps 1 and 2 as recorded: only the start and their accepted rounds are read again
    assert calls[:3] == ["start", f"step1-c{kept[0].accepted + 1}", f"step2-c{kept[1].accepted + 1}"]
    assert calls[3] == "step3-parent"


def test_budget_and_kinds():
    run = synthetic.runner(synthetic.Truth())
    short = explore(Candidate("anynet_x_a", {}), run, Settings(models=300, budget=600, seed=5))
    assert [(s.index, s.stop, s.models) for s in short] == [(1, BUDGET, 0)]
    only = explore(
        Candidate("anynet_x_a", {}), run, Settings(models=300, kinds=("shared_b", "shared_g"), seed=5)
    )
    assert {t["candidate"]["kind"] for s in only for t in s.tests} <= {"shared_b", "shared_g"}
    assert all(len(s.tests) <= 1 for s in only)
    done = explore(Candidate("anynet_x_e", {}), run, Settings(models=300, kinds=("nondecreasing_depths",)))
    assert [(s.index, s.stop) for s in done] == [(1, NO_CANDIDATE)]


def test_harmful_constraint_accepted_at_most_at_the_level():
    # E worse than D by the margin at 100 models a side (synthetic.true_pi: 0.398 with penalty 1.4),
    # one step with E its only candidate: the whole level on one test, the hardest case
    truth, start, runs = synthetic.Truth(ordered_depths=1.4), Candidate("anynet_x_d", {"max_depth": 8}), 200
    settings = Settings(models=100, steps=1, kinds=("nondecreasing_depths",))
    hits = 0
    for r in range(runs):
        path = synthetic.simulate(start, truth, Settings(**{**settings.__dict__, "seed": 1000 * r}))
        hits += path[0].accepted is not None
    assert hits / runs <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / runs)


def test_settings_refusals():
    with pytest.raises(ParamError, match=r"explore.kinds: unknown kind 'linear'; legal: \['narrow'"):
        Settings(kinds=("linear",))
    with pytest.raises(ParamError, match="models: 2 is illegal; legal: a whole number >= 4"):
        Settings(models=2)
    with pytest.raises(ParamError, match=r"budget: 50 is illegal; legal: a whole number >= models \(100\)"):
        Settings(budget=50)

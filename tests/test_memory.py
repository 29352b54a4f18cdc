"""Memory: the training-memory estimate, planning and `nas build --check` refusing what cannot
fit, a trial over its limit recorded failed while the next one runs, and analysis of a run
whose trials all diverged; memory as a complexity measure the analysis reads."""

import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import spaces
from blocks.complexity import Complexity, complexity
from blocks.errors import UserError
from blocks.spec import from_dict
from nas import config
from nas.cli import main
from nas.sweeping import memory, plan
from tests import synth

# stem conv 3x3 3->8 + BN; one basic block 8->8 stride 2 (two 3x3 convs, 1x1 projection, three BNs);
# a linear head 8->3, on 6x6 images
SPEC = {
    "input_shape": [3, 6, 6],
    "stem": {"type": "simple", "width": 8, "params": {"stride": 1}},
    "stages": [{"block": "res_basic", "depth": 1, "width": 8, "stride": 2}],
    "head": {"num_classes": 3},
}
PARAMS = (3 * 9 * 8 + 16) + (2 * 8 * 9 * 8 + 8 * 8 + 3 * 16) + (8 * 3 + 3)  # 232 + 1,264 + 27
ACTS = 8 * 6 * 6 + 3 * (8 * 3 * 3) + 3  # stem conv, the block's three convs, the head


def test_estimate_equals_the_hand_computation():
    cx = complexity(from_dict(SPEC))
    assert (cx.params, cx.acts) == (PARAMS, ACTS) == (1523, 507)
    # weights, gradients, momentum at 4 bytes; activations x batch 16 x 4 bytes x 5 for backward
    assert memory.estimate(cx, 16) == 4 * (3 * 1523 + 5 * 507 * 16) == 180_516


def test_fits_refuses_a_spec_over_the_budget_with_a_counted_reason():
    exp = config.parse({"space": "regnet_x", "resources": {"memory_gb_per_trial": 1e-6}}, "e.yaml")
    fits = memory.fits(exp)
    assert fits.budget == 1000 and fits.batch_size == 64
    why = fits.violation(Complexity(10, 100, 10))  # 4 * (300 + 5 * 10 * 64) bytes
    assert why.kind == "estimated training memory (bytes, resources.memory_gb_per_trial) above"
    assert (why.limit, why.value) == (1000, 4 * (300 + 3200))
    assert fits.violation(Complexity(10, 10, 0)) is None  # 120 bytes fit
    on_gpu = config.parse({"space": "regnet_x", "resources": {"gpus_per_trial": 1}}, "e.yaml")
    assert memory.fits(on_gpu).violation(Complexity(10, 10**12, 10**12)) is None  # trains in GPU memory


def test_default_budget_shares_the_machine_among_concurrent_trials(monkeypatch):
    monkeypatch.setattr(memory, "machine", lambda: 10 * 10**9)
    res = config.parse({"space": "regnet_x", "resources": {"max_concurrent": 4}}, "e.yaml").resources
    assert memory.per_trial(res) == 2 * 10**9  # 80 % of 10 GB over 4 trials


def test_planning_redraws_specs_over_the_budget():
    exp = config.parse(
        {
            "space": {"name": "regnet_x", "options": synth.REGNET},
            "samples": 8,
            "resources": {"memory_gb_per_trial": 0.006},
        },
        "e.yaml",
    )
    estimates = [memory.estimate(Complexity(**e.complexity), 64) for e in plan.plan_space(exp, 0, synth.CTX)]
    assert len(estimates) == 8 and max(estimates) <= 6_000_000
    unbounded = spaces.sample(spaces.get("regnet_x"), 8, 0, ctx=synth.CTX, options=synth.REGNET)
    assert max(memory.estimate(s.complexity, 64) for s in unbounded) > 6_000_000  # so some were redrawn


def test_sampling_reports_specs_that_never_fit():
    fits = memory.Fits(spaces.Limits(), 1000, 64)
    with pytest.raises(
        UserError,
        match=r"the stem alone .* has estimated training memory \(bytes, resources.memory_gb_per_trial\) [\d,]+, above the bound 1,000",
    ):
        spaces.sample(
            spaces.get("regnet_x"), 1, 0, ctx=synth.CTX, options=synth.REGNET, limits=fits, max_draws=50
        )


def test_huge_samples_are_refused_before_sampling(monkeypatch):
    monkeypatch.setattr(memory, "available", lambda: 10 * 10**9)
    exp = config.parse({"space": "regnet_x", "samples": 200_000}, "e.yaml")
    with pytest.raises(UserError, match="e.yaml: samples: 200,000 x 1 space.* allows 100,000 trials"):
        memory.check_samples(exp)
    memory.check_samples(config.parse({"space": "regnet_x", "samples": 100_000}, "e.yaml"))


def test_build_check_refuses_a_spec_whose_weights_exceed_memory(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(memory, "available", lambda: 4 * (PARAMS + ACTS) - 1)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(SPEC))
    assert main(["build", str(path), "--check"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err
        == f"nas build: error: {path}: 1,523 parameters need 0.0 GB to build and measure; only 0.0 GB is available; not built"
    )


HUNGRY = textwrap.dedent(
    """
    import json, resource, torch
    import nas.sweeping.trial as trial
    from nas.training.config import TrainingConfig
    from nas.records.rows import PlanEntry
    from nas.training.datasets import synthetic

    def hungry(*args, **kwargs):  # a model whose memory grows step by step
        held = []
        while True:
            held.append(torch.ones(2**23))  # 32 MB a step

    spec = json.loads(SPEC)
    setup = trial.TrialSetup("e", TrainingConfig(epochs=1, batch_size=16), 1, ("error",), {}, 200_000_000)
    data = synthetic(num_samples=64, size=6, num_classes=3)
    before = resource.getrlimit(resource.RLIMIT_DATA)
    real, trial.train = trial.train, hungry
    first = trial.run_trial(PlanEntry(0, "s", 0, "m", spec, {}, {}), data, setup, lambda m: None)
    trial.train = real
    second = trial.run_trial(PlanEntry(1, "s", 1, "m", spec, {}, {}), data, setup, lambda m: None)
    same = resource.getrlimit(resource.RLIMIT_DATA) == before
    print(json.dumps([first.status, first.reason, second.status, same]))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_DATA is enforced on Linux")
def test_trial_over_its_limit_is_failed_and_the_next_one_runs():
    # its own process: the limit is process-wide, and must not touch the test runner
    code = f"SPEC = {json.dumps(json.dumps(SPEC))}\n{HUNGRY}"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    first, reason, second, same = json.loads(out.stdout.strip().splitlines()[-1])
    assert first == "failed"
    assert reason == "out of memory: over the 0.2 GB limit per trial (resources.memory_gb_per_trial)"
    assert second == "ok" and same  # the limit was put back after each trial


def test_analysis_of_an_all_diverged_run_prints_counts_and_exits_0(tmp_path, capsys):
    synth.write_run(tmp_path, "regnet_x", 6, lambda v, r: 10.0, bad=dict.fromkeys(range(6), "diverged"))
    assert main(["analyze", str(tmp_path), "--bootstrap", "10"]) == 0
    out = capsys.readouterr().out
    assert "6 diverged / 6" in out
    assert "note: regnet_x has no finished models" in out
    assert "no figures or report: no run has finished models" in out
    assert not list(tmp_path.rglob("*.png"))


def test_analysis_of_runs_without_rows_is_one_line(tmp_path, capsys):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "plan.jsonl").write_text("")
    assert main(["analyze", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"nas analyze: error: {tmp_path / 'r'}: no trial rows yet; nothing to analyse"


def test_memory_is_a_complexity_measure_of_every_row(tmp_path):
    """The analysis frame measures each row by the planning estimate at the run's batch size, from
    the row's params and acts, so rows written before the measure existed have it too."""
    from nas.analysis.defaults import MEASURES
    from nas.analysis.frame import MEMORY, load
    from nas.records import store

    cx = {"flops": 10_000, "params": PARAMS, "acts": ACTS}
    rows = [
        {"trial_index": 0, "status": "ok", "error": 3.0, "complexity": cx},
        {"trial_index": 1, "status": "ok", "error": 4.0, "complexity": {"flops": 5}},  # no params, acts
    ]
    for name in ("batch16", "old"):
        (tmp_path / name).mkdir()
        for r in rows:
            store.append(tmp_path / name / store.TRIALS, r)
    (tmp_path / "batch16" / store.EXPERIMENT).write_text("training: {batch_size: 16}\n")
    got = load(tmp_path / "batch16").complexity[MEMORY]
    assert got[0] == 180_516 and math.isnan(got[1])  # the hand computation above, at batch 16
    assert memory.training_bytes(PARAMS, ACTS, 64) == 4 * (3 * 1523 + 5 * 507 * 64) == 667_236
    # no experiment recorded, so no batch size: the memory is unknown, not guessed
    assert np.isnan(load(tmp_path / "old").complexity[MEMORY]).all()
    assert MEMORY in MEASURES

"""Packing trials onto GPUs: the rule for how many share one (resources.pack_gpus), the refusal
of requests no node can grant, and Ray placing packed trials on one declared GPU at once."""

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blocks.errors import UserError
from nas import config as cfgmod
from nas.records import store
from nas.records.rows import PlanEntry
from nas.sweeping import driver, memory, resources
from nas.sweeping.plan import SampleRun, SearchRun
from nas.training.datasets import synthetic
from tests.synth import one_space_experiment

GB = memory.GB


@given(
    need=st.integers(1, 200_000_000_000),
    gpu=st.integers(1_000_000_000, 200_000_000_000),
    cpus_per_gpu=st.floats(0.5, 64),
    cpus=st.floats(0.01, 16),
)
def test_packed_trials_fit_the_gpus_memory_and_the_cpus_per_gpu(need, gpu, cpus_per_gpu, cpus):
    k = memory.trials_per_gpu(need, gpu, cpus_per_gpu, cpus)
    assert k >= 1
    if k > 1:  # only the floor of one trial may break a bound
        assert k * need <= memory.GPU_SHARE * gpu and k * cpus <= cpus_per_gpu
    assert memory.trials_per_gpu(2 * need, gpu, cpus_per_gpu, cpus) <= k  # a larger model: fewer


def test_trials_per_gpu_worked_example():
    # 1.5 GB a trial on an 80 GB GPU: 42 fit its memory; 16 CPUs per GPU at 2 a trial allow 8
    assert memory.trials_per_gpu(int(1.5 * GB), 80 * GB, 16, 2) == 8
    assert memory.trials_per_gpu(int(30 * GB), 80 * GB, 16, 2) == 2
    assert memory.trials_per_gpu(int(90 * GB), 80 * GB, 16, 2) == 1


def test_gpu_need_is_the_largest_entrys_estimate_plus_context_and_data():
    small, large = {"flops": 1, "params": 1000, "acts": 10_000}, {"flops": 2, "params": 5000, "acts": 90_000}
    need = memory.gpu_need([small, large], 64, 1_000_000)
    assert need == memory.BYTES * (3 * 5000 + 5 * 90_000 * 64) + memory.CUDA_CONTEXT + 1_000_000
    data = synthetic(num_samples=100, size=8)
    assert memory.resident(data) >= 100 * 3 * 8 * 8  # a byte or more a pixel, whatever the storage


def _experiment(tmp_path, samples=2, **resources):
    return one_space_experiment(tmp_path, "pack", samples, 2, 1500, resources)


def _run(tmp_path, params):
    entry = PlanEntry(0, "anynet_x_c", 0, "m", {}, {}, {"flops": 1, "params": params, "acts": 1000})
    return SampleRun("anynet_x_c", tmp_path, [entry], [0])


def test_pack_gpus_asks_one_kth_of_a_gpu_and_says_so(tmp_path, capsys):
    exp = cfgmod.load(_experiment(tmp_path, pack_gpus=True))
    node = {"CPU": 8.0, "GPU": 2.0, "memory": 64 * GB}
    data = synthetic(num_samples=100, size=8)
    packed = resources.packed(exp, [_run(tmp_path, 1000)], data, [node], lambda: 80 * GB)
    assert packed.resources.gpus_per_trial == pytest.approx(1 / 4) and not packed.resources.pack_gpus
    assert "packing 4 trial(s) per GPU (gpus_per_trial 0.25)" in capsys.readouterr().out
    huge = resources.packed(exp, [_run(tmp_path, 20_000_000_000)], data, [node], lambda: 80 * GB)
    assert (
        huge.resources.gpus_per_trial == 1.0
    )  # 240 GB of weights: one trial a GPU, CUDA's OOM says the rest
    plain = replace(exp, resources=replace(exp.resources, pack_gpus=False))
    assert resources.packed(plain, [], data, [], pytest.fail) is plain


def test_pack_gpus_without_a_gpu_or_a_plan_is_refused_in_one_line(tmp_path):
    exp = cfgmod.load(_experiment(tmp_path, pack_gpus=True))
    data = synthetic(num_samples=100, size=8)
    with pytest.raises(UserError, match=r"pack.yaml: resources.pack_gpus: no GPU here \(1 node"):
        resources.packed(exp, [_run(tmp_path, 1000)], data, [{"CPU": 8.0, "GPU": 0.0}], pytest.fail)
    with pytest.raises(UserError, match=r"resources.pack_gpus: needs sample mode's planned specs"):
        resources.packed(exp, [SearchRun("s", tmp_path, [0])], data, [{"CPU": 8.0, "GPU": 1.0}], pytest.fail)


def test_memory_no_node_has_is_refused_naming_asked_and_largest(tmp_path):
    exp = cfgmod.load(_experiment(tmp_path, memory_gb_per_trial=100))
    nodes = [{"CPU": 4.0, "memory": 16 * GB}, {"CPU": 4.0, "memory": 32 * GB}]
    with pytest.raises(UserError, match=r"memory_gb_per_trial: 100 asked .* has 32 GB of memory"):
        resources.refuse_unfit(exp, nodes, "cluster's 2 node(s)")
    resources.refuse_unfit(replace(exp, resources=replace(exp.resources, memory_gb_per_trial=30)), nodes, "x")
    gpu = SimpleNamespace(source="x.yaml", resources=replace(exp.resources, gpus_per_trial=0.5))
    with pytest.raises(UserError, match=r"gpus_per_trial: 0.5 asked .* has 0 GPU"):
        resources.refuse_unfit(gpu, nodes, "cluster's 2 node(s)")


@pytest.mark.slow
def test_packed_trials_share_one_declared_gpu_at_once(tmp_path, monkeypatch, capsys):
    ray = pytest.importorskip("ray")
    assert not ray.is_initialized()
    monkeypatch.setattr(
        resources, "cluster_gpu_bytes", lambda: 16 * GB
    )  # the declared GPU has no CUDA behind it
    ray.init(address="local", num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)
    try:
        driver.sweep(str(_experiment(tmp_path, pack_gpus=True)), out=str(tmp_path / "out"))
    finally:
        ray.shutdown()
    assert "packing 2 trial(s) per GPU (gpus_per_trial 0.5)" in capsys.readouterr().out
    rows = store.rows(tmp_path / "out" / "anynet_x_c")
    assert [r["status"] for r in rows] == ["ok", "ok"]
    spans = sorted((r["finished_at"] - r["wall_time"], r["finished_at"]) for r in rows)
    assert spans[1][0] < spans[0][1]  # the second started before the first ended: both on the one GPU


@pytest.mark.slow
def test_gpu_benchmark_quick_runs_on_cpu():
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "gpu_trials.py"), "--quick", "--no-ray"],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        timeout=300,
    ).stdout
    assert "device: no GPU (CPU)" in out and "targets: trial/lean >= 1.0x" in out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("resnet18", "anynetx_e_"))]
    assert len(rows) == 3 and all(float(r[-1].rstrip("x")) > 0 for r in rows)  # lean, trial, ratio each
    # (b) as on a GPU machine without Ray: the same specs by 1 and by 2 processes
    assert "(b) without Ray: 2 AnyNetX_E models" in out
    rates = [line.split() for line in out.splitlines() if "models/h" in line]
    assert [r[0] for r in rates] == ["1", "2"] and all(float(r[4]) > 0 for r in rates)

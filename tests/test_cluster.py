"""A real two-node Ray cluster on this machine (a head and a worker node, one CPU each) runs
one sweep across both nodes through `nas sweep --address`."""

import subprocess
import sys

import pytest
import yaml
from ray.cluster_utils import Cluster

from nas.sweeping import store

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster():
    """A head and a worker node started by this test, on ports the system picks free; shutting
    it down ends only the processes it started."""
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        nodes.add_node(num_cpus=1)
        nodes.wait_for_nodes()
        yield nodes.address
    finally:
        nodes.shutdown()


def test_sweep_runs_on_both_nodes(cluster, tmp_path):
    exp = {
        "name": "cluster",
        "space": {
            "name": "anynet_x_c",
            "options": {"stages": 2, "max_depth": 2, "max_width": 24, "strides": [1, 2]},
        },
        "samples": 4,
        "model": {"stem": {"type": "simple", "width": 8, "params": {"stride": 1}}},
        "dataset": {"name": "synthetic", "params": {"num_samples": 800, "size": 8, "num_classes": 3}},
        "training": {"epochs": 3, "batch_size": 32},
        "resources": {"cpus_per_trial": 1, "max_concurrent": 2},
    }
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(exp))
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nas.cli",
            "sweep",
            str(path),
            "--out",
            str(out),
            "--address",
            cluster,
            "--no-analyze",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = store.rows(out / "anynet_x_c")
    assert sorted(r["trial_index"] for r in rows) == [0, 1, 2, 3] and all(r["status"] == "ok" for r in rows)
    assert len({r["node_id"] for r in rows}) == 2  # trials ran on the head and on the worker node


@pytest.fixture
def two_cpu_cluster():
    """A head and a worker node of two CPUs each: room for a trial and its data-loader worker."""
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
    try:
        nodes.add_node(num_cpus=2)
        nodes.wait_for_nodes()
        yield nodes.address
    finally:
        nodes.shutdown()


def test_a_streamed_image_folder_trains_on_both_nodes(two_cpu_cluster, tmp_path):
    """The folder's paths travel, not its pixels: each node's trials decode the images themselves,
    in a data-loader worker (2 CPUs a trial: 1 worker), from the filesystem both nodes see."""
    import json

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(3):
        (tmp_path / "images" / f"class{c}").mkdir(parents=True)
        for i in range(16):
            pixels = np.full((12 + i % 5, 16, 3), 60 * c, dtype=np.uint8) + rng.integers(
                0, 40, (12 + i % 5, 16, 3)
            )
            Image.fromarray(pixels.astype(np.uint8)).save(tmp_path / "images" / f"class{c}" / f"{i}.png")
    exp = {
        "name": "streamed",
        "space": {
            "name": "anynet_x_c",
            "options": {"stages": 2, "max_depth": 2, "max_width": 24, "strides": [1, 2]},
        },
        "samples": 4,
        "model": {"stem": {"type": "simple", "width": 8, "params": {"stride": 1}}},
        "dataset": {
            "name": "imagefolder",
            "params": {"root": str(tmp_path / "images"), "size": 8, "stream": True, "val_fraction": 0.25},
        },
        "training": {"epochs": 2, "batch_size": 8},
        "resources": {"cpus_per_trial": 2, "max_concurrent": 2},
    }
    path = tmp_path / "streamed.yaml"
    path.write_text(yaml.safe_dump(exp))
    out = tmp_path / "out"
    args = ["sweep", str(path), "--out", str(out), "--address", two_cpu_cluster, "--no-analyze"]
    done = subprocess.run(
        [sys.executable, "-m", "nas.cli", *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = store.rows(out / "anynet_x_c")
    assert sorted(r["trial_index"] for r in rows) == [0, 1, 2, 3] and all(r["status"] == "ok" for r in rows)
    assert len({r["node_id"] for r in rows}) == 2  # both nodes streamed the folder
    record = json.loads((out / "anynet_x_c" / "preprocessing.json").read_text())
    assert record["streamed"] is True and record["input_shape"] == [3, 8, 8]

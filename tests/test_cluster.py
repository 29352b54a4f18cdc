"""A real two-node Ray cluster on this machine (a head and a worker node) runs one sweep across
both nodes through `nas sweep --address`: in-memory data, and a streamed image folder."""

import json
import subprocess
import sys
from contextlib import contextmanager

import numpy as np
import pytest
import yaml
from PIL import Image
from ray.cluster_utils import Cluster

from nas.records import store
from tests.synth import one_space_experiment

pytestmark = pytest.mark.slow


@contextmanager
def _two_nodes(cpus: int):
    """A head and a worker node of `cpus` CPUs each, on ports the system picks free; shutting it
    down ends only the processes it started."""
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": cpus, "include_dashboard": False})
    try:
        nodes.add_node(num_cpus=cpus)
        nodes.wait_for_nodes()
        yield nodes.address
    finally:
        nodes.shutdown()


@pytest.fixture
def cluster():
    with _two_nodes(1) as address:
        yield address


@pytest.fixture
def two_cpu_cluster():
    """Room on each node for a trial and its data-loader worker."""
    with _two_nodes(2) as address:
        yield address


def _sweep_on_both_nodes(address, path, out) -> None:
    """Run the sweep of `path` on the cluster; its four trials end ok, on both nodes."""
    args = ["sweep", str(path), "--out", str(out), "--address", address, "--no-analyze"]
    done = subprocess.run(
        [sys.executable, "-m", "nas.cli", *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = store.rows(out / "anynet_x_c")
    assert sorted(r["trial_index"] for r in rows) == [0, 1, 2, 3] and all(r["status"] == "ok" for r in rows)
    assert len({r["node_id"] for r in rows}) == 2  # trials ran on the head and on the worker node


def test_sweep_runs_on_both_nodes(cluster, tmp_path):
    path = one_space_experiment(tmp_path, "cluster", 4, 3, 800, {"max_concurrent": 2})
    _sweep_on_both_nodes(cluster, path, tmp_path / "out")


def test_a_streamed_image_folder_trains_on_both_nodes(two_cpu_cluster, tmp_path):
    """The folder's paths travel, not its pixels: each node's trials decode the images themselves,
    in a data-loader worker (2 CPUs a trial: 1 worker), from the filesystem both nodes see."""
    rng = np.random.default_rng(0)
    for c in range(3):
        (tmp_path / "images" / f"class{c}").mkdir(parents=True)
        for i in range(16):
            shape = (12 + i % 5, 16, 3)  # heights differ: the crops keep each image's aspect
            pixels = (60 * c + rng.integers(0, 40, shape)).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "images" / f"class{c}" / f"{i}.png")
    path = one_space_experiment(tmp_path, "streamed", 4, 2, 800, {"cpus_per_trial": 2, "max_concurrent": 2})
    exp = yaml.safe_load(path.read_text())
    exp["dataset"] = {
        "name": "imagefolder",
        "params": {"root": str(tmp_path / "images"), "size": 8, "stream": True, "val_fraction": 0.25},
    }
    exp["training"]["batch_size"] = 8
    path.write_text(yaml.safe_dump(exp))
    _sweep_on_both_nodes(two_cpu_cluster, path, tmp_path / "out")
    record = json.loads((tmp_path / "out" / "anynet_x_c" / "preprocessing.json").read_text())
    assert record["streamed"] is True and record["input_shape"] == [3, 8, 8]

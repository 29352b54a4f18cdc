"""benchmarks/harness_scale.py --quick: a local sweep's figures, and the simulated cluster's
driver and worker-node kills leave exactly one row per planned trial."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_the_quick_harness_measures_a_sweep_and_survives_the_cluster_faults(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "harness_scale.py"), "--quick", "--keep", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    figures = next(line for line in lines if line.split()[:1] == ["12"]).split()
    assert len(figures) == 11 and figures[-1].endswith("s") and figures[-3].endswith("GB")
    assert any("killed the driver" in line for line in lines)
    assert any("killed a worker node" in line for line in lines)
    assert lines[-1].endswith("every planned trial exactly one row: yes")

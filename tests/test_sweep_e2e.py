"""End to end through a real local Ray instance: sweep, rows on disk, results, analyze."""

import json

import pytest
import yaml

from nas import store
from nas.cli import main

pytestmark = pytest.mark.slow


def test_tiny_sweep_through_ray_then_analyze(tmp_path, capsys):
    exp = {
        "name": "tiny",
        "spaces": [
            {
                "name": "anynet_x_c",
                "options": {"stages": 2, "max_depth": 2, "max_width": 16, "strides": [1, 2]},
            },
            {
                "name": "regnet_x",
                "options": {"depth": [2, 4], "w0": [8, 16], "wa": [8.0, 16.0], "stages": [1, 4]},
            },
        ],
        "samples": 3,
        "seed": 1,
        "model": {"stem": {"type": "simple", "width": 8, "params": {"stride": 1}}},
        "dataset": {"name": "synthetic", "params": {"num_samples": 96, "size": 6, "num_classes": 3}},
        "training": {"epochs": 2, "batch_size": 32},
        "resources": {"cpus_per_trial": 1, "max_concurrent": 2},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(exp))
    out = tmp_path / "sweep"
    assert main(["sweep", str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "[6/6]" in printed and "EDF figure" in printed

    for space in ("anynet_x_c", "regnet_x"):
        rows = store.rows(out / space)
        plan = store.plan(out / space)
        assert sorted(r["trial_index"] for r in rows) == [0, 1, 2]
        for row in rows:
            entry = plan[row["trial_index"]]
            assert row["status"] == "ok" and row["epochs"] == 2 and len(row["val_errors"]) == 2
            assert row["model_id"] == entry["model_id"] and row["spec"] == entry["spec"]
            assert row["space"] == space and row["seed"] == entry["seed"]
            assert set(row["complexity"]) == {"flops", "params", "acts"}
            assert {"nas", "torch", "ray", "python"} <= set(row["versions"])
            assert 0.0 <= row["error"] <= 100.0 and row["wall_time"] > 0
    assert (out / "edf.png").stat().st_size > 10_000

    assert main(["analyze", str(out), "--json", "--figure", str(tmp_path / "e.png")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["runs"]) == {"anynet_x_c", "regnet_x"} and result["runs"]["regnet_x"]["count"] == 3
    assert len(result["ks"]) == 1 and 0.0 <= result["ks"][0]["ks"] <= 1.0

    assert main(["results", str(out / "regnet_x"), "--csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("space,trial_index,model_id") and len(lines) == 4

    # a second sweep into the same folder is refused; --resume finds nothing left to do
    assert main(["sweep", str(path), "--out", str(out)]) == 2
    assert "already holds runs" in capsys.readouterr().err
    assert main(["sweep", "--resume", str(out), "--no-analyze"]) == 0
    assert "nothing to do" in capsys.readouterr().out

"""End to end through a real local Ray instance: sweep, rows on disk, results, analyze."""

import json

import pytest

from nas.cli import main
from nas.sweeping import store
from tests.synth import tiny_experiment

pytestmark = pytest.mark.slow


def test_tiny_sweep_through_ray_then_analyze(tmp_path, capsys):
    path = tiny_experiment(tmp_path, samples=3, seed=1, epochs=2)
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

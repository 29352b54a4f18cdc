"""End to end through a real local Ray instance: sweep, rows on disk, results, analyze; and a
guided search (Optuna TPE with ASHA) with its Pareto front."""

import json

import pytest
import yaml

from nas.cli import main
from nas.records import store
from nas.records.rows import Status, trial_seed
from nas.sweeping import feed
from tests.synth import tiny_experiment

pytestmark = pytest.mark.slow


def test_tiny_sweep_through_ray_then_analyze(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(feed, "TUNER_TRIALS", 4)  # the 6 trials in two Tuners, as a large sweep runs
    path = tiny_experiment(tmp_path, samples=3, seed=1, epochs=2)
    out = tmp_path / "sweep"
    assert main(["sweep", str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "[6/6]" in printed and "EDF figure" in printed
    tuners = sorted(p.name for p in (out / "_ray").iterdir() if p.is_dir())
    assert len(tuners) == 2 and tuners[1] == f"{tuners[0]}-1"  # sample-STAMP, then sample-STAMP-1

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
    assert (out / "analysis" / "edf.png").stat().st_size > 10_000

    assert main(["analyze", str(out), "--json", "--figure", str(tmp_path / "e.png")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["runs"]) == {"anynet_x_c", "regnet_x"} and result["runs"]["regnet_x"]["count"] == 3
    assert len(result["ks"]) == 1 and 0.0 <= result["ks"][0]["ks"] <= 1.0

    assert main(["results", str(out / "regnet_x"), "--csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("run,space,trial_index,model_id") and len(lines) == 4

    # a second sweep into the same folder is refused; --resume finds nothing left to do
    assert main(["sweep", str(path), "--out", str(out)]) == 2
    assert "already holds runs" in capsys.readouterr().err
    assert main(["sweep", "--resume", str(out), "--no-analyze"]) == 0
    assert "nothing to do" in capsys.readouterr().out


def test_tiny_guided_search_through_ray(tmp_path, capsys):
    raw = yaml.safe_load(tiny_experiment(tmp_path, samples=4, seed=5, epochs=2).read_text())
    raw["spaces"] = raw["spaces"][1:]
    raw["search"] = {
        "mode": "optimize",
        "algorithm": "tpe",
        "scheduler": "asha",
        "objectives": ["error"],
    }
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "search"
    assert main(["sweep", str(path), "--out", str(out), "--no-analyze"]) == 0
    printed = capsys.readouterr().out
    assert "[4/4]" in printed and "regnet_x: best model" in printed and "Pareto front" not in printed
    assert printed.count(f"TensorBoard: tensorboard --logdir {out / '_ray'}") == 1

    rows = store.trial_rows(out / "regnet_x")
    assert sorted(r.entry.trial_index for r in rows) == [0, 1, 2, 3]
    assert {r.entry.seed for r in rows} == {trial_seed(5, i) for i in range(4)}
    trained = [r for r in rows if r.status is not Status.REJECTED]  # a draw may break a rule
    assert trained and all(r.status in (Status.OK, Status.STOPPED) and 1 <= r.epochs <= 2 for r in trained)
    front = json.loads((out / "regnet_x" / "pareto.json").read_text())
    ok = {r.entry.model_id: r for r in rows if r.status is Status.OK}
    ok_errors = [r.error for r in ok.values()]
    assert front["objectives"] == ["error"] and {p["error"] for p in front["front"]} == {min(ok_errors)}
    assert all(ok[p["model_id"]].error == p["error"] for p in front["front"])
    assert main(["sweep", "--resume", str(out), "--no-analyze"]) == 0
    assert "nothing to do" in capsys.readouterr().out

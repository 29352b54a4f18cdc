"""A real small sweep through Ray, then the full analysis report and a refined experiment from it."""

import json

import pytest

import spaces
from nas import config
from nas.cli import main
from nas.records import store
from tests.synth import tiny_experiment

pytestmark = pytest.mark.slow


def test_report_and_refinement_from_a_real_sweep(tmp_path, capsys):
    path = tiny_experiment(tmp_path, samples=6, seed=3, epochs=1)
    out = tmp_path / "sweep"
    assert main(["sweep", str(path), "--out", str(out)]) == 0
    assert "EDF figure" in capsys.readouterr().out

    rep = tmp_path / "report"
    assert main(["analyze", str(out), "--report", str(rep), "--json", "--bootstrap", "200"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["runs"]) == {"anynet_x_c", "regnet_x"}
    for name, run in result["runs"].items():
        ok = sum(1 for r in store.rows(out / name) if r["status"] == "ok")
        assert run["count"] == ok and run["planned"] == 6
        assert run["best"][0]["export"] == f"nas export {out / name} --id {run['best'][0]['model_id']}"
    page = (rep / "index.html").read_text()
    assert "data:image/png;base64," in page and "Best models" in page
    assert {p.name for p in rep.glob("*.csv")} >= {"summary.csv", "ks.csv", "best.csv", "intervals.csv"}

    refined = tmp_path / "refined.yaml"
    assert main(["refine", str(out / "regnet_x"), "--out", str(refined)]) == 2  # 6 models: too few
    assert not refined.exists()
    assert main(["refine", str(out / "regnet_x"), "--out", str(refined), "--force"]) == 0
    assert "warning: intervals" in capsys.readouterr().out
    loaded = config.load(refined)
    (sc,) = loaded.spaces
    options = spaces.get("regnet_x").resolve(sc.options)
    assert 8 <= options["w0"][0] <= options["w0"][1] <= 16
    assert 8.0 <= options["wa"][0] <= options["wa"][1] <= 16.0

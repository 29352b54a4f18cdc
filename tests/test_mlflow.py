"""Optional MLflow logging through Ray's MLflow callback: every trial becomes an MLflow run with
its metrics, in a local SQLite store the test makes."""

from __future__ import annotations

import pytest

from nas.cli import main
from tests.synth import tiny_experiment


@pytest.mark.slow
def test_a_sweep_logs_each_trial_to_a_local_mlflow_store(tmp_path, capsys):
    mlflow = pytest.importorskip("mlflow")
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    path = tiny_experiment(tmp_path, samples=2, seed=0, epochs=2)
    out = tmp_path / "sweep"
    assert main(["sweep", str(path), "--out", str(out), "--no-analyze", "--set", f"mlflow={store}"]) == 0
    assert "MLflow: experiment" in capsys.readouterr().out
    client = mlflow.tracking.MlflowClient(tracking_uri=store)
    (experiment,) = [e for e in client.search_experiments() if e.name != "Default"]
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 4  # two spaces x two samples
    assert all("val_error" in r.data.metrics for r in runs)
    # one per epoch, also of the values Tune is not told as numbers (they travel as JSON)
    for metric in ("val_error", "train_error", "loss", "val_loss"):
        assert len(client.get_metric_history(runs[0].info.run_id, metric)) == 2


def test_mlflow_without_the_package_is_one_line_before_ray(tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "mlflow" else real(n, *a))
    path = tiny_experiment(tmp_path, samples=1, seed=0, epochs=1)
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), "--set", "mlflow=file:///x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "mlflow" in err[0] and "pip install" in err[0]

"""`nas explore` end to end on real training: the digits experiment shrunk to 4 models per round,
one step and one candidate kind, through the CLI (sweeps, Ray, the store, the final file)."""

import csv

import pytest

from nas import config
from nas.cli import main
from nas.exploring.folder import FINAL, ROUNDS, TABLE
from nas.records import store

EXPERIMENT = "experiments/explore_anynetx_a_digits.yaml"
TINY = [
    "explore.models=4",
    "explore.steps=1",
    "explore.budget=0",
    "explore.kinds=[shared_b]",
    "training.epochs=1",
    "training.warmup_epochs=0",
    "resources.samples_per_trial=4",
]


@pytest.mark.slow
def test_explore_digits_tiny(tmp_path, capsys):
    out = tmp_path / "ex"
    args = ["explore", EXPERIMENT, "--out", str(out)]
    assert main([*args, *(a for s in TINY for a in ("--set", s))]) == 0
    printed = capsys.readouterr().out
    assert "exploration path" in printed and "shared_b" in printed
    rounds = sorted(p.name for p in (out / ROUNDS).iterdir() if p.is_dir())
    assert rounds == ["start", "step1-c1", "step1-parent"]
    for name in rounds:  # each round a sweep: 4 trained rows in its run
        (run,) = store.find_runs([str(out / ROUNDS / name)])
        assert len(store.trial_rows(run)) == 4
    with open(out / TABLE) as fh:
        (line,) = list(csv.DictReader(fh))
    assert line["kind"] == "shared_b" and line["models"] == "8"
    final = config.load(out / FINAL)
    assert final.spaces[0].name in ("anynet_x_a", "anynet_x_b") and final.dataset.name == "digits"

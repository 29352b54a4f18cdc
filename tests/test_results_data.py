"""Results as data: CSV tables with LF line ends, a header even when empty and counts as integers;
JSON lines that name their run; whole-number columns that pandas reads as integers; and one order
of the best models shared by `nas analyze` and `nas export --top`."""

import csv
import io
import json

import numpy as np
import pytest

import nas
from nas.analysis.analyze import Settings, analyze
from nas.cli import main
from nas.exporting import select
from nas.records.order import best_first
from tests.synth import write_run


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Two runs whose drawn values differ in name (per-stage g1.. in one, a shared g in the other),
    one failed trial, and every ok model at the same error."""
    out = tmp_path_factory.mktemp("sweep")
    write_run(out, "anynet_x_a", 6, lambda v, rng: 12.5, bad={2: "failed"})
    write_run(out, "anynet_x_e", 5, lambda v, rng: 12.5)
    return out


def test_csv_has_lf_lines_the_trial_timing_and_reads_with_integer_columns(sweep, capsys):
    pandas = pytest.importorskip("pandas")
    assert main(["results", str(sweep), "--csv"]) == 0
    text = capsys.readouterr().out
    assert "\r" not in text and text.count("\n") == 12
    header = text.splitlines()[0].split(",")
    assert {"seed", "train_time", "images_per_sec", "finished_at", "value.g1", "value.g"} <= set(header)
    line = next(csv.DictReader(io.StringIO(text)))
    assert line["train_time"] == "1.0" and line["images_per_sec"] == "1.0" and line["seed"] == "0"
    read = pandas.read_csv(io.StringIO(text), dtype_backend="numpy_nullable")
    frame = nas.results(sweep, frame=True)
    for df in (read, frame):
        assert str(df["value.g1"].dtype) == "Int64" and df["value.g1"].isna().sum() == 5
        assert str(df["flops"].dtype) == "Int64" and str(df["trial_index"].dtype) == "Int64"
    assert pandas.api.types.is_float_dtype(frame["error"])


def test_jsonl_rows_name_their_run(sweep, capsys):
    assert main(["results", str(sweep), "--jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["run"] for r in rows] == ["anynet_x_a"] * 6 + ["anynet_x_e"] * 5


def test_report_tables_have_headers_when_empty_integer_counts_and_lf(sweep, tmp_path):
    pandas = pytest.importorskip("pandas")
    result = analyze([sweep / "anynet_x_e"], report=tmp_path, settings=Settings(bootstrap=20))
    empty = pandas.read_csv(tmp_path / "not_ok.csv")  # no EmptyDataError: the header is there
    assert list(empty.columns) == ["run", "trial_index", "model_id", "status", "reason", "in_edf"]
    assert empty.empty and list(pandas.read_csv(tmp_path / "ks.csv").columns) == ["a", "b", "ks", "p"]
    best = (tmp_path / "best.csv").read_bytes()
    assert b"\r" not in best
    rows = list(csv.DictReader(io.StringIO(best.decode())))
    assert all(r[k].isdigit() for r in rows for k in ("flops", "params", "acts"))
    assert result.to_dict()["runs"]["anynet_x_e"]["best"][0]["flops"] == int(rows[0]["flops"])


def test_analyze_and_export_break_ties_alike(sweep):
    result = analyze([sweep / "anynet_x_a", sweep / "anynet_x_e"], settings=Settings(bootstrap=20))
    for run in ("anynet_x_a", "anynet_x_e"):
        listed = [b["model_id"] for b in result.runs[run].best]
        chosen = [c.model_id for c in select.choose(sweep / run, top=10)]
        assert listed == chosen and len(set(b["error"] for b in result.runs[run].best)) == 1
    flops = [b["flops"] for b in result.runs["anynet_x_a"].best]
    assert flops == sorted(flops)


def test_best_first_orders_by_error_flops_model_id_then_trial_index():
    error = [2.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    flops = [1.0, 5.0, np.nan, 5.0, 3.0, 5.0]
    ids = ["a", "c", "a", "b", "z", "b"]
    index = [0, 1, 2, 9, 4, 5]
    assert best_first(error, flops, ids, index).tolist() == [4, 5, 3, 1, 2, 0]

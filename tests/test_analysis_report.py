"""`nas analyze` end to end on synthetic runs: statuses, JSON, terminal tables, figures, the HTML
report and its CSV tables."""

import csv
import json
import math

import pytest

from nas.analysis.analyze import Settings, analyze
from nas.analysis.report import write_report
from nas.analysis.text import format_report
from nas.cli import main
from tests.synth import write_run

BAD = {3: "failed", 10: "failed", 17: "failed", 20: "diverged", 33: "diverged"}


def regnet_error(v, rng):
    return 5 + ((v["w0"] - 32) / 8) ** 2 + (2 * math.log(v["wa"] / 20)) ** 2 + rng.normal(0, 0.3)


def anynet_error(v, rng):
    return 6 + (64 - v["w3"]) / 8 + rng.normal(0, 0.5)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    write_run(root, "anynet_x_c", 80, anynet_error, seed=1)
    write_run(root, "regnet_x", 120, regnet_error, bad=BAD)
    return root


@pytest.fixture(scope="module")
def result(sweep):
    return analyze([sweep / "anynet_x_c", sweep / "regnet_x"], settings=Settings(resamples=200))


def strict(text):
    def refuse(name):
        raise ValueError(f"non-JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_every_statistic_is_plain_json_and_failed_trials_are_counted(result):
    r = strict(json.dumps(result.to_dict()))
    assert list(r) == ["runs", "ks", "normalization", "settings", "figure", "figures", "report"]
    reg = r["runs"]["regnet_x"]
    assert list(reg) == [
        *("count", "min", "median", "mean", "statuses", "planned", "pending", "dir", "space", "mode"),
        *("excluded", "edf", "search", "pareto", "params", "best", "refine"),
    ]  # the figures' columns (errors, complexity, values, fronts) stay out of the JSON
    assert reg["mode"] == "sample" and reg["count"] == result.runs["regnet_x"].count == 115
    assert reg["count"] == 115 and reg["statuses"] == {"ok": 115, "failed": 3, "diverged": 2}
    assert reg["planned"] == 120 and reg["pending"] == 0
    assert sorted(x["trial_index"] for x in reg["excluded"]) == sorted(BAD)
    assert all(not x["in_edf"] and x["reason"].startswith("synthetic") for x in reg["excluded"])
    edf = reg["edf"]
    assert len(edf["grid"]) == len(edf["F"]) == len(edf["lo"]) == len(edf["hi"])
    assert all(lo <= f + 1e-9 and f <= hi + 1e-9 for f, lo, hi in zip(edf["F"], edf["lo"], edf["hi"]))
    (pair,) = r["ks"]
    assert {"a", "b", "ks", "p", "ks_normalized", "p_normalized", "n_eff_a", "n_eff_b"} <= set(pair)
    assert r["normalization"]["by"] == "flops" and r["normalization"]["kept_bins"] >= 1
    assert "note" not in r["normalization"] and "weights" not in r["normalization"]["runs"]["regnet_x"]
    w0 = next(p for p in reg["params"] if p["name"] == "w0")
    assert w0["source"] == "drawn" and w0["lo"] <= 32 <= w0["hi"]
    assert reg["search"]["k"][0] == 1 and reg["search"]["k"][-1] == 115 and 10 in reg["search"]["k"]
    assert reg["best"][0]["error"] == reg["min"] and reg["best"][0]["export"].startswith("nas export ")
    assert len(reg["best"]) == 10 and {"flops", "params", "acts"} <= set(reg["pareto"])
    assert reg["refine"]["changes"] and reg["refine"]["inside"]["count"] >= 1
    assert set(r["figures"]) >= {"edf", "edf_normalized", "complexity", "search", "trends_regnet_x"}


def test_terminal_tables_and_default_figure_place(result, sweep):
    out = format_report(result)
    assert "regnet_x      115" in out and "3 failed, 2 diverged / 120" in out
    assert "regnet_x #3" in out and "synthetic failed" in out
    assert "KS distance" in out and "expected best of k random models: k=1" in out
    assert f"EDF figure: {sweep / 'anynet_x_c' / 'edf.png'}" in out  # the first run's folder
    assert (sweep / "anynet_x_c" / "trends_regnet_x.png").exists()


def test_html_report_is_self_contained_with_csv_tables(result, tmp_path):
    page = write_report(result, tmp_path).read_text()
    assert page.count("src='data:image/png;base64,") >= 6 and "src='http" not in page
    assert "Kolmogorov-Smirnov" in page and "nas export" in page and "nas refine" in page

    def rows(name):
        with open(tmp_path / f"{name}.csv", newline="") as fh:
            return list(csv.DictReader(fh))

    assert len(rows("not_ok")) == 5 and {r["status"] for r in rows("not_ok")} == {"failed", "diverged"}
    assert len(rows("best")) == 20 and rows("best")[0]["export"].startswith("nas export ")
    assert [r["run"] for r in rows("summary")] == ["anynet_x_c", "regnet_x"]
    assert {"ks", "p"} <= set(rows("ks")[0])
    for name in ("intervals", "trends", "search", "pareto", "refine"):
        assert rows(name), name


def test_cli_failed_as_error_figure_and_report(sweep, tmp_path, capsys):
    fig, rep = tmp_path / "figs" / "e.png", tmp_path / "report"
    args = ["analyze", str(sweep / "regnet_x"), "--json", "--failed-as-error", "100", "--bootstrap", "100"]
    assert main([*args, "--figure", str(fig), "--report", str(rep)]) == 0
    r = strict(capsys.readouterr().out)
    reg = r["runs"]["regnet_x"]
    assert reg["count"] == 120 and all(x["in_edf"] for x in reg["excluded"])
    assert reg["best"][0]["error"] < 100 and r["settings"]["failed_as_error"] == 100
    assert r["figure"] == str(fig) and fig.exists() and (rep / "complexity.png").exists()
    assert r["report"] == str(rep / "index.html") and (rep / "summary.csv").exists()


def test_bad_options_are_one_line_errors(sweep, capsys):
    assert main(["analyze", str(sweep), "--bins", "0"]) == 2
    assert "--bins" in capsys.readouterr().err


def test_runs_with_no_or_one_finished_trial_still_analyse(tmp_path):
    dead = write_run(tmp_path, "regnet_x", 3, regnet_error, bad={0: "failed", 1: "diverged", 2: "stopped"})
    one = write_run(tmp_path, "anynet_x_c", 2, anynet_error, bad={1: "rejected"})
    result = analyze([dead, one], settings=Settings(resamples=20))
    assert result.runs["regnet_x"].count == 0 and result.runs["anynet_x_c"].count == 1
    assert result.ks == [] and list(result.normalization.runs) == ["anynet_x_c"]
    assert "refine needs at least 2" in result.runs["anynet_x_c"].refine.note
    assert result.to_dict()["runs"]["anynet_x_c"]["refine"] == {"note": result.runs["anynet_x_c"].refine.note}
    out = format_report(result)
    assert "1 failed, 1 diverged, 1 stopped / 3" in out and "1 rejected / 2" in out

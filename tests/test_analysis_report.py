"""`nas analyze` end to end on synthetic runs: statuses, JSON, terminal tables, figures, the HTML
report and its CSV tables."""

import csv
import html
import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from blocks.errors import UserError
from nas.analysis.analyze import Settings, analyze, needed
from nas.analysis.report import write_report
from nas.analysis.result import KsPair, Needed
from nas.analysis.text import decision, format_report, needed_text
from nas.cli import main
from nas.records import store
from nas.stats.edf import ks_test
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
    return analyze([sweep / "anynet_x_c", sweep / "regnet_x"], settings=Settings(bootstrap=200), figures=True)


def strict(text):
    def refuse(name):
        raise ValueError(f"non-JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_every_statistic_is_plain_json_and_failed_trials_are_counted(result):
    r = strict(json.dumps(result.to_dict()))
    assert list(r) == [
        "runs",
        "ks",
        "normalization",
        "settings",
        "figure",
        "figures",
        "report",
        "linear_fits",
    ]
    reg = r["runs"]["regnet_x"]
    assert list(reg) == [
        *("count", "min", "median", "mean", "statuses", "planned", "pending", "dir", "space", "mode"),
        *("excluded", "edf", "search", "pareto", "params", "best", "refine", "regimes"),
    ]  # the figures' columns (errors, complexity, values, fronts, stages, ids) stay out of the JSON
    # the width fit, drawn with the figures: every model of each run (fewer than linearfit.MODELS)
    fits = r["linear_fits"]
    assert [len(fits[k]) for k in ("anynet_x_c", "regnet_x")] == [80, 115]
    assert set(fits["regnet_x"][0]) == {"model_id", "error", "w_0", "w_a", "w_m", "e_fit"}
    median = {k: float(np.median([f["e_fit"] for f in v])) for k, v in fits.items()}
    assert median["regnet_x"] == 0.0 < median["anynet_x_c"]  # RegNets follow the law (but for groups)
    assert reg["mode"] == "sample" and reg["count"] == result.runs["regnet_x"].count == 115
    assert reg["count"] == 115 and reg["statuses"] == {"ok": 115, "failed": 3, "diverged": 2}
    assert reg["planned"] == 120 and reg["pending"] == 0
    assert sorted(x["trial_index"] for x in reg["excluded"]) == sorted(BAD)
    assert all(not x["in_edf"] and x["reason"].startswith("synthetic") for x in reg["excluded"])
    edf = reg["edf"]
    assert len(edf["grid"]) == len(edf["F"]) == len(edf["lo"]) == len(edf["hi"])
    assert all(lo <= f + 1e-9 and f <= hi + 1e-9 for f, lo, hi in zip(edf["F"], edf["lo"], edf["hi"]))
    (pair,) = r["ks"]
    assert {"a", "b", "ks", "p", "needed", "ks_normalized", "p_normalized", "n_eff_a", "n_eff_b"} <= set(pair)
    need = pair["needed"]
    assert need["target"] == 0.8 and need["alpha"] == pytest.approx(0.05) and need["resamples"] == 200
    assert need["largest"] == 1150 and need["n"] is not None and need["power"] >= 0.8  # 10 x 115 models
    assert "why" not in need and not edf["few_models"]
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
    need = result.ks[0].needed
    assert (
        "models per space a new comparison needs for the KS test to separate them (p < 0.05 in 80% of 200"
        in out
    )
    assert (
        f"  anynet_x_c vs regnet_x: {need.n:,} models per space (estimated power {need.power:.2f} at KS"
        in out
    )
    assert "fewer than 10" not in out
    assert f"EDF figure: {sweep / 'analysis' / 'edf.png'}" in out  # the sweep folder's analysis/
    assert (sweep / "analysis" / "trends_regnet_x.png").exists()


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
    assert {"ks", "p", "models_needed", "power", "target_power", "largest_n"} <= set(rows("ks")[0])
    assert int(rows("ks")[0]["models_needed"]) == result.ks[0].needed.n
    assert "Models per space the KS test needs" in page and "models per space (estimated power" in page
    for name in ("intervals", "trends", "search", "pareto", "refine"):
        assert rows(name), name


def test_report_reads_compared_decision_figures_then_tables(result, tmp_path):
    page = write_report(result, tmp_path).read_text()
    order = [
        page.index(h) for h in ("What was compared", "Decision", "<h2>Figures", "<h2>Tables", "How these")
    ]
    assert order == sorted(order)
    assert page.index("<img") > page.index("<h2>Figures") and page.index("<table") > page.index("<h2>Tables")
    # the decision: the run of lower normalised median, and the KS verdict at 0.05 from the recorded p
    norm = result.normalization.runs
    best, other = sorted(norm, key=lambda k: norm[k].median)
    p = result.ks[0].p_normalized
    verdict = "tells it apart from" if p < 0.05 else "cannot tell it from"
    sentence = decision(result)
    assert sentence.startswith(
        f"{best} has the lowest median error ({norm[best].median:.2f}%, normalised by flops)"
    )
    assert f"{verdict} {other} ({norm[other].median:.2f}%, KS p {p:.2g}) at significance 0.05." in sentence
    assert html.escape(sentence) in page
    assert "anynet_x_c: 80 models of space anynet_x_c drawn at random (80 planned), from" in page
    assert "regnet_x: 115 models of space regnet_x drawn at random (120 planned, 5 not ok)" in page
    # issue 24's figures: trends per FLOPs regime (these tiny models sit at 97.7KF to 781KF) and e_fit
    assert {"efit", "regimes_regnet_x", "regimes_anynet_x_c"} <= set(result.figures)
    regimes = [x["regime"] for x in result.runs["regnet_x"].regimes]
    assert regimes == ["97.7KF", "195KF", "391KF", "781KF"]
    assert "Trends by FLOPs regime: regnet_x" in page and "Quantised linear fit of the widths" in page


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
    assert main(["analyze", str(sweep), "--power", "1"]) == 2
    assert "--power: expected a power in (0, 1)" in capsys.readouterr().err


def test_runs_with_no_or_one_finished_trial_still_analyse(tmp_path):
    dead = write_run(tmp_path, "regnet_x", 3, regnet_error, bad={0: "failed", 1: "diverged", 2: "stopped"})
    one = write_run(tmp_path, "anynet_x_c", 2, anynet_error, bad={1: "rejected"})
    result = analyze([dead, one], settings=Settings(bootstrap=20))
    assert result.runs["regnet_x"].count == 0 and result.runs["anynet_x_c"].count == 1
    assert result.ks == [] and list(result.normalization.runs) == ["anynet_x_c"]
    assert "refine needs at least 2" in result.runs["anynet_x_c"].refine.note
    assert result.to_dict()["runs"]["anynet_x_c"]["refine"] == {"note": result.runs["anynet_x_c"].refine.note}
    out = format_report(result)
    assert "1 failed, 1 diverged, 1 stopped / 3" in out and "1 rejected / 2" in out


def test_statistics_from_few_models_are_labelled_on_every_surface(sweep, tmp_path, monkeypatch):
    """A run of 6 models beside one of 80: its band, intervals, trend bins and refinement carry
    few_models in the JSON, a note in the text and report, and a mark in the figures."""
    from nas.analysis import figures, plots

    drawn = {}

    def spy(fn):
        def wrapped(*args, **kwargs):
            drawn.setdefault(fn.__name__, []).append((args, kwargs))
            return fn(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(figures.plots, "edf_figure", spy(plots.edf_figure))
    monkeypatch.setattr(figures.plots, "trends_figure", spy(plots.trends_figure))
    small = write_run(tmp_path, "anynet_x_e", 6, anynet_error, seed=3)
    result = analyze(
        [sweep / "anynet_x_c", small], report=tmp_path / "report", settings=Settings(bootstrap=100)
    )
    r = strict(json.dumps(result.to_dict()))["runs"]
    few, many = r["anynet_x_e"], r["anynet_x_c"]
    assert few["edf"]["few_models"] and not many["edf"]["few_models"]
    intervals = [p for p in few["params"] if "lo" in p]
    assert intervals and all(p["few_models"] for p in intervals)
    assert not any(p.get("few_models") for p in many["params"])
    assert all(all(p["trend"]["few_models"]) for p in few["params"] if "trend" in p)
    assert few["refine"]["few_models"] and not many["refine"]["few_models"]
    assert result.normalization.runs["anynet_x_e"].edf.few_models

    out = format_report(result)
    label = "from 6 models (fewer than 10): indicative only"
    assert f"note: anynet_x_e's EDF band, intervals and refinement are {label}" in out
    assert f"95% interval of the best model's value (25% subsamples; {label}):" in out
    assert f"[{label}]" in out and out.count("fewer than 10") == 4  # note, normalised band, intervals, refine

    (edf_call, *_) = drawn["edf_figure"]
    summary6 = {"count": 6, "min": 1.0, "mean": 2.0}
    assert plots.curve_label("anynet_x_e", summary6).endswith("fewer than 10 models: indicative only")
    assert "fewer than" not in plots.curve_label("anynet_x_c", {**summary6, "count": 80})
    assert set(edf_call[0][0]) == {"anynet_x_c", "anynet_x_e"}  # the curves the labels are made for
    trends = {args[0]: args[1] for args, _ in drawn["trends_figure"]}
    panel = next(p for p in trends["anynet_x_e"] if "trend" in p)
    assert plots.panel_title(panel, "w1").endswith("[n < 10]")
    assert figures.refine_title("e", result.runs["anynet_x_e"]).endswith(f"(refined from intervals {label})")
    assert "fewer" not in figures.refine_title("c", result.runs["anynet_x_c"])

    page = (tmp_path / "report" / "index.html").read_text()
    assert f"anynet_x_e: EDF band, intervals and refinement are {label}" in page
    assert f"refined from intervals {label}" in page
    with open(tmp_path / "report" / "intervals.csv", newline="") as fh:
        flags = {(row["run"], row["few_models"]) for row in csv.DictReader(fh) if row["lo"]}
    assert flags == {("anynet_x_e", "True"), ("anynet_x_c", "False")}


def test_identical_runs_cannot_be_separated(result):
    run = result.runs["regnet_x"]
    need = needed(run.errors, run.errors[::-1].copy(), Settings(bootstrap=50))
    pair = KsPair("x", "y", **ks_test(run.errors, run.errors), needed=need)
    assert pair.ks == 0 and need.n is None and need.why == "identical EDFs"
    assert needed_text(pair, {"x": run, "y": run}) == "cannot tell with this data (identical EDFs)"


def test_models_needed_text_names_what_limits_the_estimate(result):
    run = result.runs["regnet_x"]
    few = replace(run, count=6)
    need = Needed(49, 0.83, 0.8, 0.05, 1200, 1000, effect=0.31)
    pair = KsPair("x", "y", 0.4, 0.01, needed=need)
    assert needed_text(pair, {"x": run, "y": few}) == (
        "49 models per space (estimated power 0.83 at KS distance 0.31, the lower bound of the "
        "recorded 0.40); more than the 6 recorded, so it extrapolates their EDFs"
    )
    assert needed_text(pair, {"x": run, "y": run}) == (
        "49 models per space (estimated power 0.83 at KS distance 0.31, the lower bound of the recorded 0.40)"
    )
    assert needed_text(replace(pair, needed=None), {"x": run, "y": run}).startswith("not estimated")


def test_analysis_path_imports_neither_torch_nor_matplotlib(sweep):
    """`nas analyze --json` (refinement included) and `nas results` in a fresh interpreter leave
    torch, matplotlib and scipy.stats unloaded: each costs a second or more, and only figures need
    matplotlib (scipy.stats only KS tests of unequal samples of 1,001 to 10,000 models a side)."""
    code = (
        "import contextlib, io, sys\n"
        "import nas.cli\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    assert nas.cli.main(['analyze', {str(sweep)!r}, '--json', '--bootstrap', '20']) == 0\n"
        f"    assert nas.cli.main(['results', {str(sweep)!r}, '--csv']) == 0\n"
        "assert '\"anynet_x_c\"' in out.getvalue() and '\"changes\"' in out.getvalue()\n"
        "print(sorted(m for m in ('torch', 'matplotlib', 'scipy.stats') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr


def test_json_draws_no_figures_unless_asked(sweep, tmp_path, capsys):
    args = ["analyze", str(sweep / "anynet_x_c"), "--json", "--bootstrap", "20"]
    assert main(args) == 0
    r = strict(capsys.readouterr().out)
    assert r["figure"] is None and r["figures"] == {} and r["runs"]["anynet_x_c"]["count"] == 80
    assert not (sweep / "analysis" / "edf.svg").exists()
    assert main([*args, "--figures", "--format", "svg"]) == 0
    assert strict(capsys.readouterr().out)["figure"] == str(sweep / "analysis" / "edf.svg")
    assert main([*args, "--no-figures", "--report", str(tmp_path / "r")]) == 2
    assert "--no-figures goes with neither" in capsys.readouterr().err
    assert main(["analyze", str(sweep / "anynet_x_c"), "--bootstrap", "20", "--no-figures"]) == 0
    assert "no figures written: ask with --figures" in capsys.readouterr().out


def test_api_writes_figures_only_when_asked_then_draws_them_later(sweep, tmp_path):
    import nas
    from nas.analysis.figures import write

    result = nas.analyze(sweep / "regnet_x", bootstrap=20)
    assert result.figure is None and result.figures == {}
    paths = write(result, folder=tmp_path / "figs", fmt="pdf")
    assert result.figure == tmp_path / "figs" / "edf.pdf" and paths == result.figures
    assert {"edf", "complexity", "search", "trends_regnet_x"} <= set(paths)
    assert all(p.parent == tmp_path / "figs" and p.suffix == ".pdf" and p.exists() for p in paths.values())
    assert set(write(result, tmp_path / "mine.svg")) == {"edf"}  # a named figure: nothing beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figs", "mine.svg"]
    with pytest.raises(UserError, match="figures=False goes with neither figure, format nor report"):
        nas.analyze(sweep / "regnet_x", report=tmp_path / "r", figures=False)
    dead = write_run(tmp_path, "anynet_x_e", 2, anynet_error, bad={0: "failed", 1: "failed"})
    with pytest.raises(UserError, match="no finished models; no figures to draw"):
        write(nas.analyze(dead, bootstrap=20))


def _plain_run(folder: Path, n: int, shift: float) -> Path:
    """A run of n ok rows of one-stage models, errors normal around 30 + shift, written directly."""
    rng = np.random.default_rng(n)
    folder.mkdir(parents=True)
    lines = []
    for i, (d, w, e) in enumerate(
        zip(rng.integers(1, 5, n), rng.integers(1, 9, n) * 8, rng.normal(30 + shift, 3, n))
    ):
        stage = {"block": "res_basic", "depth": int(d), "width": int(w)}
        lines.append(
            json.dumps(
                {
                    "trial_index": i,
                    "space": folder.name,
                    "model_id": f"{folder.name}{i}",
                    "status": "ok",
                    "error": float(e),
                    "complexity": {"flops": int(d * w * w), "params": int(d * w), "acts": int(w)},
                    "values": {"d": int(d), "w": int(w)},
                    "spec": {"stages": [stage]},
                    "epochs": 1,
                    "wall_time": 1.0,
                }
            )
        )
    (folder / store.TRIALS).write_text("\n".join(lines) + "\n")
    (folder / store.PLAN).write_text("\n".join(lines) + "\n")
    return folder


def test_analysis_of_more_than_ten_thousand_models_a_side_imports_no_scipy_or_torch(tmp_path):
    """Beyond 10,000 models a side the KS p-value is scipy's asymptotic one, computed here (kstwo.py)."""
    runs = [_plain_run(tmp_path / "a", 10_001, 0.0), _plain_run(tmp_path / "b", 10_500, 0.05)]
    code = (
        "import contextlib, io, json, sys\n"
        "import nas.cli\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    assert nas.cli.main(['analyze', {str(runs[0])!r}, {str(runs[1])!r}, '--json', '--bootstrap', '20']) == 0\n"
        "ks = json.loads(out.getvalue())['ks'][0]\n"
        "print(ks['ks'], ks['p'])\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'torch', 'matplotlib'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    pair, modules = done.stdout.splitlines()
    assert modules == "[]"
    a, b = (np.array([json.loads(line)["error"] for line in (r / store.TRIALS).open()]) for r in runs)
    ref = stats.ks_2samp(a, b)
    assert 0.01 < ref.pvalue < 0.99  # a p-value of the middle, not one clipped to 0 or 1
    assert [float(x) for x in pair.split()] == pytest.approx([ref.statistic, ref.pvalue], rel=1e-11)

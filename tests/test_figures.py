"""The analysis figures as a reader sees them: integer ticks on integer parameters, plain log
tick labels, six runs in six distinct colours with the legend clear of the curves, every figure
in the format asked for, no panel repeating another, and one folder for `nas analyze` and the
sweep's closing analysis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_hex

from nas.analysis import plots
from nas.analysis.analyze import Settings, analyze, refine_command
from nas.analysis.figures import default_dir
from nas.cli import main
from tests.synth import write_run

SPACES = ("regnet_x", "anynet_x_a", "anynet_x_b", "anynet_x_c", "anynet_x_d", "anynet_x_e")


def error(k: int):
    """A made-up error law for the k-th run: runs apart, w1/w0 near 24 best."""
    return lambda v, rng: 2 + 0.7 * k + abs(np.log(v.get("w0", v.get("w1", 16)) / 24)) + rng.normal(0, 0.3)


@pytest.fixture(scope="module")
def six(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("six")
    return [write_run(root, sp, 24, error(k), seed=k) for k, sp in enumerate(SPACES)]


def rendered(fig):
    fig.canvas.draw()
    return fig


def test_integer_parameter_panel_gets_integer_ticks(tmp_path):
    fig = plots.figure((4, 3), 80)
    ax = fig.subplots()
    x = np.array([1.0, 2.0, 3.0, 4.0, 2.0])
    ax.scatter(x, x)
    plots.integer_ticks(ax.xaxis, x)
    rendered(fig)
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)


@pytest.mark.parametrize("lo, hi", [(1.7, 7.0), (1.0, 40.0), (1e4, 3e7)])
def test_log_tick_labels_are_plain(lo, hi):
    fig = plots.figure((6, 3), 80)
    ax = fig.subplots()
    ax.plot([lo, hi], [0, 1])
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    plots.plain_log(ax.xaxis)
    rendered(fig)
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert len(labels) >= 2, labels
    assert all("10^" not in t and "times" not in t and "$" not in t for t in labels), labels
    assert plots.tick_text(2.0) == "2" and plots.tick_text(2e6) == "2M" and plots.tick_text(5e4) == "50k"


def test_six_runs_get_six_colours_and_a_legend_clear_of_the_curves(tmp_path, monkeypatch):
    kept = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: kept.append(fig) or path)
    rng = np.random.default_rng(0)
    curves = {f"run{i}": rng.normal(3 + i, 0.5, 40) for i in range(6)}
    grid = np.linspace(0, 12, 50)
    plots.edf_figure(curves, tmp_path / "edf.png", bands={k: (grid, grid * 0, grid * 0 + 1) for k in curves})
    fig = rendered(kept[0])
    ax = fig.axes[0]
    assert len({to_hex(line.get_color()) for line in ax.lines}) == 6
    assert not fig.legends[0].get_window_extent().overlaps(ax.get_window_extent())  # off every curve
    assert all(band.get_alpha() <= 0.1 for band in ax.collections)  # six bands stay light


def test_every_figure_in_the_format_asked_for(six, tmp_path):
    for fmt, magic in (("pdf", b"%PDF"), ("svg", b"<?xml")):
        out = tmp_path / fmt
        assert (
            main(["analyze", *map(str, six[:2]), "--report", str(out), "--format", fmt, "--bootstrap", "20"])
            == 0
        )
        made = sorted(out.glob(f"*.{fmt}"))
        assert len(made) >= 6 and not list(out.glob("*.png"))
        assert all(p.read_bytes().startswith(magic) for p in made)
    assert "src='data:image/svg+xml;base64," in (tmp_path / "svg" / "index.html").read_text()


def test_no_panel_repeats_another():
    x = np.arange(20.0)
    near = x.copy()
    near[:3] = 99.0  # equal for 85% of the models (a width rounded to its groups): the same quantity
    stats = [{"name": n} for n in ("w1", "stage1.width", "d1")]
    kept, dropped = plots.distinct(stats, {"w1": x, "stage1.width": near, "d1": x[::-1].copy()})
    assert [s["name"] for s in kept] == ["w1", "d1"] and dropped == {"stage1.width": "w1"}


def test_analyze_and_the_sweep_write_to_one_folder(six):
    result = analyze(six[:2], settings=Settings(bootstrap=20), figures=True)
    assert result.figure == default_dir(six) / "edf.png" == six[0].parent / "analysis" / "edf.png"
    assert set(result.figures.values()) <= set(default_dir(six).iterdir())


def test_suggested_refine_carries_level_and_subsample():
    run = Path("runs/x/regnet_x")
    assert (
        refine_command(run, "regnet_x", 0.25, 0.95)
        == "nas refine runs/x/regnet_x --out regnet_x_refined.yaml"
    )
    assert refine_command(run, "regnet_x", 0.1, 0.5).endswith("--subsample 0.1 --level 0.5")


def test_figure_and_format_that_disagree_are_one_line(six, tmp_path, capsys):
    args = ["analyze", str(six[0]), "--figure", str(tmp_path / "e.png"), "--format", "pdf"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "disagree" in err[0] and not (tmp_path / "e.png").exists()


def test_block_descriptions_are_whole_first_sentences():
    from nas.commands.blocks import first_sentence

    doc = "1x1 expand (skipped when t == 1), depthwise kxk,\n    [SE], 1x1 projection. More detail.\n\nBody."
    assert first_sentence(doc) == "1x1 expand (skipped when t == 1), depthwise kxk, [SE], 1x1 projection."


def test_sequential_figure_keeps_its_axes_inside_and_its_legend_clear(tmp_path, monkeypatch):
    from nas.analysis.result import Sequential

    kept = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: kept.append(fig) or path)
    look = {"n": 6, "statistic": 1.0}  # decided near the top: the annotation goes under the star
    pair = {"a": "x", "b": "y", "looks": [look], "decision": "separated", "better": "x"}
    seq = Sequential("", True, 0.05, 0.05, 1, 2, 6, 12, 19, [6, 12], [1.0, 0.58], [0.33, 0.58], [pair])
    plots.sequential_figure(seq, tmp_path / "sequential.png")
    fig = rendered(kept[0])
    ax = fig.axes[0]
    assert ax.get_position().y0 > 0 and ax.get_position().y1 < 1  # the whole axes is on the figure
    assert not fig.legends[0].get_window_extent().overlaps(ax.get_window_extent())


def test_the_main_edf_title_gives_its_band_level_and_names_guided_runs():
    """A guided search's models are what it chose, not a random sample of the space: its curve
    says so in the title, beside the band's level."""
    from types import SimpleNamespace

    from nas.analysis.figures import edf_title
    from nas.analysis.result import Settings

    def result(level, guided, runs):
        return SimpleNamespace(
            settings=Settings(level=level), guided=lambda: guided, runs=dict.fromkeys(runs)
        )

    assert (
        edf_title(result(0.95, [], ["a", "b"])) == "Error distribution functions (shaded: 95% bootstrap band)"
    )
    assert edf_title(result(0.9, ["a"], ["a"])) == (
        "Errors of guided-search models\n(not random samples of their spaces; shaded: 90% bootstrap band)"
    )
    assert edf_title(result(0.95, ["b"], ["a", "b"])).endswith("\nguided search, not random samples: b")


def test_a_normalised_edf_spans_the_errors_it_weighs_not_the_ones_it_drops(tmp_path, monkeypatch):
    """Models outside the shared complexity bins weigh 0: the x-axis ends at the largest error a
    curve holds (error 50 here weighs nothing), not past it."""
    from nas.analysis import plots

    kept = {}
    monkeypatch.setattr(plots, "_save", lambda fig, path: kept.setdefault("fig", fig) and path)
    errors = np.array([2.0, 3.0, 4.0, 5.0, 50.0])
    plots.edf_figure({"a": errors}, tmp_path / "n.png", weights={"a": np.array([1.0, 1.0, 1.0, 1.0, 0.0])})
    lo, hi = kept["fig"].axes[0].get_xlim()
    assert lo <= 2.0 and 5.0 <= hi < 6.0


@pytest.mark.parametrize(
    "widths", [np.array([8.0, 24, 40, 64, 48]), np.array([16.0, 64, 128, 512, 1024]), np.arange(8, 200, 8.0)]
)
def test_width_ticks_are_multiples_of_8(widths):
    fig = plots.figure((4, 3), 80)
    ax = fig.subplots()
    ax.scatter(widths, widths)
    plots._numeric_axis(ax.xaxis, widths, width=True)
    rendered(fig)
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert len(ticks) >= 3 and all(t % 8 == 0 for t in ticks), ticks
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert all(label.isdigit() for label in labels), labels  # 1024, never 1.024k


def test_trend_panels_group_by_quantity_with_labels():
    names = ["d1", "d2", "w1", "w2", "b", "g", "stage1.width", "total_depth"]
    stats = [{"name": n} for n in names]
    rows = plots.rows_of(stats, cols=4)
    assert [([s["name"] for s in r], shared) for r, shared in rows] == [
        (["d1", "d2"], True),
        (["w1", "w2", "stage1.width"], True),
        (["b", "g", "total_depth"], False),
    ]
    assert plots.axis_label("w3") == "w3 (width of stage 3)"
    assert plots.axis_label("stage2.depth") == "stage2.depth (depth of stage 2)"
    assert plots.axis_label("b") == "b (bottleneck ratio)" and plots.axis_label("xyz") == "xyz"


def test_runs_without_a_batch_size_get_every_figure_but_no_memory_panel(tmp_path, monkeypatch, capsys):
    """Memory is estimated at the run's recorded batch size; runs that record none (hand-written
    rows) still get every figure, the complexity figure without its memory panel."""
    runs = [write_run(tmp_path, sp, 24, error(k), seed=k) for k, sp in enumerate(SPACES[:2])]
    for run in runs:
        (run / "experiment.yaml").unlink()
    kept, save = {}, plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, path: save(kept.setdefault(Path(path).stem, fig), path))
    argv = ["analyze", *map(str, runs), "--report", str(tmp_path / "r"), "--bootstrap", "20"]
    assert main([*argv, "--normalize", "memory"]) == 0
    assert "share no memory range" in capsys.readouterr().out
    labels = [ax.get_xlabel() for ax in kept["complexity"].axes]
    drawn = ("FLOPs, multiply-adds", "parameters", "activations", "seconds per training epoch")
    assert labels == [f"{m} (log scale)" for m in drawn]

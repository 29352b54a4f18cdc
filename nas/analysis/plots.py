"""Figures of the design-space papers: EDFs with bootstrap bands, error against complexity with
the Pareto front, random-search efficiency, and error against every design parameter.

Curves, intervals and trend bins from fewer than `MIN_MODELS` models say so in the legend or
title, and such trend bins are drawn hollow. Runs take distinct colours of a qualitative palette,
legends sit below the axes (never over the curves), bands fade as runs are added, log axes read
"2", "5", "10", "1M" and integer parameters get integer ticks. Scatter plots draw at most `MAX_POINTS` models per
run (the best and the Pareto front always among them) so figures of 100,000-model runs stay
light; statistics always use every model.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from nas.analysis.defaults import LEVEL, SUBSAMPLE
from nas.analysis.result import MIN_MODELS, RunResult, Sequential, few
from nas.analysis.text import short
from nas.outputs import replaceable, wrote
from nas.stats.edf import edf, error_grid, summary

MAX_POINTS = 4000
COLORS = colormaps["tab10"].colors


LEGEND_ROW = 0.19  # inches per legend row below the axes


def dots(n: int) -> dict[str, float]:
    """Marker size and opacity of a scatter of n points: bold when few, faint when many."""
    return {"s": 16.0, "alpha": 0.6} if n <= 500 else {"s": 6.0, "alpha": 0.3}


def color(i: int) -> tuple:
    """The i-th run's colour, the same in every figure."""
    return COLORS[i % len(COLORS)]


def band_alpha(n: int) -> float:
    """Opacity of a bootstrap band among n: lighter as more overlap, so the curves stay readable."""
    return min(0.2, 0.5 / max(n, 1))


def tick_text(v: float, _pos=None) -> str:
    """A log-axis tick as plain text: "2", "50", "0.5", "20k", "1M", "3G", never "2x10^0"."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{v / scale:g}{suffix}"
    return f"{v:g}"


def plain_log(axis) -> None:
    """Plain tick labels on a log axis: every integer (and half, within 3x) multiple within one
    decade, 1, 2 and 5 within two, powers of ten beyond."""
    lo, hi = sorted(axis.get_view_interval())
    span = hi / lo if lo > 0 else np.inf
    subs = (1.0, 2.0, 5.0) if span <= 100 else (1.0,)
    if span <= 10:
        subs = tuple(np.arange(1.0, 10.0, 0.5 if span <= 3 else 1.0))
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(tick_text))
    axis.set_minor_formatter(NullFormatter())


def integer_ticks(axis, values: np.ndarray) -> None:
    """Integer ticks on a linear axis whose values are all integers (no 1.5 stages)."""
    present = values[np.isfinite(values)]
    if len(present) and np.all(present == np.round(present)):
        axis.set_major_locator(MaxNLocator(integer=True))


def legend_rows(n: int, ncol: int) -> float:
    """Inches a legend of n entries in ncol columns takes below the axes."""
    return LEGEND_ROW * -(-n // ncol) + 0.15 if n else 0.0


def legend_below(fig, ax, ncol: int, markerscale: float = 1.0) -> None:
    """The legend of `ax` centred at the figure's foot, outside every axes."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(
            handles, labels, loc="lower center", ncol=ncol, fontsize=8, frameon=False, markerscale=markerscale
        )


def shown(n: int, keep: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices of the points to draw: all when few, else a random subset plus `keep`."""
    if n <= MAX_POINTS:
        return np.arange(n)
    return np.union1d(rng.choice(n, MAX_POINTS, replace=False), keep)


def figure(figsize: tuple[float, float], dpi: int) -> Figure:
    """A figure on its own Agg canvas: no pyplot, no backend switch, nothing global to close."""
    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def margins(fig, left=0.75, right=0.2, top=0.45, bottom=0.6, wspace=0.55, hspace=0.75) -> None:
    """Fixed margins in inches (tight_layout costs a full extra draw, seconds for a big grid)."""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(
        left=left / w, right=1 - right / w, top=1 - top / h, bottom=bottom / h, wspace=wspace, hspace=hspace
    )


def _save(fig, path: Path) -> Path:
    """Write a figure, never through a link nor over a file the tool did not write (outputs.replaceable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(replaceable(path))
    return wrote(path)


def curve_label(name: str, s: dict[str, float]) -> str:
    """An EDF's legend entry: n, min and mean, and a note when it rests on too few models."""
    label = f"{name}  [n={s['count']}, min {s['min']:.2f}, mean {s['mean']:.2f}]"
    return label + (f" fewer than {MIN_MODELS} models: indicative only" if few(s["count"]) else "")


def edf_figure(
    curves: dict[str, np.ndarray],
    path: Path,
    *,
    log: bool = False,
    title: str = "",
    weights: dict[str, np.ndarray] | None = None,
    bands: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
    colors: list[tuple] | None = None,
) -> Path:
    """One EDF per named error array (weighted if given), its bootstrap band shaded, n/min/mean in the legend."""
    ncol = 1 if len(curves) <= 2 else 2
    below = legend_rows(len(curves), ncol)
    fig = figure((7.2 if ncol == 1 else 9.0, 4.4 + below), 120)
    ax = fig.subplots()
    held = [e if (weights or {}).get(k) is None else e[weights[k] > 0] for k, e in curves.items()]
    grid = error_grid([e for e in held if len(e)], log)  # the x-axis spans what the curves weigh
    alpha = band_alpha(len(curves))
    for i, (name, errors) in enumerate(curves.items()):
        w = (weights or {}).get(name)
        keep = np.ones(len(errors), dtype=bool) if w is None else w > 0
        if not keep.any():
            continue
        c = colors[i] if colors else color(i)
        s = summary(errors[keep], None if w is None else w[keep])
        ax.plot(
            grid,
            edf(errors[keep], grid, None if w is None else w[keep]),
            lw=2,
            color=c,
            label=curve_label(name, s),
        )
        if bands and name in bands:
            g, lo, hi = bands[name]
            ax.fill_between(g, lo, hi, color=c, alpha=alpha, lw=0)
    ax.set_xlim(grid[0], grid[-1])
    if log:
        ax.set_xscale("log")
        plain_log(ax.xaxis)
    ax.set_xlabel("error (%)" + (", log scale" if log else ""))
    ax.set_ylabel("cumulative prob." + (" (complexity-normalised)" if weights else ""))
    ax.set_ylim(0, 1.0)
    ax.grid(alpha=0.3, which="both")
    ax.set_title(title or "Error distribution functions (shaded: bootstrap confidence band)", fontsize=11)
    legend_below(fig, ax, ncol)
    margins(fig, bottom=0.6 + below)
    return _save(fig, path)


def sequential_figure(seq: Sequential, path: Path) -> Path:
    """Each pair's KS distance against models per space, the efficacy and futility boundaries as
    step lines, each decision marked, and the fixed design's n as a vertical line."""
    legend_height = legend_rows(len(seq.pairs) + 3, 2)
    fig = figure((7.2, 4.6 + legend_height), 120)
    ax = fig.subplots()
    sizes = np.array(seq.sizes)
    edges = np.append(sizes, sizes[-1] + (sizes[0] if len(sizes) == 1 else sizes[-1] - sizes[-2]) / 2)
    for bound, style, label in (
        (seq.efficacy, {"color": "black"}, "separated at or above"),
        (seq.futility, {"color": "gray", "ls": "--"}, "not separated below"),
    ):
        ax.step(edges, [*bound, bound[-1]], where="post", lw=1.5, label=label, **style)
    for i, p in enumerate(seq.pairs):
        n = [lk["n"] for lk in p["looks"]]
        d = [lk["statistic"] for lk in p["looks"]]
        ax.plot(n, d, marker="o", lw=2, color=color(i), label=f"{p['a']} vs {p['b']}")
        if p["decision"]:
            text = p["decision"] + (f": {p['better']} better" if p["better"] else "")
            ax.plot(n[-1], d[-1], marker="*", ms=16, color=color(i), mec="black")
            below = -14 if d[-1] > 0.9 else 6  # under the star near the top, clear of the title
            ax.annotate(text, (n[-1], d[-1]), xytext=(10, below), textcoords="offset points", fontsize=9)
    right = sizes[-1] * 1.05
    if seq.fixed_n:
        fixed = f"fixed design: {seq.fixed_n} per space"
        ax.axvline(seq.fixed_n, color="tab:red", ls=":", lw=1.5, label=fixed)
        right = max(right, seq.fixed_n * 1.05)
    ax.set_xlim(0, right)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("models per space")
    ax.set_ylabel("KS distance between the error EDFs")
    ax.grid(alpha=0.3)
    per_pair = f", {seq.pair_level:.3g} per pair" if len(seq.pairs) > 1 else ""
    ax.set_title(
        f"Sequential comparison (level {seq.level:g}{per_pair}): {seq.used} of {seq.max_samples} models per space",
        fontsize=10,
    )
    legend_below(fig, ax, 2)
    margins(fig, bottom=0.6 + legend_height)
    return _save(fig, path)


def complexity_figure(runs: Mapping[str, RunResult], path: Path, rng: np.random.Generator) -> Path:
    """Error against flops, params and activations (log x) per run, Pareto fronts as step lines."""
    metrics = [("flops", "FLOPs (multiply-adds)"), ("params", "parameters"), ("acts", "activations")]
    ncol = min(len(runs), 6) or 1
    below = legend_rows(len(runs), ncol)
    fig = figure((15, 4.6 + below), 110)
    axes = fig.subplots(1, 3, sharey=True)
    for i, (label, r) in enumerate(runs.items()):
        for ax, (key, _) in zip(axes, metrics):
            x, e, front = r.complexity[key], r.errors, r.fronts[key]
            pts = shown(len(e), front, rng)
            ax.scatter(x[pts], e[pts], color=color(i), lw=0, label=label, **dots(len(pts)))
            if len(front):
                ax.step(x[front], e[front], where="post", color=color(i), lw=1.6)
                ax.scatter(x[front], e[front], s=26, color=color(i), edgecolor="black", lw=0.6, zorder=3)
    for ax, (_, name) in zip(axes, metrics):
        ax.set_xscale("log")
        plain_log(ax.xaxis)
        ax.set_xlabel(name + " (log scale)")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("error (%)")
    legend_below(fig, axes[0], ncol, markerscale=2)
    fig.suptitle("Error against complexity (outlined points and lines: Pareto front)", fontsize=11)
    margins(fig, top=0.5, bottom=0.6 + below, wspace=0.08)
    return _save(fig, path)


def search_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> Path:
    """Expected best error of k random samples against k, one curve per run."""
    ncol = min(len(curves), 3) or 1
    below = legend_rows(len(curves), ncol)
    fig = figure((7.2, 4.4 + below), 120)
    ax = fig.subplots()
    for i, (name, (ks, best)) in enumerate(curves.items()):
        ax.plot(ks, best, marker="o", ms=3, lw=1.8, color=color(i), label=name)
    ax.set_xscale("log")
    plain_log(ax.xaxis)
    ax.set_xlabel("models sampled at random, k (log scale)")
    ax.set_ylabel("expected best error (%)")
    ax.grid(alpha=0.3, which="both")
    ax.set_title("Random-search efficiency: E[min error of k models]", fontsize=11)
    legend_below(fig, ax, ncol)
    margins(fig, bottom=0.6 + below)
    return _save(fig, path)


SAME_SHARE = 0.8  # a panel whose values equal an earlier panel's for this share of models repeats it


def repeats(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether y is the same quantity as x (e.g. drawn w1 and the spec's stage1.width): equal for
    at least `SAME_SHARE` of the models where both are present."""
    if x.dtype != y.dtype or len(x) != len(y):
        return False
    if x.dtype.kind == "f":
        both = np.isfinite(x) & np.isfinite(y)
        return bool(both.any()) and np.mean(x[both] == y[both]) >= SAME_SHARE
    both = np.array([a is not None and b is not None for a, b in zip(x, y)], dtype=bool)
    return bool(both.any()) and np.mean(x[both] == y[both]) >= SAME_SHARE


def distinct(stats: list[dict[str, Any]], params: dict[str, np.ndarray]) -> tuple[list, dict[str, str]]:
    """The panels to draw (drawn values first, as listed) and each left-out near-copy with the
    panel it repeats."""
    kept: list[dict[str, Any]] = []
    dropped: dict[str, str] = {}
    for s in stats:
        twin = next((k["name"] for k in kept if repeats(params[k["name"]], params[s["name"]])), None)
        if twin is None:
            kept.append(s)
        else:
            dropped[s["name"]] = twin
    return kept, dropped


def trends_figure(
    label: str,
    stats: list[dict[str, Any]],
    params: dict[str, np.ndarray],
    errors: np.ndarray,
    path: Path,
    rng: np.random.Generator,
    index: int = 0,
    level: float = LEVEL,
    fraction: float = SUBSAMPLE,
) -> Path | None:
    """A panel per parameter: models, the binned median (quartile band), the best-model interval shaded."""
    stats, dropped = distinct([s for s in stats if "trend" in s], params)
    if not stats:
        return None
    cols = min(4, len(stats))
    rows = -(-len(stats) // cols)
    head = 0.9 + 0.2 * bool(dropped)
    fig = figure((4.2 * cols, 3.0 * rows + head - 0.4), 100)
    axes = fig.subplots(rows, cols, squeeze=False)
    best = np.flatnonzero(errors == np.nanmin(errors)) if np.isfinite(errors).any() else np.array([], int)
    for ax, s in zip(axes.flat, stats):
        x = params[s["name"]]
        if s["kind"] == "numeric":
            _numeric_panel(ax, s, x, errors, shown(len(x), best, rng), color(index))
        else:
            _categorical_panel(ax, s, x, errors, shown(len(x), best, rng), color(index), rng)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(stats) :]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("error (%)", fontsize=9)
    fig.suptitle(
        f"{label}: error against each design parameter (line: binned median, band: quartiles; "
        f"shaded: {100 * level:g}% interval of the best model of {100 * fraction:g}% subsamples)\n"
        f"hollow markers: bins of fewer than {MIN_MODELS} models; [n < {MIN_MODELS}]: interval from "
        "too few models, indicative only"
        + (
            "\nnot shown, the same quantity as a panel: "
            + ", ".join(f"{k} (= {v})" for k, v in dropped.items())
            if dropped
            else ""
        ),
        fontsize=10,
    )
    margins(fig, left=0.6, top=head, bottom=0.45, wspace=0.28, hspace=0.5)
    return _save(fig, path)


def _medians(ax, x: list, t: dict[str, Any], marker: str, ms: float, line: bool) -> None:
    """The binned medians: filled markers, hollow where the bin holds too few models."""
    if line:
        ax.plot(x, t["median"], color="black", lw=1.5)
    hollow = np.asarray(t["few_models"], dtype=bool)
    xs, med = np.asarray(x, dtype=float), np.asarray(t["median"], dtype=float)
    ax.plot(xs[~hollow], med[~hollow], marker, color="black", ms=ms, ls="none")
    ax.plot(xs[hollow], med[hollow], marker, color="black", ms=ms, ls="none", mfc="white")


def panel_title(s: dict[str, Any], text: str) -> str:
    """A panel title, marked when its interval rests on too few models."""
    return f"{text} [n < {MIN_MODELS}]" if s.get("few_models") else text


def _numeric_panel(ax, s: dict[str, Any], x: np.ndarray, e: np.ndarray, pts: np.ndarray, c) -> None:
    ok = np.isfinite(x[pts]) & np.isfinite(e[pts])
    ax.scatter(x[pts][ok], e[pts][ok], color=c, lw=0, **dots(len(pts)))
    t = s["trend"]
    _medians(ax, t["x"], t, "o", 3, line=True)
    ax.fill_between(t["x"], t["q25"], t["q75"], color="black", alpha=0.12, lw=0)
    ax.axvspan(s["lo"], s["hi"], color="tab:green", alpha=0.18, lw=0)
    ax.axvline(s["median"], color="tab:green", lw=1.2, ls="--")
    present = x[np.isfinite(x)]
    if len(present) and present.min() > 0 and present.max() / present.min() > 16:
        ax.set_xscale("log")
        plain_log(ax.xaxis)
    else:
        integer_ticks(ax.xaxis, present)
    ax.set_title(
        panel_title(
            s, f"{s['name']}: best in [{short(s['lo'])}, {short(s['hi'])}], median {short(s['median'])}"
        ),
        fontsize=9,
    )


def _categorical_panel(
    ax, s: dict[str, Any], x: np.ndarray, e: np.ndarray, pts: np.ndarray, c, rng: np.random.Generator
) -> None:
    t = s["trend"]
    pos = {cat: i for i, cat in enumerate(t["x"])}
    xs = np.array([pos.get(str(v), np.nan) if v is not None else np.nan for v in x[pts]], dtype=float)
    jitter = (rng.random(len(xs)) - 0.5) * 0.3
    ax.scatter(xs + jitter, e[pts], color=c, lw=0, **dots(len(pts)))
    _medians(ax, list(range(len(t["x"]))), t, "s", 6, line=False)
    ax.set_xticks(range(len(t["x"])))
    ax.set_xticklabels([f"{cat}\nbest {s['shares'].get(cat, 0.0):.0%}" for cat in t["x"]], fontsize=7)
    ax.set_title(panel_title(s, f"{s['name']}: share of best models per category"), fontsize=9)

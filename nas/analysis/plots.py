"""Figures of the design-space papers: EDFs with bootstrap bands, error against complexity with
the Pareto front, random-search efficiency, and error against every design parameter.

Curves, intervals and trend bins from fewer than `MIN_MODELS` models say so in the legend or
title, and such trend bins are drawn hollow. Runs take distinct colours of a qualitative palette,
legends sit below the axes (never over the curves), bands fade as runs are added, log axes read
"2", "5", "10", "1M" (at least three ticks) and integer parameters get integer ticks. A trends
figure puts a quantity's panels (the stage depths, the stage widths) on one row with one scale,
widths ticked at multiples of 8 (powers of two on a log axis), and explains its marks once in a
legend at its foot. Scatter plots draw at most `MAX_POINTS` models per run (the best and the Pareto
front always among them) so figures of 100,000-model runs stay light; statistics always use every
model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import (
    FixedLocator,
    FuncFormatter,
    LogLocator,
    MaxNLocator,
    MultipleLocator,
    NullFormatter,
)

from nas.analysis.defaults import LEVEL, SUBSAMPLE
from nas.analysis.frame import EPOCH_TIME, MEMORY
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
    decade, 1, 2 and 5 within three, 1 and 3 within five, powers of ten beyond."""
    lo, hi = sorted(axis.get_view_interval())
    span = hi / lo if lo > 0 else np.inf
    subs = (1.0, 2.0, 5.0) if span <= 1000 else (1.0, 3.0) if span <= 1e5 else (1.0,)
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
    """Error against flops, params, activations, estimated training memory (where a batch size was
    recorded) and seconds per epoch (where rows were timed), log x, per run; Pareto fronts as steps."""
    metrics = [("flops", "FLOPs, multiply-adds"), ("params", "parameters"), ("acts", "activations")]
    for key, name in (
        (MEMORY, "estimated training memory, bytes"),
        (EPOCH_TIME, "seconds per training epoch"),
    ):
        if any(np.isfinite(r.complexity.get(key, [np.nan])).any() for r in runs.values()):
            metrics.append((key, name))  # only where some run knows it (a batch size, timed epochs)
    ncol = min(len(runs), 6) or 1
    below = legend_rows(len(runs), ncol)
    fig = figure((5 * len(metrics), 4.6 + below), 110)
    axes = fig.subplots(1, len(metrics), sharey=True)
    for i, (label, r) in enumerate(runs.items()):
        for ax, (key, _) in zip(axes, metrics):
            if key not in r.complexity:
                continue
            x, e, front = r.complexity[key], r.errors, r.fronts[key]
            ok = np.isfinite(x)
            front = front[ok[front]]
            pts = shown(len(e), front, rng)
            pts = pts[ok[pts]]
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


QUANTITIES = (("depth", r"^d\d+$|^stage\d+\.depth$"), ("width", r"^w\d+$|^stage\d+\.width$"))
NAMES = {
    "b": "bottleneck ratio",
    "g": "group width",
    "w0": "initial width w0",
    "wa": "width slope wa",
    "wm": "width multiplier wm",
    "d": "depth",
    "total_depth": "blocks in all stages",
    "num_stages": "number of stages",
}


def quantity(name: str) -> str:
    """The quantity a parameter measures ("depth", "width", or its own name): panels of one quantity
    share a row, an x range and a scale."""
    return next((q for q, pattern in QUANTITIES if re.match(pattern, name)), name)


def axis_label(name: str) -> str:
    """A parameter's x-axis label: its name and, where known, what it is."""
    stage = re.match(r"^(?:([dw])(\d+)|stage(\d+)\.(\w+))$", name)
    if stage:
        what = {"d": "depth", "w": "width"}.get(stage.group(1) or "", stage.group(4) or "")
        return f"{name} ({what.replace('_', ' ')} of stage {stage.group(2) or stage.group(3)})"
    return f"{name} ({NAMES[name]})" if name in NAMES else name


def rows_of(stats: list[dict[str, Any]], cols: int) -> list[tuple[list[dict[str, Any]], bool]]:
    """Panels in rows, each with whether its panels share a scale: each quantity with more than one
    panel (depths, widths) on rows of its own, the single ones packed together after them."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for st in stats:
        groups.setdefault(quantity(st["name"]), []).append(st)
    rows, rest = [], []
    for members in groups.values():
        if len(members) > 1:
            rows += [(members[i : i + cols], True) for i in range(0, len(members), cols)]
        else:
            rest += members
    return rows + [(rest[i : i + cols], False) for i in range(0, len(rest), cols)]


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
    """A panel per parameter: models, the binned median (quartile band) and, along the foot, where the
    best models lie; a quantity's panels (depths, widths) share a row, an x range and a scale."""
    stats, dropped = distinct([s for s in stats if "trend" in s], params)
    if not stats:
        return None
    cols = min(4, len(stats))
    layout = rows_of(stats, cols)
    foot = 0.95 + 0.2 * bool(dropped)
    fig = figure((3.7 * cols, 2.9 * len(layout) + 0.75 + foot), 100)
    axes = fig.subplots(len(layout), cols, squeeze=False)
    best = np.flatnonzero(errors == np.nanmin(errors)) if np.isfinite(errors).any() else np.array([], int)
    finite = errors[np.isfinite(errors)]
    pad = 0.04 * (finite.max() - finite.min() or 1.0) if len(finite) else 1.0
    ylim = (finite.min() - 2.5 * pad, finite.max() + pad) if len(finite) else None
    for row, (members, shared) in zip(axes, layout):
        together = np.concatenate([params[s["name"]] for s in members if s["kind"] == "numeric"] or [[]])
        for ax, s in zip(row, members):
            x = params[s["name"]]
            if s["kind"] == "numeric":
                _numeric_panel(ax, s, x, errors, shown(len(x), best, rng), color(index))
                scale = together if shared else x
                _numeric_axis(ax.xaxis, scale.astype(float), quantity(s["name"]) == "width")
            else:
                _categorical_panel(ax, s, x, errors, shown(len(x), best, rng), color(index), rng)
            ax.set_xlabel(axis_label(s["name"]), fontsize=9)
            ax.tick_params(labelsize=9)
            ax.grid(alpha=0.3)
            if ylim:
                ax.set_ylim(*ylim)
        for ax in row[len(members) :]:
            ax.axis("off")
        row[0].set_ylabel("error (%)", fontsize=9)
    fig.suptitle(f"{label}: error against each design parameter", fontsize=11)
    _trends_legend(fig, level, fraction, color(index))
    if dropped:
        fig.text(
            0.5,
            0.12 / fig.get_size_inches()[1],
            "not shown, the same quantity as a panel: "
            + ", ".join(f"{k} (= {v})" for k, v in dropped.items()),
            ha="center",
            fontsize=8,
        )
    margins(fig, left=0.6, top=0.75, bottom=0.45 + foot, wspace=0.25, hspace=0.55)
    return _save(fig, path)


def _trends_legend(fig, level: float, fraction: float, dot) -> None:
    """What each mark of a trends figure is, once, at the figure's foot."""
    grey, green = "black", "tab:green"
    handles = [
        Line2D([], [], marker="o", ls="none", color=dot, alpha=0.6, ms=5, label="a model"),
        Line2D([], [], marker="o", color=grey, ms=4, label="median error per bin"),
        Line2D(
            [],
            [],
            marker="o",
            ls="none",
            color=grey,
            mfc="white",
            ms=4,
            label=f"bin of < {MIN_MODELS} models",
        ),
        Patch(color=grey, alpha=0.12, lw=0, label="quartiles per bin"),
        Patch(color=green, alpha=0.55, lw=0, label=f"{100 * level:g}% interval of the best model's value"),
        Line2D([], [], marker="D", ls="none", color="darkgreen", ms=5, label="its median"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8.5, frameon=False)
    fig.text(
        0.5,
        0.62 / fig.get_size_inches()[1],
        f"best model: the lowest error of a random {100 * fraction:g}% subsample of the run, over all subsamples",
        ha="center",
        fontsize=8,
        color="0.3",
    )


def _numeric_axis(axis, values: np.ndarray, width: bool, binned: bool = False) -> None:
    """One scale for a quantity's panels: log when its values span more than 16x (ticks at powers of
    two for widths and for values that are all powers of two), else linear with integer ticks (multiples of 8 for widths that are all multiples of 8)."""
    present = values[np.isfinite(values)]
    if not len(present):
        return
    lo, hi = present.min(), present.max()
    eights = width and (binned or bool(np.all(present % 8 == 0)))
    twos = lo > 0 and bool(np.all(np.log2(present) == np.round(np.log2(present))))  # g: 1, 2, 4, ...
    spread = 0.05 * (hi - lo or 1.0)
    if lo > 0 and hi / lo > 16:
        axis.axes.set_xscale("log", base=2 if eights or twos else 10)
        axis.axes.set_xlim(lo / 1.25, hi * 1.25)
        if eights or twos:
            powers = 2.0 ** np.arange(np.floor(np.log2(lo)), np.ceil(np.log2(hi)) + 1)
            step = max(1, -(-len(powers) // 7))
            axis.set_major_locator(FixedLocator(powers[::-1][::step][::-1]))
            axis.set_major_formatter(FuncFormatter(lambda v, _pos=None: f"{v:.0f}"))
            axis.set_minor_formatter(NullFormatter())
        else:
            plain_log(axis)
        return
    axis.axes.set_xlim(lo - spread, hi + spread)
    if eights:
        step = 8
        while (hi - lo) / step > 6:
            step *= 2
        axis.set_major_locator(MultipleLocator(step))
    elif binned:
        axis.set_major_locator(MaxNLocator(integer=True))
    else:
        integer_ticks(axis, present)


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
    ax.fill_between(t["x"], t["q25"], t["q75"], color="black", alpha=0.12, lw=0)
    _medians(ax, t["x"], t, "o", 4, line=True)
    foot = ax.get_xaxis_transform()  # x in data, y in axes: the interval lies along the panel's foot
    ax.axvspan(s["lo"], s["hi"], ymin=0, ymax=0.05, color="tab:green", alpha=0.55, lw=0)
    ax.plot([s["median"]], [0.025], marker="D", color="darkgreen", ms=5, transform=foot, clip_on=False)
    ax.set_title(
        panel_title(s, f"best: {short(s['lo'])} to {short(s['hi'])}, median {short(s['median'])}"),
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
    ax.set_xticklabels([f"{cat}\nbest {s['shares'].get(cat, 0.0):.0%}" for cat in t["x"]], fontsize=8)
    ax.set_title(panel_title(s, "share of best models per category"), fontsize=9)


def regimes_figure(label: str, regimes: list[dict[str, Any]], path: Path) -> Path | None:
    """A panel per drawn numeric parameter: the binned median error within each FLOPs regime, one
    line per regime (light to dark as FLOPs grow), the paper's reading of trends across budgets."""
    names = list(dict.fromkeys(n for reg in regimes for n in reg["trends"]))
    if len(regimes) < 2 or not names:
        return None
    cols = min(4, len(names))
    layout = rows_of([{"name": n} for n in names], cols)
    fig = figure((3.7 * cols, 2.8 * len(layout) + 0.75 + 0.7), 100)
    axes = fig.subplots(len(layout), cols, squeeze=False)
    shades = colormaps["viridis"](np.linspace(0.85, 0.1, len(regimes)))
    for row, (members, shared) in zip(axes, layout):
        for ax, m in zip(row, members):
            n = m["name"]
            xs = []
            for reg, c in zip(regimes, shades):
                t = reg["trends"].get(n)
                if t is None:
                    continue
                xs += t["x"]
                label_text = f"{reg['regime']} (n={reg['count']})"
                ax.plot(t["x"], t["median"], marker="o", ms=4, lw=1.6, color=c, label=label_text)
                hollow = np.asarray(t["few_models"], dtype=bool)
                x, med = np.asarray(t["x"], dtype=float), np.asarray(t["median"], dtype=float)
                ax.plot(x[hollow], med[hollow], "o", ms=4, color=c, mfc="white", ls="none")
            pool = [
                v for k in members for reg in regimes for v in reg["trends"].get(k["name"], {}).get("x", [])
            ]
            scale = np.asarray(pool if shared else xs, dtype=float)
            _numeric_axis(ax.xaxis, scale, quantity(n) == "width", binned=quantity(n) in ("depth", "width"))
            ax.set_xlabel(axis_label(n), fontsize=9)
            ax.tick_params(labelsize=9)
            ax.grid(alpha=0.3)
        for ax in row[len(members) :]:
            ax.axis("off")
        row[0].set_ylabel("median error (%)", fontsize=9)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8.5, frameon=False)
    fig.suptitle(
        f"{label}: error against each drawn parameter within each FLOPs regime (hollow: bin of < {MIN_MODELS})",
        fontsize=11,
    )
    margins(fig, left=0.6, top=0.75, bottom=0.45 + 0.7, wspace=0.25, hspace=0.55)
    return _save(fig, path)


def efit_figure(fits: Mapping[str, tuple[np.ndarray, np.ndarray]], path: Path) -> Path | None:
    """Error against e_fit, the quantised linear width fit's error (RegNet paper, section 3.3), one
    colour per run, with each run's median error per e_fit quintile: good models fitting the linear
    law well shows as low error at low e_fit."""
    fits = {k: v for k, v in fits.items() if len(v[0]) >= 2}
    if not fits:
        return None
    ncol = min(len(fits), 4)
    below = legend_rows(len(fits), ncol)
    fig = figure((7.2, 4.6 + below), 120)
    ax = fig.subplots()
    for i, (name, (efit, err)) in enumerate(fits.items()):
        ax.scatter(efit, err, color=color(i), lw=0, label=f"{name} (n={len(efit)})", **dots(len(efit)))
        if len(efit) >= 2 * MIN_MODELS:
            edges = np.unique(np.quantile(efit, np.linspace(0, 1, 6)))
            lab = np.clip(np.searchsorted(edges, efit, side="right") - 1, 0, len(edges) - 2)
            mids = [np.median(efit[lab == j]) for j in range(len(edges) - 1) if np.any(lab == j)]
            meds = [np.median(err[lab == j]) for j in range(len(edges) - 1) if np.any(lab == j)]
            ax.plot(mids, meds, color=color(i), lw=2, marker="o", ms=5, mec="black", mew=0.6)
    ax.set_xlabel("e_fit: mean over blocks of |log(fitted width / actual width)|")
    ax.set_ylabel("error (%)")
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.set_title(
        "Error against the quantised linear width fit's error (lines: median per quintile)", fontsize=10
    )
    legend_below(fig, ax, ncol, markerscale=1.5)
    margins(fig, bottom=0.6 + below)
    return _save(fig, path)

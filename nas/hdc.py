"""HDC rules (Wang et al. 2018) for a dilation schedule, set against the exact gridding analysis.

The paper's rules: (1) the rates of a group share no common factor > 1; (2) groups repeat
as a sawtooth, e.g. [1, 2, 5, 1, 2, 5]; (3) M_i = max[M_{i+1} - 2 r_i, M_{i+1} - 2 (M_{i+1} - r_i), r_i]
with M_n = r_n, and the goal M_2 <= K. Rule (3) is stated for one group and assumes its first
rate fills the gaps the others leave, so the exact analysis in blocks.gridding is ground truth
and the report says plainly where the two disagree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from blocks.errors import ParamError
from blocks.gridding import Analysis, analyze, describe_holes, widest_hole_free

PAPER = "Wang et al. 2018, Understanding Convolution for Semantic Segmentation"


def m_chain(rates: Sequence[int]) -> list[int]:
    """M_1 .. M_n of the HDC rule, computed from M_n = r_n down to M_1."""
    chain = [rates[-1]]
    for r in reversed(rates[:-1]):
        after = chain[0]
        chain.insert(0, max(after - 2 * r, after - 2 * (after - r), r))
    return chain


def sawtooth_group(rates: Sequence[int]) -> tuple[tuple[int, ...], int]:
    """(group, repeats): the shortest group of two or more rates the schedule repeats whole.

    A schedule that is not such a repetition (a constant one included) is one group, once.
    """
    n = len(rates)
    for p in range(2, n // 2 + 1):
        if n % p == 0 and all(rates[i] == rates[i % p] for i in range(n)):
            return tuple(rates[:p]), n // p
    return tuple(rates), 1


def rules(schedule: Sequence[int], kernel: int) -> dict[str, Any]:
    """The paper's three rules checked on the schedule's group; `passes` when rules 1 and 3 hold."""
    group, repeats = sawtooth_group(list(schedule))
    chain = m_chain(group)
    m2 = chain[1] if len(group) > 1 else None
    gcd = math.gcd(*group)
    return {
        "group": list(group),
        "repeats": repeats,
        "sawtooth": repeats > 1,
        "rising": all(a < b for a, b in zip(group, group[1:])),
        "gcd": gcd,
        "no_common_factor": gcd == 1,
        "m_chain": chain,
        "m2": m2,
        "m2_goal": kernel,
        "m2_ok": None if m2 is None else m2 <= kernel,
        "passes": gcd == 1 and (m2 is None or m2 <= kernel),
    }


def _verdict(a: Analysis, hdc: dict[str, Any]) -> str:
    """One plain sentence: the exact result first, then whether the paper's rules agree and why not."""
    if a.ok and hdc["passes"]:
        return "no gridding holes; the HDC rules agree."
    if not a.ok and not hdc["passes"]:
        return f"gridding holes at offsets {describe_holes(a.holes)}; the HDC rules agree."
    if a.ok:
        return (
            f"no gridding holes, although the HDC rule fails (M_2 = {hdc['m2']} > {hdc['m2_goal']}): "
            "the rule is sufficient, not necessary, and follows the rates in this order while "
            "coverage ignores order. The exact count is ground truth."
        )
    return (
        f"gridding holes at offsets {describe_holes(a.holes)}, although the HDC rules pass: the "
        f"M_2 rule assumes the group's first rate (here {hdc['group'][0]}) fills the gaps the later "
        "rates leave, and it does not. The exact count is ground truth."
    )


def report(schedule: Sequence[int], kernel: int) -> dict[str, Any]:
    """JSON-able analysis: exact field, holes and evenness, the HDC rules and the verdict."""
    a = analyze(schedule, kernel)
    hdc = rules(a.schedule, kernel)
    return {
        "schedule": list(a.schedule),
        "kernel": kernel,
        "span": a.span,
        "hole_free": a.ok,
        "holes": list(a.holes),
        "holes_2d": a.holes_2d,
        "reached_1d": a.reached_1d,
        "reached_2d": a.reached_2d,
        "cv_1d": a.cv_1d,
        "cv_2d": a.cv_2d,
        "counts_exact": a.exact,
        "counts_1d": a.counts.tolist(),
        "hdc": hdc,
        "agree": a.ok == hdc["passes"],
        "verdict": _verdict(a, hdc),
    }


def format_report(rep: dict[str, Any]) -> str:
    """The text `nas hdc SCHEDULE` prints."""
    s, k, hdc = rep["span"], rep["kernel"], rep["hdc"]
    r = s // 2
    rates = ",".join(map(str, rep["schedule"]))
    lines = [
        f"dilation schedule {rates} with a {k}x{k} kernel ({len(rep['schedule'])} layers, stride 1)",
        f"  receptive field   {s} x {s} px (offsets -{r}..{r})",
        f"  holes             {describe_holes(rep['holes']) or 'none'}"
        + (f" on each axis ({rep['holes_2d']} px)" if rep["holes"] else ""),
        f"  field reached     {100 * rep['reached_2d']:.1f}% ({s * s - rep['holes_2d']} of {s * s} px)",
        f"  unevenness        CV of path counts {rep['cv_2d']:.3f} over the field (1-D {rep['cv_1d']:.3f})",
    ]
    if s <= 41 and rep["counts_exact"]:
        lines.append(f"  1-D path counts   {' '.join(map(str, rep['counts_1d']))}")
    repeat = f"repeated {hdc['repeats']}x (sawtooth)" if hdc["sawtooth"] else "the whole schedule"
    chain = ", ".join(f"M_{i} = {m}" for i, m in enumerate(hdc["m_chain"], 1))
    goal = (
        f"goal M_2 <= {k}: {'ok' if hdc['m2_ok'] else 'fails'}"
        if hdc["m2"] is not None
        else "no M_2 for a one-rate group"
    )
    lines += [
        f"HDC rules ({PAPER})",
        f"  group             {hdc['group']}, {repeat}{', rising' if hdc['rising'] else ''}",
        f"  common factor     gcd = {hdc['gcd']}: {'ok' if hdc['no_common_factor'] else 'fails'}",
        f"  M chain           {chain}; {goal}",
        f"verdict: {rep['verdict']}",
    ]
    return "\n".join(lines)


def suggest(layers: int, kernel: int = 3, max_rate: int = 20, top: int = 10) -> list[dict[str, Any]]:
    """The `top` hole-free non-decreasing schedules by receptive field, ties broken by evenness (CV).

    blocks.gridding.widest_hole_free does the bounded search; see its docstrings for the bound.
    """
    if not isinstance(top, int) or top < 1:
        raise ParamError("top", f"expected an integer >= 1, got {top!r}")
    rows = []
    for sched in widest_hole_free(layers, kernel, max_rate, top):
        a, hdc = analyze(sched, kernel), rules(sched, kernel)
        rows.append(
            {
                "schedule": list(sched),
                "span": a.span,
                "cv_2d": a.cv_2d,
                "m2": hdc["m2"],
                "hdc_passes": hdc["passes"],
            }
        )
    rows.sort(key=lambda row: (-row["span"], row["cv_2d"], row["schedule"]))
    return [{"rank": i, **row} for i, row in enumerate(rows[:top], 1)]


def format_suggestions(rows: list[dict[str, Any]], layers: int, kernel: int, max_rate: int) -> str:
    """The table `nas hdc suggest` prints."""
    head = f"hole-free schedules: {layers} layers, {kernel}x{kernel} kernel, rates 1..{max_rate}"
    if not rows:
        return f"{head}: none"
    width = max(len("schedule"), *(len(",".join(map(str, row["schedule"]))) for row in rows))
    lines = [
        f"{head}, widest receptive field first",
        f"{'rank':>4}  {'schedule':<{width}}  {'field':>9}  {'CV':>6}  HDC rule (M_2 <= {kernel})",
    ]
    for row in rows:
        field = f"{row['span']}x{row['span']}"
        rule = "n/a" if row["m2"] is None else f"M_2 = {row['m2']}: {'ok' if row['hdc_passes'] else 'fails'}"
        lines.append(
            f"{row['rank']:>4}  {','.join(map(str, row['schedule'])):<{width}}  {field:>9}  "
            f"{row['cv_2d']:>6.3f}  {rule}"
        )
    capped = sum(row["schedule"][-1] == max_rate for row in rows)
    if capped:
        # the widest fields come from the largest rates, so the ranking leans on the cap
        lines.append(
            f"note: {capped} of these {len(rows)} schedules end at the largest rate allowed, {max_rate}: "
            "their field is set by --max-rate, not by the HDC rules; a larger --max-rate widens it"
        )
    return "\n".join(lines)


def _cells(a: Analysis, max_cells: int) -> tuple[np.ndarray, np.ndarray, int]:
    """1-D counts and hole flags per cell, with f x f pixels a cell (f odd, centre cell centred)."""
    f = math.ceil(a.span / max_cells)
    f += 1 - f % 2
    m = math.ceil(a.span / f)
    m += 1 - m % 2
    pad = (m * f - a.span) // 2
    hole = np.zeros(a.span, bool)
    hole[np.array(a.holes, int) + a.span // 2] = True
    counts = np.pad(a.counts.astype(float), pad).reshape(m, f).sum(1)
    return counts, np.pad(hole, pad).reshape(m, f).any(1), f


def plot(schedule: Sequence[int], kernel: int, path: str | Path, max_cells: int = 121) -> Path:
    """Draw the 2-D path-count map as a grid: numbers in small fields, holes red and hatched.

    Fields wider than `max_cells` pixels are drawn with f x f pixels a cell, and a cell is a
    hole when any pixel in it is, so no hole disappears.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PatchCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    a = analyze(schedule, kernel)
    counts, hole, f = _cells(a, max_cells)
    m = len(counts)
    values = np.outer(counts, counts)
    holes2d = hole[:, None] | hole[None, :]
    fig = Figure(figsize=(7.5, 6.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    im = ax.imshow(
        np.ma.masked_array(values / values.max(), holes2d),
        cmap="Blues",
        vmin=0,
        vmax=1,
        extent=(-0.5, m - 0.5, m - 0.5, -0.5),
    )
    fig.colorbar(im, ax=ax, shrink=0.8, label="paths, as a share of the busiest pixel")
    # a 2-D hole lies on a row or a column of 1-D holes, so each run of them is two bands
    edges = np.flatnonzero(np.diff(np.r_[0, hole.astype(int), 0]))
    bands = [(lo - 0.5, hi - lo) for lo, hi in zip(edges[::2], edges[1::2])]
    ax.add_collection(
        PatchCollection(
            [Rectangle((x, -0.5), w, m) for x, w in bands] + [Rectangle((-0.5, y), m, h) for y, h in bands],
            facecolor="#ffd6d6",
            edgecolor="red",
            linewidth=0.3,
            hatch="///",
        )
    )
    centre = m // 2
    ax.add_patch(Rectangle((centre - 0.5, centre - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=2.5))
    if m <= 61:
        ax.set_xticks(np.arange(m + 1) - 0.5, minor=True)
        ax.set_yticks(np.arange(m + 1) - 0.5, minor=True)
        ax.grid(which="minor", color="grey", linewidth=0.4)
        ax.tick_params(which="minor", length=0)
    if f == 1 and m <= 35:
        _numbers(ax, a, holes2d)
    step = max(1, math.ceil(centre / 4))
    ticks = centre + step * np.arange(-(centre // step), centre // step + 1)
    ax.set_xticks(ticks, [str((t - centre) * f) for t in ticks])
    ax.set_yticks(ticks, [str((t - centre) * f) for t in ticks])
    ax.set_xlabel("input offset x (px)")
    ax.set_ylabel("input offset y (px)")
    found = f"{a.holes_2d} holes (red, hatched)" if a.holes else "no holes"
    rates = (
        list(a.schedule)
        if len(a.schedule) <= 10
        else f"[{a.schedule[0]}, ..., {a.schedule[-1]}] ({len(a.schedule)} rates)"
    )
    title = f"dilations {rates}, {kernel}x{kernel} kernel: {a.span}x{a.span} px field, {found}"
    if f > 1:
        title += f"\none cell = {f}x{f} px; a cell is red when any pixel in it is a hole"
    ax.set_title(title + "\ncentre pixel framed in black", fontsize=10)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return Path(path)


def _numbers(ax: Any, a: Analysis, holes2d: np.ndarray) -> None:
    """Path counts in the cells (integers when short, else percent of the busiest pixel), if legible."""
    grid = np.outer(a.counts, a.counts).astype(float)
    as_int = a.exact and grid.max() <= 9999
    text = (
        grid.astype(np.int64).astype(str)
        if as_int
        else np.round(100 * grid / grid.max()).astype(int).astype(str)
    )
    size = min(10.0, 480 / len(grid) / max(2, max(len(t) for t in text.ravel())))
    if size < 5:
        return
    dark = grid > 0.6 * grid.max()
    for (r, c), t in np.ndenumerate(text):
        if not holes2d[r, c]:
            ax.text(
                c, r, t, ha="center", va="center", fontsize=size, color="white" if dark[r, c] else "black"
            )
    if not as_int:
        ax.text(
            1.0,
            -0.02,
            "numbers: % of the busiest pixel",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=8,
        )

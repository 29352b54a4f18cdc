"""`nas analyze`: compare runs (design spaces) by the analyses of Radosavovic et al. 2019/2020.

Per run: the EDF of final errors with a bootstrap band, its complexity-normalised version, KS
tests between runs, error against complexity with the Pareto front, random-search efficiency,
error against every design parameter with the best-model bootstrap, the refined space and the
best models. Trials that did not finish ok are counted and listed; they enter the EDF only with
`failed_as_error` (failed and diverged ones, at that error).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, replace
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from numpy.random import Generator

from blocks.errors import UserError
from nas.analysis import frame, refine, trends
from nas.analysis import plots as plot
from nas.analysis.bestof import expected_best, search_ks
from nas.analysis.bootstrap import edf_band
from nas.analysis.edf import (
    complexity_bins,
    default_bins,
    edf,
    error_grid,
    ks_test,
    stratum_weights,
    summary,
    weighted_ks_test,
)
from nas.analysis.pareto import pareto_front
from nas.sweeping import store

COUNTABLE = ("failed", "diverged")  # statuses `failed_as_error` puts into the EDF
Columns = dict[str, np.ndarray]  # one array per run label


@dataclass(frozen=True)
class Settings:
    """The knobs of `nas analyze`."""

    log: bool = False
    normalize: str = "flops"  # complexity measure of the normalised EDF; "none" skips it
    bins: int | None = None  # complexity bins; None: about 5 models per bin in the smallest run
    resamples: int = 1000  # bootstrap resamples of each EDF band
    failed_as_error: float | None = None  # error given to failed/diverged trials; None leaves them out
    top: int = 10  # best models listed per run
    fraction: float = 0.25  # subsample share of the best-model bootstrap
    level: float = 0.95  # confidence of bands and intervals
    seed: int = 0


def load_runs(runs: list[Path]) -> list[frame.RunData]:
    """Each run's columns, labelled by space (and folder where two runs share a space)."""
    out, seen = [], set()
    for run in runs:
        d = frame.load(run)
        if d.label in seen:
            d.label = f"{d.label} ({run})"
        seen.add(d.label)
        out.append(d)
    return out


def in_curve(d: frame.RunData, failed_as_error: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Mask of the trials in the EDF and the error of every trial (failed ones at `failed_as_error`)."""
    ok = (d.status == "ok") & np.isfinite(d.error)
    if failed_as_error is None:
        return ok, d.error
    counted = np.isin(d.status, COUNTABLE)
    return ok | counted, np.where(counted, failed_as_error, d.error)


def slug(label: str) -> str:
    """A label made safe for a file name."""
    return re.sub(r"[^\w.-]+", "_", label).strip("_") or "run"


def export_command(run: Path, model_id: str) -> str:
    """The command that exports one model of a run."""
    return f"nas export {run} --id {model_id}"


def run_stats(
    d: frame.RunData, mask: np.ndarray, errors: np.ndarray, s: Settings, grid: np.ndarray, rng: Generator
) -> dict[str, Any]:
    """Everything about one run that does not involve the other runs."""
    e = errors[mask]
    statuses: dict[str, int] = {}
    for st in d.status:
        statuses[st] = statuses.get(st, 0) + 1
    outside = np.flatnonzero(d.status != "ok")
    excluded = [
        {
            "trial_index": int(d.index[i]),
            "model_id": d.model_id[i],
            "status": d.status[i],
            "reason": d.reason[i],
            "in_edf": bool(mask[i]),
        }
        for i in np.concatenate([outside, np.flatnonzero((d.status == "ok") & ~mask)])
    ]
    lo, hi = edf_band(e, grid, s.resamples, rng, level=s.level) if len(e) else (grid * np.nan, grid * np.nan)
    cx = {k: v[mask] for k, v in d.complexity.items()}
    fronts = {k: pareto_front(v, e) for k, v in cx.items()}
    order = np.argsort(e, kind="stable")[: s.top]
    rows = np.flatnonzero(mask)
    ks = search_ks(len(e))
    return {
        **summary(e),
        "statuses": statuses,
        "planned": d.planned,
        "pending": d.planned - len(d.status),
        "dir": str(d.dir),
        "space": d.space,
        "mode": store.experiment(d.dir).get("search", {}).get("mode", "sample"),
        "excluded": excluded,
        "edf": {"grid": grid, "F": edf(e, grid) if len(e) else grid * np.nan, "lo": lo, "hi": hi},
        "search": {"k": ks, "expected_best": expected_best(e, ks)},
        "pareto": {
            k: [{"model_id": d.model_id[rows[i]], "error": e[i], k: cx[k][i]} for i in f]
            for k, f in fronts.items()
        },
        "params": [
            {**p, "source": "drawn" if p["name"] in d.drawn else "spec"}
            for p in trends.parameters({k: v[mask] for k, v in d.params.items()}, e, s.fraction, s.level)
        ],
        "best": [
            {
                "rank": r + 1,
                "trial_index": int(d.index[rows[i]]),
                "model_id": d.model_id[rows[i]],
                "error": e[i],
                **{k: cx[k][i] for k in cx},
                "export": export_command(d.dir, d.model_id[rows[i]]),
            }
            for r, i in enumerate(order)
        ],
        "_fronts": fronts,
    }


def normalized(
    data: list[frame.RunData],
    masks: list[np.ndarray],
    errors: Columns,
    s: Settings,
    grid: np.ndarray,
    rng: Generator,
) -> dict[str, Any]:
    """Complexity-normalised EDFs: per-run weights making each complexity histogram uniform on shared bins."""
    if s.normalize == "none":
        return {"by": "none"}
    pairs = [(d, m) for d, m in zip(data, masks) if m.any()]  # runs with nothing in the EDF sit out
    cx = [d.complexity[s.normalize][m] for d, m in pairs]
    bins = s.bins or default_bins([len(c) for c in cx])
    edges, labels = complexity_bins(cx, bins)
    out: dict[str, Any] = {"by": s.normalize, "bins": bins, "edges": edges, "kept_bins": 0, "runs": {}}
    if not len(edges) or all(not np.any(lab >= 0) for lab in labels):
        out["note"] = f"the runs share no {s.normalize} range; no normalised comparison"
        return out
    out["kept_bins"] = int(max(lab.max() for lab in labels) + 1)
    for (d, m), lab in zip(pairs, labels):
        e = errors[d.label][m]
        w = stratum_weights(lab)
        lo, hi = edf_band(e, grid, s.resamples, rng, strata=lab, level=s.level)
        out["runs"][d.label] = {
            **summary(e, w),
            "outside": int(np.sum(lab < 0)),
            "edf": {"grid": grid, "F": edf(e[w > 0], grid, w[w > 0]), "lo": lo, "hi": hi},
            "_weights": w,
        }
    return out


def refinement(d: frame.RunData, mask: np.ndarray, errors: np.ndarray, s: Settings) -> dict[str, Any]:
    """The refined space of a run and the EDF of the models inside it, or why there is none."""
    try:
        _, ref = refine.refine_data(d, mask, errors, None, s.fraction, s.level)
    except UserError as err:
        return {"note": str(err)}
    inside = refine.inside(ref, {k: v[mask] for k, v in d.params.items()})
    e = errors[mask]
    return {
        "changes": ref.changes,
        "unmapped": ref.unmapped,
        "inside": {**summary(e[inside]), "share": float(inside.mean()) if len(inside) else math.nan},
        "command": f"nas refine {d.dir} --out {d.space}_refined.yaml",
        "_inside": inside,
    }


def ks_pairs(
    data: list[frame.RunData], masks: Columns, errors: Columns, norm: dict[str, Any]
) -> list[dict[str, Any]]:
    """KS distance and p-value of every pair of runs, plain and complexity-normalised."""
    out = []
    for a, b in combinations([d.label for d in data], 2):
        ea, eb = errors[a][masks[a]], errors[b][masks[b]]
        if not (len(ea) and len(eb)):
            continue
        pair = {"a": a, "b": b, **ks_test(ea, eb)}
        if a in norm.get("runs", {}) and b in norm["runs"]:
            w = weighted_ks_test(ea, norm["runs"][a]["_weights"], eb, norm["runs"][b]["_weights"])
            pair.update({f"{k}_normalized" if k in ("ks", "p") else k: v for k, v in w.items()})
        out.append(pair)
    return out


def analyze(
    runs: list[Path],
    figure: Path | None = None,
    log: bool = False,
    *,
    report: Path | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """All statistics of the runs, figures beside `figure` (default edf.png in the first run, or in
    `report`), and with `report` an HTML page and CSV tables there."""
    s = settings or Settings()
    if log:
        s = replace(s, log=True)
    rng = np.random.default_rng(s.seed)
    data = load_runs(runs)
    masks, errors = {}, {}
    for d in data:
        masks[d.label], errors[d.label] = in_curve(d, s.failed_as_error)
    grid = error_grid([errors[d.label][masks[d.label]] for d in data], s.log)
    stats = {d.label: run_stats(d, masks[d.label], errors[d.label], s, grid, rng) for d in data}
    norm = normalized(data, [masks[d.label] for d in data], errors, s, grid, rng)
    for d in data:
        stats[d.label]["refine"] = refinement(d, masks[d.label], errors[d.label], s)
    ks = ks_pairs(data, masks, errors, norm)
    fig_dir = Path(report) if report else (Path(figure).parent if figure else runs[0])
    figure = Path(figure) if figure else fig_dir / "edf.png"
    figures = draw(data, masks, errors, stats, norm, s, figure, fig_dir, rng)
    result = {
        "runs": stats,
        "ks": ks,
        "normalization": norm,
        "settings": asdict(s),
        "figure": str(figure),
        "figures": {k: str(v) for k, v in figures.items()},
        "report": None,
    }
    if report is not None:
        from nas.analysis.report import write_report

        result["report"] = str(write_report(result, figures, Path(report)))
    return result


def draw(
    data: list[frame.RunData],
    masks: Columns,
    errors: Columns,
    stats: dict[str, dict[str, Any]],
    norm: dict[str, Any],
    s: Settings,
    figure: Path,
    fig_dir: Path,
    rng: Generator,
) -> dict[str, Path]:
    """Write every figure; returns their paths by name."""
    curves = {d.label: errors[d.label][masks[d.label]] for d in data}
    bands = {k: (st["edf"]["grid"], st["edf"]["lo"], st["edf"]["hi"]) for k, st in stats.items()}
    figs = {"edf": plot.edf_figure(curves, figure, log=s.log, bands=bands)}
    if norm.get("runs"):
        nr = norm["runs"]
        figs["edf_normalized"] = plot.edf_figure(
            {k: curves[k] for k in nr},
            fig_dir / "edf_normalized.png",
            log=s.log,
            weights={k: v["_weights"] for k, v in nr.items()},
            bands={k: (v["edf"]["grid"], v["edf"]["lo"], v["edf"]["hi"]) for k, v in nr.items()},
            colors=[plot.color(i) for i, d in enumerate(data) if d.label in nr],
            title=f"EDFs normalised to a uniform {norm['by']} distribution ({norm['kept_bins']} shared log bins)",
        )
    figs["complexity"] = plot.complexity_figure(
        [
            {
                "label": d.label,
                "errors": curves[d.label],
                "complexity": {k: v[masks[d.label]] for k, v in d.complexity.items()},
                "fronts": stats[d.label]["_fronts"],
            }
            for d in data
        ],
        fig_dir / "complexity.png",
        rng,
    )
    figs["search"] = plot.search_figure(
        {k: (st["search"]["k"], st["search"]["expected_best"]) for k, st in stats.items() if st["count"]},
        fig_dir / "search.png",
    )
    for i, d in enumerate(data):
        m = masks[d.label]
        path = plot.trends_figure(
            d.label,
            stats[d.label]["params"],
            {k: v[m] for k, v in d.params.items()},
            curves[d.label],
            fig_dir / f"trends_{slug(d.label)}.png",
            rng,
            index=i,
            level=s.level,
            fraction=s.fraction,
        )
        if path:
            figs[f"trends_{d.label}"] = path
        ref = stats[d.label]["refine"]
        if "_inside" in ref and ref["_inside"].any() and not ref["_inside"].all():
            figs[f"refine_{d.label}"] = plot.edf_figure(
                {"whole run": curves[d.label], "inside the refined space": curves[d.label][ref["_inside"]]},
                fig_dir / f"refine_{slug(d.label)}.png",
                log=s.log,
                colors=[plot.color(i), "black"],
                title=f"{d.label}: models inside the refined ranges against the whole run",
            )
    return figs


def jsonable(value: Any) -> Any:
    """The result as plain JSON: arrays as lists, NaN as null, private keys (leading _) dropped."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def _fmt(v: Any, spec: str = ".2f") -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


GUIDED = (
    "came from guided search (mode: optimize): its models are what the search chose, not random "
    "samples of the space, so its EDF, bootstrap and random-search figures describe the search"
)


def format_report(result: dict[str, Any]) -> str:
    """Plain-text tables for the terminal."""
    runs = result["runs"]
    width = max([len(k) for k in runs] + [3])
    lines = [f"{'run':<{width}}  {'n':>5}  {'min':>7}  {'median':>7}  {'mean':>7}  not ok / planned"]
    for name, s in runs.items():
        bad = {k: v for k, v in s["statuses"].items() if k != "ok"}
        bad_txt = ", ".join(f"{v} {k}" for k, v in bad.items()) or "0"
        pending = f", {s['pending']} pending" if s.get("pending") else ""
        lines.append(
            f"{name:<{width}}  {s['count']:>5}  {_fmt(s['min']):>7}  {_fmt(s['median']):>7}  {_fmt(s['mean']):>7}  "
            f"{bad_txt} / {s['planned']}{pending}"
        )
    fae = result.get("settings", {}).get("failed_as_error")
    how = (
        f"failed and diverged trials enter at error {fae:g}; stopped/rejected are counted, not plotted"
        if fae is not None
        else "other statuses are counted and listed, not plotted"
    )
    lines.append(f"errors are top-1 validation error (%) of trials with status ok; {how}")
    guided = [name for name, s in runs.items() if s.get("mode") == "optimize"]
    if guided:
        lines.append(f"note: {', '.join(guided)} {GUIDED}")
    for name, s in runs.items():
        for x in s.get("excluded", [])[:5]:
            lines.append(f"  {name} #{x['trial_index']} {x['model_id']} {x['status']}: {x['reason'][:70]}")
        if len(s.get("excluded", [])) > 5:
            lines.append(f"  {name}: {len(s['excluded']) - 5} more not-ok trials (see --json or --report)")
    norm = result.get("normalization", {})
    if norm.get("runs"):
        lines.append("")
        lines.append(
            f"complexity-normalised ({norm['by']}, {norm['kept_bins']} shared log bins; weighted median/mean):"
        )
        for name, s in norm["runs"].items():
            lines.append(
                f"  {name:<{width}}  n={s['count']:>5}  median {_fmt(s['median'])}  mean {_fmt(s['mean'])}"
                f"  ({s['outside']} outside the shared bins)"
            )
    elif norm.get("note"):
        lines.append(f"complexity normalisation: {norm['note']}")
    if result["ks"]:
        lines.append("")
        lines.append("KS distance (sup |F_a - F_b|) and p-value; normalised: weighted EDFs, effective sizes:")
        for k in result["ks"]:
            extra = (
                f"   normalised {k['ks_normalized']:.3f} (p {_fmt(k['p_normalized'], '.3g')})"
                if "ks_normalized" in k
                else ""
            )
            lines.append(f"  {k['a']} vs {k['b']}: {k['ks']:.3f} (p {_fmt(k.get('p'), '.3g')}){extra}")
    settings = result.get("settings", {})
    for name, s in runs.items():
        lines.extend(_run_lines(name, s, settings.get("level", 0.95), settings.get("fraction", 0.25)))
    lines.append("")
    lines.append(f"EDF figure: {result['figure']}")
    others = [v for k, v in result.get("figures", {}).items() if k != "edf"]
    if others:
        lines.append(f"other figures: {', '.join(others)}")
    if result.get("report"):
        lines.append(f"report: {result['report']}")
    return "\n".join(lines)


def _run_lines(name: str, s: dict[str, Any], level: float, fraction: float) -> list[str]:
    """Per-run terminal lines: random search, best-model intervals of drawn values, refinement, best."""
    if not s["count"]:
        return []
    out = ["", f"{name}:"]
    ks, best = s["search"]["k"], s["search"]["expected_best"]
    picks = [i for i, k in enumerate(ks) if k in (1, 10, 100, 1000, 10000) or i == len(ks) - 1]
    out.append("  expected best of k random models: " + ", ".join(f"k={ks[i]} {best[i]:.2f}" for i in picks))
    intervals = [p for p in s["params"] if "lo" in p and p["source"] == "drawn"]
    if intervals:
        out.append(f"  {100 * level:g}% interval of the best model's value ({100 * fraction:g}% subsamples):")
        out.append(
            "    "
            + "; ".join(
                f"{p['name']} [{plot.short(p['lo'])}, {plot.short(p['hi'])}] ~{plot.short(p['median'])}"
                for p in intervals
            )
        )
    ref = s.get("refine", {})
    narrowed = [c for c in ref.get("changes", []) if c["after"] != c["before"]]
    if narrowed:
        inside = ref["inside"]
        out.append(
            f"  refined space ({', '.join(c['option'] for c in narrowed)} narrowed) holds {inside['count']} "
            f"models ({_fmt(100 * inside['share'], '.0f')}%), median {_fmt(inside['median'])} vs "
            f"{_fmt(s['median'])}: {ref['command']}"
        )
    elif ref.get("changes"):
        out.append("  refinement: the best-model intervals span every option's range; nothing to narrow yet")
    for b in s["best"][:3]:
        out.append(f"  #{b['rank']} {b['model_id']} error {b['error']:.2f}  {b['export']}")
    return out

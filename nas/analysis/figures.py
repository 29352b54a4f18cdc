"""Every figure of an analysis, drawn from its typed result into one folder: the EDFs (plain and
complexity-normalised), error against complexity, random-search efficiency, and per run the
design-parameter trends (overall and within each FLOPs regime) and the refined space's EDF, and
error against the quantised linear width fit's e_fit; what rests on too few models says so.

The folder is `default_dir` (ANALYSIS beside the runs, in their sweep folder) for both the
sweep's closing analysis and `nas analyze`, or the report folder when one is named; a figure path
the user names gets the main EDF only, since files beside it are theirs. Every figure takes the
main EDF's format (png, pdf or svg)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from numpy.random import Generator

from blocks.errors import UserError
from nas.analysis import linearfit, plots
from nas.analysis.result import Analysis, Curve, RunResult, few_note
from nas.outputs import mark, unlinked
from nas.records.store import RUNS_LIST

ANALYSIS = "analysis"


def default_dir(runs: list[Path]) -> Path:
    """Where an analysis of `runs` writes by default: `analysis/` in the first run's sweep folder,
    or in the folder that lists it (RUNS_LIST: an exploration, its runs two folders below)."""
    first = Path(runs[0])
    listing = next((up for up in first.parents[1:3] if (up / RUNS_LIST).is_file()), None)
    return (listing or first.parent) / ANALYSIS


def slug(label: str) -> str:
    """A label made safe for a file name."""
    return re.sub(r"[^\w.-]+", "_", label).strip("_") or "run"


def refine_title(label: str, r: RunResult) -> str:
    """The refined-space EDF's title, noting intervals from too few models."""
    title = f"{label}: models inside the refined ranges against the whole run"
    return title + (f"\n(refined from intervals {few_note(r.count)})" if r.refine.few_models else "")


def _band(c: Curve) -> tuple:
    return c.grid, c.lo, c.hi


def edf_title(result: Analysis) -> str:
    """The main EDF's title: its band's level, and which runs came from a guided search (their
    models are what the search chose, not a random sample of the space, so the curve is no EDF
    of the space)."""
    band = f"shaded: {result.settings.level:.0%} bootstrap band"
    guided = result.guided()
    if not guided:
        return f"Error distribution functions ({band})"
    if len(guided) == len(result.runs):
        return f"Errors of guided-search models\n(not random samples of their spaces; {band})"
    return f"Error distribution functions ({band});\nguided search, not random samples: {', '.join(guided)}"


def draw(result: Analysis, figure: Path, fig_dir: Path | None, rng: Generator) -> dict[str, Path]:
    """Write the main EDF at `figure` and every other figure in `fig_dir` (none when it is None:
    nothing is written beside a file the user named), all in the main EDF's format; returns their
    paths by name."""
    s, runs = result.settings, result.runs
    ext = Path(figure).suffix
    curves = {k: r.errors for k, r in runs.items()}
    figs = {
        "edf": plots.edf_figure(
            curves,
            figure,
            log=s.log,
            bands={k: _band(r.edf) for k, r in runs.items()},
            title=edf_title(result),
        )
    }
    if fig_dir is None:
        return figs
    norm = result.normalization
    if norm.runs:
        figs["edf_normalized"] = plots.edf_figure(
            {k: curves[k] for k in norm.runs},
            fig_dir / f"edf_normalized{ext}",
            log=s.log,
            weights={k: v.weights for k, v in norm.runs.items()},
            bands={k: _band(v.edf) for k, v in norm.runs.items()},
            colors=[plots.color(i) for i, k in enumerate(runs) if k in norm.runs],
            title=f"EDFs normalised to uniform {norm.by} ({norm.kept_bins} log bins; "
            f"shaded: {s.level:.0%} bootstrap band)",
        )
    figs["complexity"] = plots.complexity_figure(runs, fig_dir / f"complexity{ext}", rng)
    figs["search"] = plots.search_figure(
        {k: (r.search.k, r.search.expected_best) for k, r in runs.items() if r.count},
        fig_dir / f"search{ext}",
    )
    for i, (label, r) in enumerate(runs.items()):
        path = plots.trends_figure(
            label,
            r.params,
            r.values,
            r.errors,
            fig_dir / f"trends_{slug(label)}{ext}",
            rng,
            index=i,
            level=s.level,
            fraction=s.subsample,
        )
        if path:
            figs[f"trends_{label}"] = path
        inside = r.refine.mask
        if inside is not None and inside.any() and not inside.all():
            figs[f"refine_{label}"] = plots.edf_figure(
                {"whole run": r.errors, "inside the refined space": r.errors[inside]},
                fig_dir / f"refine_{slug(label)}{ext}",
                log=s.log,
                colors=[plots.color(i), "black"],
                title=refine_title(label, r),
            )
    for label, r in runs.items():
        path = plots.regimes_figure(label, r.regimes, fig_dir / f"regimes_{slug(label)}{ext}")
        if path:
            figs[f"regimes_{label}"] = path
    result.linear_fits = linear_fits(result, rng)
    path = plots.efit_figure(
        {
            k: (np.array([f["e_fit"] for f in v]), np.array([f["error"] for f in v]))
            for k, v in result.linear_fits.items()
        },
        fig_dir / f"efit{ext}",
    )
    if path:
        figs["efit"] = path
    if result.sequential:
        figs["sequential"] = plots.sequential_figure(result.sequential, fig_dir / f"sequential{ext}")
    return figs


def linear_fits(result: Analysis, rng: Generator) -> dict[str, list[dict[str, Any]]]:
    """Per run of models with two or more stages, the quantised linear fit of each fitted model's
    widths (`linearfit.fit_models`: at most `linearfit.MODELS` of them) with its error."""
    out = {}
    for label, r in result.runs.items():
        if r.stage_depths.ndim != 2 or r.stage_depths.shape[1] < 2:
            continue
        fitted = linearfit.fit_models(r.stage_depths, r.stage_widths, r.errors, rng)
        out[label] = [
            {
                "model_id": str(r.model_ids[i]),
                "error": float(r.errors[i]),
                "w_0": f.w_0,
                "w_a": f.w_a,
                "w_m": f.w_m,
                "e_fit": f.e_fit,
            }
            for i, f in fitted
        ]
    return out


def write(
    result: Analysis, figure: str | Path | None = None, folder: str | Path | None = None, fmt: str = "png"
) -> dict[str, Path]:
    """Write a result's figures, now or long after `nas.analyze` (nothing is recomputed): the main
    EDF at `figure` and, when it is named, nothing beside it (the files there are the user's); the
    others (and without `figure` the main one, edf.FMT) in `folder`, marked as the tool's, else in
    analysis/ of the first run's sweep folder, never through a link; all in the main one's format.
    Records them on the result and returns their paths by name."""
    if not any(r.count for r in result.runs.values()):
        raise UserError(f"{', '.join(result.runs)}: no finished models; no figures to draw")
    if folder is not None:
        place = mark(Path(folder))
    elif figure is None:
        place = unlinked(default_dir([r.dir for r in result.runs.values()]))
    else:
        place = None
    main = Path(figure) if figure is not None else place / f"edf.{fmt}"
    rng = np.random.default_rng(result.settings.seed)  # the plotted subsets, apart from the statistics'
    result.figure, result.figures = main, draw(result, main, place, rng)
    return result.figures

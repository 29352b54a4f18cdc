"""`nas analyze`: compare runs (design spaces) by the analyses of Radosavovic et al. 2019/2020.

Per run: the EDF of final errors with a bootstrap band, its complexity-normalised version, KS
tests between runs with the models per space each needs to separate them, error against
complexity with the Pareto front, random-search efficiency, error against every design parameter
with the best-model bootstrap, the refined space and the best models. Trials that did not finish
ok are counted and listed; they enter the EDF only with `failed_as_error` (failed and diverged
ones, at that error).
"""

from __future__ import annotations

import math
from dataclasses import replace
from itertools import combinations
from pathlib import Path

import numpy as np
from numpy.random import Generator

from blocks.errors import UserError
from nas.analysis import frame, refine, trends
from nas.analysis.bestof import expected_best, search_ks
from nas.analysis.bootstrap import edf_band
from nas.analysis.regimes import regime_trends
from nas.analysis.report import write_report
from nas.analysis.result import (
    Analysis,
    Curve,
    KsPair,
    Needed,
    Normalization,
    NormalizedRun,
    Refined,
    RunResult,
    Search,
    Sequential,
    Settings,
    few,
)
from nas.outputs import check_report
from nas.records.order import best_first
from nas.records.rows import Status
from nas.stats.edf import (
    complexity_bins,
    default_bins,
    edf,
    error_grid,
    ks_test,
    stratum_weights,
    summary,
    weighted_ks_test,
)
from nas.stats.pareto import pareto_front
from nas.stats.power import largest_n, planned
from nas.sweeping import compare

COUNTABLE = (Status.FAILED, Status.DIVERGED)  # statuses `failed_as_error` puts into the EDF
Columns = dict[str, np.ndarray]  # one array per run label


def in_curve(d: frame.RunData, failed_as_error: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Mask of the trials in the EDF and the error of every trial (failed ones at `failed_as_error`)."""
    ok = (d.status == Status.OK) & np.isfinite(d.error)
    if failed_as_error is None:
        return ok, d.error
    counted = np.isin(d.status, COUNTABLE)
    return ok | counted, np.where(counted, failed_as_error, d.error)


def count(value: float) -> int | None:
    """A complexity count as an int (FLOPs, parameters, activations), None where it is missing."""
    return int(value) if math.isfinite(value) else None


def measure(key: str, value: float) -> int | float | None:
    """A complexity measure as reported: counts as ints, seconds per epoch to the millisecond."""
    if key != frame.EPOCH_TIME:
        return count(value)
    return round(float(value), 3) if math.isfinite(value) else None


def export_command(run: Path, model_id: str) -> str:
    """The command that exports one model of a run."""
    return f"nas export {run} --id {model_id}"


def refine_command(run: Path, space: str, fraction: float, level: float) -> str:
    """The command that writes a run's refined space with this analysis's intervals (its
    --subsample and --level carried over when they are not the defaults)."""
    default = Settings()
    extra = f" --subsample {fraction:g}" if fraction != default.subsample else ""
    extra += f" --level {level:g}" if level != default.level else ""
    return f"nas refine {run} --out {space}_refined.yaml{extra}"


def run_stats(
    d: frame.RunData, mask: np.ndarray, errors: np.ndarray, s: Settings, grid: np.ndarray, rng: Generator
) -> RunResult:
    """Everything about one run that does not involve the other runs."""
    e = errors[mask]
    statuses: dict[str, int] = {}
    for st in d.status:
        statuses[st] = statuses.get(st, 0) + 1
    outside = np.flatnonzero(d.status != Status.OK)
    excluded = [
        {
            "trial_index": int(d.index[i]),
            "model_id": d.model_id[i],
            "status": d.status[i],
            "reason": d.reason[i],
            "in_edf": bool(mask[i]),
        }
        for i in np.concatenate([outside, np.flatnonzero((d.status == Status.OK) & ~mask)])
    ]
    lo, hi = edf_band(e, grid, s.bootstrap, rng, level=s.level) if len(e) else (grid * np.nan, grid * np.nan)
    cx = {k: v[mask] for k, v in d.complexity.items()}
    values = {k: v[mask] for k, v in d.params.items()}
    fronts = {k: pareto_front(v, e) for k, v in cx.items()}
    rows = np.flatnonzero(mask)
    order = best_first(e, cx["flops"], d.model_id[rows], d.index[rows])[: s.top]
    ks = search_ks(len(e))
    return RunResult(
        **summary(e),
        statuses=statuses,
        planned=d.planned,
        pending=d.planned - len(d.status),
        dir=d.dir,
        space=d.space,
        mode=d.mode,
        task=d.task,
        excluded=excluded,
        edf=Curve(grid, edf(e, grid) if len(e) else grid * np.nan, lo, hi, few(len(e))),
        search=Search(ks, expected_best(e, ks)),
        pareto={
            k: [{"model_id": d.model_id[rows[i]], "error": e[i], k: measure(k, cx[k][i])} for i in f]
            for k, f in fronts.items()
        },
        params=[
            {**p, "source": "drawn" if p["name"] in d.drawn else "spec"}
            for p in trends.parameters(values, e, s.subsample, s.level)
        ],
        best=[
            {
                "rank": r + 1,
                "trial_index": int(d.index[rows[i]]),
                "model_id": d.model_id[rows[i]],
                "error": e[i],
                **{k: measure(k, cx[k][i]) for k in cx},
                "export": export_command(d.dir, d.model_id[rows[i]]),
            }
            for r, i in enumerate(order)
        ],
        refine=refinement(d, mask, errors, s),
        regimes=regime_trends(cx["flops"], values, e, [k for k in d.drawn if k in values]),
        errors=e,
        complexity=cx,
        values=values,
        fronts=fronts,
        stage_depths=d.stage_depths[mask] if len(d.stage_depths) else d.stage_depths,
        stage_widths=d.stage_widths[mask] if len(d.stage_widths) else d.stage_widths,
        model_ids=d.model_id[mask],
    )


def normalized(
    data: list[frame.RunData],
    masks: Columns,
    errors: Columns,
    s: Settings,
    grid: np.ndarray,
    rng: Generator,
) -> Normalization:
    """Complexity-normalised EDFs: per-run weights making each complexity histogram uniform on shared bins."""
    inside = [d for d in data if masks[d.label].any()]  # runs with nothing in the EDF sit out
    if s.normalize == "none" or not inside:
        return Normalization(s.normalize)
    cx = [d.complexity[s.normalize][masks[d.label]] for d in inside]
    bins = s.bins or default_bins([len(c) for c in cx])
    edges, labels = complexity_bins(cx, bins)
    if not len(edges) or all(not np.any(lab >= 0) for lab in labels):
        note = f"the runs share no {s.normalize} range; no normalised comparison"
        return Normalization(s.normalize, bins, edges, 0, {}, note)
    runs = {}
    for d, lab in zip(inside, labels):
        e = errors[d.label][masks[d.label]]
        w = stratum_weights(lab)
        lo, hi = edf_band(e, grid, s.bootstrap, rng, strata=lab, level=s.level)
        runs[d.label] = NormalizedRun(
            **summary(e, w),
            outside=int(np.sum(lab < 0)),
            edf=Curve(grid, edf(e[w > 0], grid, w[w > 0]), lo, hi, few(int(np.sum(w > 0)))),
            weights=w,
        )
    return Normalization(s.normalize, bins, edges, int(max(lab.max() for lab in labels) + 1), runs)


def refinement(d: frame.RunData, mask: np.ndarray, errors: np.ndarray, s: Settings) -> Refined:
    """The refined space of a run and the EDF of the models inside it, or why there is none."""
    try:
        _, ref = refine.refine_data(d, mask, errors, None, s.subsample, s.level)
    except UserError as err:
        return Refined(note=str(err))
    inside = refine.inside(ref, {k: v[mask] for k, v in d.params.items()})
    e = errors[mask]
    return Refined(
        changes=ref.changes,
        unmapped=ref.unmapped,
        inside={**summary(e[inside]), "share": float(inside.mean()) if len(inside) else math.nan},
        command=refine_command(d.dir, d.space, s.subsample, s.level),
        few_models=few(int(mask.sum())),
        mask=inside,
    )


def needed(a: np.ndarray, b: np.ndarray, s: Settings) -> Needed:
    """Models per space a new comparison of the two runs' spaces needs, planned from their errors
    at a lower confidence bound of their difference (power.planned)."""
    largest = largest_n(len(a), len(b))
    alpha = round(1.0 - s.level, 12)  # 0.05, not 0.050000000000000044
    n, p, effect, why = planned(a, b, alpha, s.power, largest, s.bootstrap, np.random.default_rng(s.seed))
    return Needed(n, p, s.power, alpha, largest, s.bootstrap, why, effect)


def ks_pairs(
    data: list[frame.RunData], masks: Columns, errors: Columns, norm: Normalization, s: Settings
) -> list[KsPair]:
    """KS distance and p-value of every pair of runs, plain and complexity-normalised, and the
    models per space the plain test needs to separate them (with bootstrap resamples to draw)."""
    out = []
    weighted = norm.runs or {}
    for a, b in combinations([d.label for d in data], 2):
        ea, eb = errors[a][masks[a]], errors[b][masks[b]]
        if not (len(ea) and len(eb)):
            continue
        pair = KsPair(a, b, **ks_test(ea, eb), needed=needed(ea, eb, s) if s.bootstrap else None)
        if a in weighted and b in weighted:
            w = weighted_ks_test(ea, weighted[a].weights, eb, weighted[b].weights)
            pair = replace(
                pair, ks_normalized=w["ks"], p_normalized=w["p"], n_eff_a=w["n_eff_a"], n_eff_b=w["n_eff_b"]
            )
        out.append(pair)
    return out


def sequential_of(runs: list[Path]) -> Sequential | None:
    """The sequential comparison of the runs' sweep, when they share one sweep folder that has one."""
    folders = {Path(r).resolve().parent for r in runs}
    comp = compare.read(folders.pop()) if len(folders) == 1 else None
    if comp is None:
        return None
    d = comp.design
    return Sequential(
        sentence=compare.sentence(comp),
        decided=comp.decided,
        level=comp.level,
        pair_level=d.level,
        rounds_done=comp.rounds,
        rounds=d.rounds,
        used=comp.used,
        max_samples=d.max_samples,
        fixed_n=d.fixed_n,
        sizes=list(d.sizes),
        efficacy=list(d.efficacy),
        futility=list(d.futility),
        pairs=[p.to_dict() for p in comp.pairs],
    )


def statistics(data: list[frame.RunData], s: Settings, rng: Generator) -> Analysis:
    """Every statistic of the loaded runs, each run's and every comparison between them."""
    masks, errors = {}, {}
    for d in data:
        masks[d.label], errors[d.label] = in_curve(d, s.failed_as_error)
    grid = error_grid([errors[d.label][masks[d.label]] for d in data], s.log)
    runs = {d.label: run_stats(d, masks[d.label], errors[d.label], s, grid, rng) for d in data}
    norm = normalized(data, masks, errors, s, grid, rng)
    return Analysis(runs, ks_pairs(data, masks, errors, norm, s), norm, s)


def analyze(
    runs: list[Path],
    figure: Path | None = None,
    log: bool = False,
    *,
    report: Path | None = None,
    settings: Settings | None = None,
    figures: bool | None = None,
    fmt: str = "png",
) -> Analysis:
    """All statistics of the runs; figures when `figures` is True, or when it is None and `figure`
    or `report` names a place: the main EDF at `figure` when the caller names one, and only it
    unless a `report` folder is given; the other figures (and without `figure` the main one,
    edf.FMT) in `report`, else in analysis/ of the first run's sweep folder; every figure in the
    main one's format. With `report` (a new or empty folder, or one written before; checked first)
    an HTML page and CSV tables too. No figures or report when no run has a finished model.
    Raises UserError when no run has a single row (nas.api.analyze checks the arguments first)."""
    s = settings or Settings()
    if log:
        s = replace(s, log=True)
    if report is not None:
        check_report(Path(report))
    rng = np.random.default_rng(s.seed)
    data = frame.load_runs(runs)
    if not any(len(d.status) for d in data):
        raise UserError(f"{', '.join(map(str, runs))}: no trial rows yet; nothing to analyse")
    result = statistics(data, s, rng)
    result.sequential = sequential_of([d.dir for d in data])
    if not any(r.count for r in result.runs.values()):
        return result  # every trial failed or diverged: counts and notes, no figures or report
    if figures or (figures is None and (figure is not None or report is not None)):
        from nas.analysis.figures import write  # matplotlib loads only when a figure is drawn

        write(result, figure, report, fmt)
    if report is not None:
        result.report = write_report(result, Path(report))
    return result

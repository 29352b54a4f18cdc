"""The terminal report of an analysis: per-run summary, not-ok trials, normalised EDFs, KS tests and
the models each needs, and per run the random-search efficiency, best-model intervals, refinement
and best models; statistics from fewer than `MIN_MODELS` models say so."""

from __future__ import annotations

import math
from typing import Any

from nas.analysis.result import GUIDED, Analysis, KsPair, RunResult, few, few_note
from nas.records.rows import Status
from nas.stats import power


def short(v: float) -> str:
    """A parameter value as titles and tables show it: integers plain, others to 3 significant digits."""
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.3g}"


def _fmt(v: Any, spec: str = ".2f") -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def needed_text(pair: KsPair, runs: dict[str, RunResult]) -> str:
    """The models-needed estimate of a pair in words, with what limits it."""
    need = pair.needed
    if need is None:
        return "not estimated (no bootstrap resamples)"
    if need.n is None:
        return f"cannot tell with this data ({need.why})"
    held = min(runs[pair.a].count, runs[pair.b].count)
    assumed = f"KS distance {need.effect:.2f}, the lower bound of the recorded {pair.ks:.2f}"
    limits = [f"more than the {held} recorded, so it extrapolates their EDFs"] if need.n > held else []
    return "; ".join(
        [f"{need.n:,} models per space (estimated power {need.power:.2f} at {assumed})", *limits]
    )


def decision(result: Analysis) -> str:
    """The analysis's answer in one sentence: the sequential comparison's decision where the sweep
    ran one, else which run has the lowest median error and which others the KS test tells apart
    from it at significance 1 - level (on complexity-normalised EDFs where there are some)."""
    if result.sequential:
        return result.sequential.sentence[0].upper() + result.sequential.sentence[1:]
    runs = {k: r for k, r in result.runs.items() if r.count}
    if not runs:
        return "No run has finished models yet: there is nothing to compare."
    norm = result.normalization.runs or {}
    normalised = len(runs) > 1 and all(k in norm for k in runs)
    median = {k: norm[k].median if normalised else r.median for k, r in runs.items()}
    best = min(median, key=lambda k: median[k])
    by = f", normalised by {result.normalization.by}" if normalised else ""
    head = f"{best} has the lowest median error ({median[best]:.2f}%{by}"
    if len(runs) == 1:
        r = runs[best]
        return f"One run: {best}, {r.count} models, median error {r.median:.2f}%, best {r.min:.2f}%."
    alpha = 1 - result.settings.level
    apart, close = [], []
    for k in result.ks:
        if best not in (k.a, k.b):
            continue
        other = k.b if k.a == best else k.a
        p = k.p_normalized if normalised and k.p_normalized is not None else k.p
        text = f"{other} ({median.get(other, float('nan')):.2f}%, KS p {p:.2g})"
        (apart if p < alpha else close).append(text)
    told = f"tells it apart from {', '.join(apart)}" if apart else ""
    untold = f"cannot tell it from {', '.join(close)}" if close else ""
    return f"{head}); the KS test {' but '.join(x for x in (told, untold) if x)} at significance {alpha:.2g}."


def compared(result: Analysis) -> list[str]:
    """What was compared, one line per run: space, how its models were chosen, how many finished
    of how many planned, and its folder."""
    out = []
    for name, r in result.runs.items():
        how = "chosen by guided search" if r.mode == "optimize" else "drawn at random"
        other = sum(v for k, v in r.statuses.items() if k != Status.OK)
        extra = f", {other} not ok" if other else ""
        extra += f", {r.pending} pending" if r.pending else ""
        out.append(
            f"{name}: {r.count} models of space {r.space} {how} ({r.planned} planned{extra}), from {r.dir}"
        )
    return out


def few_runs(runs: dict[str, RunResult]) -> list[str]:
    """Runs with some models in their EDF, but fewer than `MIN_MODELS`."""
    return [name for name, r in runs.items() if r.count and few(r.count)]


def format_report(result: Analysis) -> str:
    """Plain-text tables for the terminal."""
    runs = result.runs
    width = max([len(k) for k in runs] + [3])
    lines = [f"{'run':<{width}}  {'n':>5}  {'min':>7}  {'median':>7}  {'mean':>7}  not ok / planned"]
    for name, r in runs.items():
        bad = {k: v for k, v in r.statuses.items() if k != Status.OK}
        bad_txt = ", ".join(f"{v} {k}" for k, v in bad.items()) or "0"
        pending = f", {r.pending} pending" if r.pending else ""
        lines.append(
            f"{name:<{width}}  {r.count:>5}  {_fmt(r.min):>7}  {_fmt(r.median):>7}  {_fmt(r.mean):>7}  "
            f"{bad_txt} / {r.planned}{pending}"
        )
    fae = result.settings.failed_as_error
    how = (
        f"failed and diverged trials enter at error {fae:g}; stopped/rejected are counted, not plotted"
        if fae is not None
        else "other statuses are counted and listed, not plotted"
    )
    lines.append(f"errors are {result.error_meaning()} of trials with status ok; {how}")
    guided = result.guided()
    if guided:
        lines.append(f"note: {', '.join(guided)} {GUIDED}")
    for name, r in runs.items():
        if not r.count:
            lines.append(f"note: {name} has no finished models; it is counted above, not plotted or compared")
    for name in few_runs(runs):
        lines.append(f"note: {name}'s EDF band, intervals and refinement are {few_note(runs[name].count)}")
    for name, r in runs.items():
        for x in r.excluded[:5]:
            lines.append(f"  {name} #{x['trial_index']} {x['model_id']} {x['status']}: {x['reason'][:70]}")
        if len(r.excluded) > 5:
            lines.append(f"  {name}: {len(r.excluded) - 5} more not-ok trials (see --json or --report)")
    norm = result.normalization
    if norm.runs:
        lines.append("")
        lines.append(
            f"complexity-normalised ({norm.by}, {norm.kept_bins} shared log bins; weighted median/mean):"
        )
        for name, n in norm.runs.items():
            band = f"; band {few_note(n.count)}" if n.edf.few_models else ""
            lines.append(
                f"  {name:<{width}}  n={n.count:>5}  median {_fmt(n.median)}  mean {_fmt(n.mean)}"
                f"  ({n.outside} outside the shared bins{band})"
            )
    elif norm.note:
        lines.append(f"complexity normalisation: {norm.note}")
    if result.ks:
        lines.append("")
        lines.append("KS distance (sup |F_a - F_b|) and p-value; normalised: weighted EDFs, effective sizes:")
        for k in result.ks:
            extra = (
                f"   normalised {k.ks_normalized:.3f} (p {_fmt(k.p_normalized, '.3g')})"
                if k.ks_normalized is not None
                else ""
            )
            lines.append(f"  {k.a} vs {k.b}: {k.ks:.3f} (p {_fmt(k.p, '.3g')}){extra}")
        s = result.settings
        lines.append(
            f"models per space a new comparison needs for the KS test to separate them (p < "
            f"{1 - s.level:.2g} in {100 * s.power:g}% of {s.bootstrap} resamples, their difference "
            f"taken at its {power.CONFIDENCE:.0%} lower bound):"
        )
        lines.extend(f"  {k.a} vs {k.b}: {needed_text(k, runs)}" for k in result.ks)
    if result.sequential:
        lines += ["", f"sequential {result.sequential.sentence}"]  # "sequential comparison decided ..."
    for name, r in runs.items():
        lines.extend(_run_lines(name, r, result.settings.level, result.settings.subsample))
    lines.append("")
    if not any(r.count for r in runs.values()):
        lines.append("no figures or report: no run has finished models")
        return "\n".join(lines)
    if not result.figures:
        lines.append("no figures written: ask with --figures, --figure or --report")
        return "\n".join(lines)
    lines.append(f"EDF figure: {result.figure}")
    others = [str(v) for k, v in result.figures.items() if k != "edf"]
    if others:
        lines.append(f"other figures: {', '.join(others)}")
    if result.report:
        lines.append(f"report: {result.report}")
    return "\n".join(lines)


def _run_lines(name: str, r: RunResult, level: float, fraction: float) -> list[str]:
    """Per-run terminal lines: random search, best-model intervals of drawn values, refinement, best."""
    if not r.count:
        return []
    out = ["", f"{name}:"]
    ks, best = r.search.k, r.search.expected_best
    picks = [i for i, k in enumerate(ks) if k in (1, 10, 100, 1000, 10000) or i == len(ks) - 1]
    out.append("  expected best of k random models: " + ", ".join(f"k={ks[i]} {best[i]:.2f}" for i in picks))
    intervals = [p for p in r.params if "lo" in p and p["source"] == "drawn"]
    if intervals:
        fewest = min(p["n"] for p in intervals)
        note = f"; {few_note(fewest)}" if few(fewest) else ""
        out.append(
            f"  {100 * level:g}% interval of the best model's value ({100 * fraction:g}% subsamples{note}):"
        )
        out.append(
            "    "
            + "; ".join(
                f"{p['name']} [{short(p['lo'])}, {short(p['hi'])}] ~{short(p['median'])}" for p in intervals
            )
        )
    ref = r.refine
    narrowed = [c for c in ref.changes or [] if c["after"] != c["before"]]
    caveat = f" [{few_note(r.count)}]" if ref.few_models else ""
    if narrowed:
        inside = ref.inside
        out.append(
            f"  refined space ({', '.join(c['option'] for c in narrowed)} narrowed) holds {inside['count']} "
            f"models ({_fmt(100 * inside['share'], '.0f')}%), median {_fmt(inside['median'])} vs "
            f"{_fmt(r.median)}: {ref.command}{caveat}"
        )
    elif ref.changes:
        out.append(
            f"  refinement: the best-model intervals span every option's range; nothing to narrow yet{caveat}"
        )
    for b in r.best[:3]:
        out.append(f"  #{b['rank']} {b['model_id']} error {b['error']:.2f}  {b['export']}")
    return out

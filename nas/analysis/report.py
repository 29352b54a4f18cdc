"""The analysis report: one self-contained HTML page (figures embedded as base64 PNG or SVG, opens
from disk with no server; PDF figures linked beside it) and the same tables as CSV files beside it. Statistics from fewer than
`MIN_MODELS` models carry a `few_models` column and a visible note."""

from __future__ import annotations

import base64
import csv
import html
from pathlib import Path
from typing import Any

from nas.analysis.result import GUIDED, MIN_MODELS, Analysis, KsPair, few, few_note, jsonable
from nas.analysis.text import compared, decision, few_runs, needed_text
from nas.outputs import mark, replaceable, wrote
from nas.stats import power

SEARCH_KS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 10000)


def ks_row(pair: KsPair) -> dict[str, Any]:
    """A KS table row: the test, then the models-needed estimate in flat columns."""
    row = {k: v for k, v in jsonable(pair).items() if k != "needed"}
    need = pair.needed
    if need is not None:
        row.update(
            models_needed=need.n,
            power=need.power,
            target_power=need.target,
            alpha=need.alpha,
            largest_n=need.largest,
            assumed_ks=need.effect,
            why=need.why,
        )
    return row


def tables(result: Analysis) -> dict[str, list[dict[str, Any]]]:
    """Every table of the report as rows of plain values, keyed by CSV name."""
    runs = result.runs.items()
    norm = result.normalization.runs or {}
    out: dict[str, list[dict[str, Any]]] = {
        "summary": [
            {
                "run": name,
                "space": s.space,
                "in_edf": s.count,
                "min": s.min,
                "median": s.median,
                "mean": s.mean,
                "normalized_n": norm[name].count if name in norm else None,
                "normalized_median": norm[name].median if name in norm else None,
                "normalized_mean": norm[name].mean if name in norm else None,
                "planned": s.planned,
                "pending": s.pending,
                "few_models": few(s.count),
                **{f"status_{k}": v for k, v in s.statuses.items()},
                "dir": s.dir,
            }
            for name, s in runs
        ],
        "ks": [ks_row(k) for k in result.ks],
        "not_ok": [{"run": name, **x} for name, s in runs for x in s.excluded],
        "best": [{"run": name, **b} for name, s in runs for b in s.best],
        "pareto": [
            {"run": name, "measure": k, **p}
            for name, s in runs
            for k, front in s.pareto.items()
            for p in front
        ],
        "search": [
            {"run": name, "k": k, "expected_best": e}
            for name, s in runs
            for k, e in zip(s.search.k, s.search.expected_best)
        ],
        "intervals": [
            {
                "run": name,
                "param": p["name"],
                "source": p.get("source"),
                "kind": p["kind"],
                "n": p.get("n"),
                "subsample": p.get("subsample"),
                "lo": p.get("lo"),
                "median": p.get("median"),
                "hi": p.get("hi"),
                "shares": "; ".join(f"{c}: {v:.3f}" for c, v in p.get("shares", {}).items()),
                "few_models": p.get("few_models"),
            }
            for name, s in runs
            for p in s.params
        ],
        "trends": [
            {"run": name, "param": p["name"], **{k: v[i] for k, v in p["trend"].items()}}
            for name, s in runs
            for p in s.params
            if "trend" in p
            for i in range(len(p["trend"]["x"]))
        ],
        "refine": [
            {"run": name, **c, "params": " ".join(c["params"]), "few_models": s.refine.few_models}
            for name, s in runs
            for c in s.refine.changes or []
        ],
        "regimes": [
            {"run": name, **lowest(reg, param, t)}
            for name, s in runs
            for reg in s.regimes
            for param, t in reg["trends"].items()
        ],
        "efit": [{"run": name, **f} for name, fits in result.linear_fits.items() for f in fits],
    }
    return jsonable(out)


def lowest(regime: dict[str, Any], param: str, trend: dict[str, Any]) -> dict[str, Any]:
    """One regime's trend of one parameter in a row: where its median error is lowest, and the spread
    of the bin medians (how much the parameter matters within the regime)."""
    med = [m for m in trend["median"] if m == m]
    at = trend["median"].index(min(med)) if med else None
    return {
        "regime": regime["regime"],
        "flops_lo": round(regime["lo"]),
        "flops_hi": round(regime["hi"]),
        "models": regime["count"],
        "param": param,
        "lowest_at": trend["x"][at] if at is not None else None,
        "lowest_median": min(med) if med else None,
        "highest_median": max(med) if med else None,
        "bins": len(trend["x"]),
    }


HEADERS = {  # each table's leading columns, so that an empty table still has its header
    "summary": ["run", "space", "in_edf", "min", "median", "mean"],
    "ks": ["a", "b", "ks", "p"],
    "not_ok": ["run", "trial_index", "model_id", "status", "reason", "in_edf"],
    "best": ["run", "rank", "trial_index", "model_id", "error", "flops", "params", "acts", "export"],
    "pareto": ["run", "measure", "model_id", "error"],
    "search": ["run", "k", "expected_best"],
    "intervals": ["run", "param", "source", "kind", "n", "subsample", "lo", "median", "hi"],
    "trends": ["run", "param"],
    "refine": ["run", "option", "kind", "params", "before", "after", "few_models"],
    "regimes": ["run", "regime", "flops_lo", "flops_hi", "models", "param", "lowest_at", "lowest_median"],
    "efit": ["run", "model_id", "error", "w_0", "w_a", "w_m", "e_fit"],
}


def write_csv(path: Path, rows: list[dict[str, Any]], header: list[str] | tuple[str, ...] = ()) -> Path:
    """Rows as CSV with LF line ends: the `header` columns, then the others in first-seen order."""
    columns: dict[str, None] = dict.fromkeys(header)
    for row in rows:
        columns.update(dict.fromkeys(row))
    with open(replaceable(path), "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return wrote(path)


WORDS = {  # the CSV's column names, in words a reader of the page expects
    "in_edf": "in EDF",
    "normalized_n": "normalised n",
    "normalized_median": "normalised median",
    "normalized_mean": "normalised mean",
    "few_models": f"under {MIN_MODELS} models",
    "ks": "KS distance",
    "p": "p-value",
    "ks_normalized": "KS normalised",
    "p_normalized": "p normalised",
    "n_eff_a": "effective n (a)",
    "n_eff_b": "effective n (b)",
    "largest_n": "largest n tried",
    "assumed_ks": "KS assumed",
    "why": "why not",
    "flops_lo": "FLOPs from",
    "flops_hi": "FLOPs to",
    "lowest_at": "lowest median error at",
    "lowest_median": "lowest median",
    "highest_median": "highest median",
}


def _header(column: str) -> str:
    """A column's name on the page: its word from WORDS, a status count by its status."""
    return WORDS.get(column) or column.removeprefix("status_").replace("_", " ")


def _cell(v: Any) -> str:
    """A value on the page: yes/blank for flags, grouped integers, two decimals (three significant
    digits below 1, as p-values and KS distances need), lists joined."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else ""
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) >= 1e3):
        return f"{v:,.0f}"
    if isinstance(v, float):
        return f"{v:.2f}" if abs(v) >= 1 else f"{v:.3g}"
    if isinstance(v, list):
        return html.escape(", ".join(_cell(x) for x in v))
    return html.escape(str(v))


def html_table(rows: list[dict[str, Any]], columns: list[str] | None = None, limit: int = 200) -> str:
    """An HTML table of the first `limit` rows."""
    if not rows:
        return "<p class='note'>none</p>"
    columns = columns or list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{html.escape(_header(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(row.get(c))}</td>" for c in columns) + "</tr>" for row in rows[:limit]
    )
    more = f"<p class='note'>{len(rows) - limit} more rows in the CSV</p>" if len(rows) > limit else ""
    return f"<div class='wide'><table><tr>{head}</tr>{body}</table></div>{more}"


MIME = {".png": "image/png", ".svg": "image/svg+xml"}


def image(path: Path, alt: str) -> str:
    """A PNG or SVG embedded as a base64 data URI; a PDF (no browser shows one inline) linked beside."""
    path = Path(path)
    if path.suffix not in MIME:
        return f"<p><a href='{html.escape(path.name)}'>{html.escape(alt)} ({html.escape(path.name)})</a></p>"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"<img alt='{html.escape(alt)}' src='data:{MIME[path.suffix]};base64,{data}'>"


STYLE = """
body{font-family:system-ui,sans-serif;max-width:1500px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}h3{font-size:1em}
table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #eee}
.note{color:#555;font-size:0.9em}code{background:#f3f3f3;padding:0 3px}
.wide{overflow-x:auto;max-width:100%}.decision{font-size:1.1em;font-weight:600}
"""


def method_notes(result: Analysis) -> str:
    """How each statistic was computed, in the report's words."""
    s = result.settings
    fae = s.failed_as_error
    failed = (
        f"Failed and diverged trials enter every curve at error {fae:g}%; stopped and rejected ones are "
        "counted and listed but not plotted."
        if fae is not None
        else "Trials that are not ok (failed, diverged, stopped, rejected) are left out of every curve, "
        "counted in the summary and listed below with their reasons (--failed-as-error X enters failed "
        "and diverged ones at error X)."
    )
    level = f"{100 * s.level:g}%"
    guided = result.guided()
    guided_note = [f"{', '.join(guided)} {GUIDED}."] if guided else []
    return "".join(
        f"<li>{t}</li>"
        for t in (
            "EDF: F(e) = fraction of models with error below e; the shaded band is the pointwise "
            f"{level} interval of {s.bootstrap} bootstrap resamples of the models.",
            failed,
            "Normalised EDF (Radosavovic et al. 2019): the complexity range all runs share is cut into "
            "log-spaced bins, bins empty in any run are dropped, and each of the m_j models of bin j "
            "(of k kept) weighs 1/(k m_j), so every run has the same, uniform complexity distribution; "
            "models outside the kept bins weigh 0. Its band resamples within each bin.",
            "KS: sup |F_a - F_b| with the exact two-sample p-value (as scipy's ks_2samp); for normalised EDFs the p-value is the "
            "asymptotic Kolmogorov tail at D sqrt(n_a n_b / (n_a + n_b)) with Kish effective sizes "
            "n = (sum w)^2 / sum w^2.",
            "Best-model bootstrap (Radosavovic et al. 2020): draw "
            f"{100 * s.subsample:g}% of the models with replacement, keep the best, record its value; "
            f"the {level} interval of that value is computed exactly (the limit of infinitely many "
            "draws), from each model's probability of being the best of a subsample.",
            "Models needed: how many models per space a new comparison of the two spaces needs. "
            "The recorded KS distance overstates the spaces' own (it is biased upward, the more so "
            f"the fewer the models), so it is planned at its {power.CONFIDENCE:.0%} lower confidence "
            "bound (basic bootstrap: twice the recorded distance less that quantile of resampled "
            "ones); both runs' EDFs are drawn toward each other until they are that far apart, n "
            f"errors are drawn with replacement from each ({s.bootstrap} times) and the KS test is "
            f"applied at significance {1 - s.level:.2g}; the smallest n whose share of rejections "
            f"reaches {s.power:g} (bisection, up to {power.REACH} times the larger run and at least "
            f"{power.FLOOR}) is reported. A pair whose recorded difference is not significant, or "
            "whose bound is 0, cannot be planned for: the data cannot tell a difference from noise.",
            f"Statistics from fewer than {MIN_MODELS} models (bootstrap bands, best-model intervals, "
            "trend bins, refinements) are labelled few_models here and in the JSON, and marked in the "
            "figures: they are indicative only.",
            "Random-search efficiency: the expected best error of k models drawn at random (with "
            "replacement) from the run, in closed form from the sorted errors.",
            "Refinement: each drawn parameter's interval is mapped onto the space's options "
            "(shared options cover every stage); the refined EDF shows the models those options "
            "still allow.",
            *guided_note,
        )
    )


def page(result: Analysis, t: dict[str, list[dict[str, Any]]]) -> str:
    """The report's HTML, in the order a reader asks: what was compared, the decision in a sentence,
    the figures, then the tables and how the numbers are computed."""
    figures = result.figures
    names = list(result.runs)
    parts = [
        f"<h1>Design-space comparison: {html.escape(', '.join(names))}</h1>",
        "<h2>What was compared</h2>",
        "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in compared(result)) + "</ul>",
        f"<p class='note'>{html.escape(f'Error: {result.error_meaning()} of each trained model; lower is better.')}</p>",
        "<h2>Decision</h2>",
        f"<p class='decision'>{html.escape(decision(result))}</p>",
    ]
    parts += [
        f"<p class='note'>{html.escape(name)}: EDF band, intervals and refinement are "
        f"{html.escape(few_note(result.runs[name].count))}</p>"
        for name in few_runs(result.runs)
    ]
    parts += ["<h2>Figures</h2>", "<h3>Error distribution functions</h3>", image(figures["edf"], "EDF")]
    norm = result.normalization
    if "edf_normalized" in figures:
        parts.append(image(figures["edf_normalized"], "normalised EDF"))
        parts.append(
            f"<p class='note'>normalised by {norm.by}: {norm.kept_bins} shared log bins; models outside "
            + ", ".join(f"{html.escape(k)} {v.outside}" for k, v in (norm.runs or {}).items())
            + "</p>"
        )
    elif norm.note:
        parts.append(f"<p class='note'>{html.escape(norm.note)}</p>")
    if result.sequential:
        parts += [
            "<h3>Sequential comparison</h3>",
            image(figures["sequential"], "sequential comparison path"),
        ]
    parts += ["<h3>Error against complexity</h3>", image(figures["complexity"], "error vs complexity")]
    parts += ["<h3>Random-search efficiency</h3>", image(figures["search"], "random search")]
    for name in names:
        if f"trends_{name}" in figures:
            parts += [
                f"<h3>Design parameters: {html.escape(name)}</h3>",
                image(figures[f"trends_{name}"], name),
            ]
        if f"refine_{name}" in figures:
            parts += [f"<h3>Refined space: {html.escape(name)}</h3>", image(figures[f"refine_{name}"], name)]
    for name in names:
        if f"regimes_{name}" in figures:
            title = f"Trends by FLOPs regime: {html.escape(name)}"
            parts += [f"<h3>{title}</h3>", image(figures[f"regimes_{name}"], title)]
    if "efit" in figures:
        title = "Quantised linear fit of the widths (e_fit, RegNet paper section 3.3)"
        parts += [f"<h3>{title}</h3>", image(figures["efit"], "error against e_fit")]
    parts += ["<h2>Tables</h2>", "<h3>Summary</h3>", html_table(t["summary"])]
    parts += ["<h3>Kolmogorov-Smirnov tests</h3>", html_table(t["ks"])]
    if result.ks:
        parts.append("<h3>Models per space the KS test needs</h3>")
        parts.append(
            "<ul>"
            + "".join(
                f"<li>{html.escape(f'{k.a} vs {k.b}: {needed_text(k, result.runs)}')}</li>" for k in result.ks
            )
            + "</ul>"
        )
    if result.sequential:
        parts += ["<h3>Sequential comparison</h3>", f"<p>{html.escape(result.sequential.sentence)}</p>"]
    parts += ["<h3>Best models</h3>", html_table(t["best"])]
    for name, s in result.runs.items():
        parts.append(f"<h3>Where the best models of {html.escape(name)} lie</h3>")
        parts.append(html_table([row for row in t["intervals"] if row["run"] == name]))
        ref = s.refine
        parts.append(f"<h3>Refined space of {html.escape(name)}</h3>")
        if ref.few_models:
            parts.append(f"<p class='note'>refined from intervals {html.escape(few_note(s.count))}</p>")
        if ref.changes:
            parts.append(f"<p>write it with <code>{html.escape(ref.command)}</code></p>")
            parts.append(html_table([row for row in t["refine"] if row["run"] == name]))
            if ref.unmapped:
                parts.append(html_table(ref.unmapped))
            if f"refine_{name}" not in figures:
                why = "no model of the run lies inside every refined range"
                if ref.inside["count"]:
                    why = "the intervals span every option's range: nothing narrowed yet"
                parts.append(f"<p class='note'>{why}</p>")
        else:
            parts.append(f"<p class='note'>{html.escape(ref.note or 'no option could be narrowed')}</p>")
    for key, title in (
        ("regimes", "Trends by FLOPs regime: where each regime's median error is lowest"),
        ("efit", "Quantised linear fit per model"),
    ):
        if t.get(key):
            parts += [f"<h3>{title}</h3>", html_table(t[key])]
    parts.append("<h3>Random-search efficiency</h3>")
    parts.append(
        html_table([row for row in t["search"] if row["k"] in SEARCH_KS or _last_k(row, t["search"])])
    )
    parts += ["<h3>Trials not in the EDF (or entered at --failed-as-error)</h3>", html_table(t["not_ok"])]
    parts += ["<h2>How these numbers are computed</h2>", f"<ul>{method_notes(result)}</ul>"]
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>nas analyze report</title>"
        f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>"
    )


def _last_k(row: dict[str, Any], rows: list[dict[str, Any]]) -> bool:
    same = [x["k"] for x in rows if x["run"] == row["run"]]
    return bool(same) and row["k"] == max(same)


def write_report(result: Analysis, out: Path) -> Path:
    """Write index.html and one CSV per table into `out`, figures read from `result.figures`;
    returns the HTML path."""
    mark(out)
    t = tables(result)
    for name, rows in t.items():
        write_csv(out / f"{name}.csv", rows, HEADERS[name])
    path = out / "index.html"
    replaceable(path).write_text(page(result, t), encoding="utf-8")
    return wrote(path)

"""`nas analyze`: compare runs (design spaces) by the EDF of their final errors."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from nas import store
from nas.edf import ks_distance, summary
from nas.plot import edf_figure


def run_label(run: Path, rows: list[dict[str, Any]]) -> str:
    """A run's curve label: its space name, or its folder when rows name none."""
    return rows[0]["space"] if rows and rows[0].get("space") else run.name


def collect(runs: list[Path]) -> dict[str, dict[str, Any]]:
    """Per run: final errors of ok trials and the counts of every other status."""
    out: dict[str, dict[str, Any]] = {}
    for run in runs:
        rows = store.rows(run)
        label = run_label(run, rows)
        if label in out:
            label = f"{label} ({run})"
        statuses: dict[str, int] = {}
        for r in rows:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        errors = np.array([r["error"] for r in rows if r["status"] == "ok"], dtype=float)
        out[label] = {
            "dir": str(run),
            "errors": errors,
            "statuses": statuses,
            "planned": len(store.plan(run)),
        }
    return out


def analyze(runs: list[Path], figure: Path | None = None, log: bool = False) -> dict[str, Any]:
    """Statistics of every run plus pairwise KS distances; writes the EDF figure."""
    data = collect(runs)
    figure = figure or runs[0] / "edf.png"
    edf_figure({k: v["errors"] for k, v in data.items()}, figure, log=log)
    table = {
        k: {**summary(v["errors"]), "statuses": v["statuses"], "planned": v["planned"], "dir": v["dir"]}
        for k, v in data.items()
    }
    ks = [
        {"a": a, "b": b, "ks": ks_distance(data[a]["errors"], data[b]["errors"])}
        for a, b in combinations(data, 2)
        if len(data[a]["errors"]) and len(data[b]["errors"])
    ]
    return {"runs": table, "ks": ks, "figure": str(figure)}


def format_report(result: dict[str, Any]) -> str:
    """Plain-text tables for the terminal."""
    width = max([len(k) for k in result["runs"]] + [3])
    lines = [f"{'run':<{width}}  {'n':>5}  {'min':>7}  {'median':>7}  {'mean':>7}  not ok / planned"]
    for name, s in result["runs"].items():
        bad = {k: v for k, v in s["statuses"].items() if k != "ok"}
        bad_txt = ", ".join(f"{v} {k}" for k, v in bad.items()) or "0"
        lines.append(
            f"{name:<{width}}  {s['count']:>5}  {s['min']:>7.2f}  {s['median']:>7.2f}  {s['mean']:>7.2f}  "
            f"{bad_txt} / {s['planned']}"
        )
    lines.append(
        "errors are top-1 validation error (%) of trials with status ok; other statuses are counted, not plotted"
    )
    if result["ks"]:
        lines.append("")
        lines.append("KS distance (sup |F_a - F_b|):")
        for k in result["ks"]:
            lines.append(f"  {k['a']} vs {k['b']}: {k['ks']:.3f}")
    lines.append("")
    lines.append(f"EDF figure: {result['figure']}")
    return "\n".join(lines)

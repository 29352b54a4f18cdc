"""Trends by complexity regime, as the RegNet paper reads them at 200MF, 400MF, 800MF and beyond:
models are binned by FLOPs into regimes a factor of two apart, each named by its nominal FLOPs
(200MF times a power of two) and holding the models within a factor sqrt(2) of it, and each design
parameter's binned trend (`nas.analysis.trends.numeric_trend`) is computed within each regime.

A regime of fewer than `MIN_MODELS` models is left out; of the rest, the `MOST` most populated are
kept, in FLOPs order. A trend that holds in every regime is a property of the space; one that turns
between regimes depends on the budget (the paper's finding on depth and width multiplier)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nas.analysis.result import MIN_MODELS
from nas.analysis.trends import numeric_trend

NOMINAL = 200e6  # the paper's smallest ImageNet regime; regimes are this times powers of two
MOST = 4
BINS = 5  # quantile bins per parameter within a regime (a regime holds a fraction of the run)


def name(flops: float) -> str:
    """A regime's name from its nominal FLOPs, to three digits: "200MF", "1.6GF", "97.7KF"."""
    for scale, suffix in ((1e9, "GF"), (1e6, "MF"), (1e3, "KF")):
        if flops >= scale:
            return f"{flops / scale:.3g}{suffix}"
    return f"{flops:.3g}F"


def assign(flops: np.ndarray) -> np.ndarray:
    """Each model's regime as the power k of two with nominal NOMINAL 2^k nearest its FLOPs on a log
    scale (within a factor sqrt(2)); a missing or non-positive count gets no regime (a huge negative k)."""
    flops = np.asarray(flops, dtype=float)
    ok = np.isfinite(flops) & (flops > 0)
    out = np.full(len(flops), np.iinfo(np.int64).min, dtype=np.int64)
    out[ok] = np.floor(np.log2(flops[ok] / NOMINAL) + 0.5).astype(np.int64)
    return out


def regimes(flops: np.ndarray, least: int = MIN_MODELS, most: int = MOST) -> list[dict[str, Any]]:
    """The regimes kept, in FLOPs order: name, nominal FLOPs, range [lo, hi) and the models' rows."""
    k = assign(flops)
    levels, counts = np.unique(k[k > np.iinfo(np.int64).min], return_counts=True)
    full = [(c, lv) for lv, c in zip(levels, counts) if c >= least]
    kept = sorted(lv for _, lv in sorted(full, key=lambda x: (-x[0], x[1]))[:most])
    out = []
    for lv in kept:
        nominal = NOMINAL * 2.0 ** int(lv)
        out.append(
            {
                "regime": name(nominal),
                "nominal": nominal,
                "lo": nominal / math.sqrt(2),
                "hi": nominal * math.sqrt(2),
                "rows": np.flatnonzero(k == lv),
            }
        )
    return out


def regime_trends(
    flops: np.ndarray, values: dict[str, np.ndarray], errors: np.ndarray, names: list[str]
) -> list[dict[str, Any]]:
    """Per kept regime: its name, FLOPs range, model count and the binned trend of each numeric
    parameter in `names` over the regime's models with a finite error and value."""
    out = []
    for reg in regimes(flops):
        rows = reg["rows"][np.isfinite(errors[reg["rows"]])]
        if len(rows) < MIN_MODELS:
            continue
        trends = {}
        for n in names:
            x = values[n]
            if x.dtype.kind != "f":
                continue
            keep = rows[np.isfinite(x[rows])]
            if len(np.unique(x[keep])) > 1:
                trends[n] = numeric_trend(x[keep], errors[keep], bins=BINS)
        out.append(
            {
                "regime": reg["regime"],
                "lo": reg["lo"],
                "hi": reg["hi"],
                "count": int(len(rows)),
                "trends": trends,
            }
        )
    return out

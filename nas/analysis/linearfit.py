"""The RegNet paper's quantised linear fit of a model's per-block widths (Radosavovic et al. 2020,
section 3.3): for the model's depth d, the w_0, w_a, w_m whose widths u_j = w_0 + w_a j, quantised
to w_0 w_m^round(log(u_j / w_0) / log w_m) and to multiples of 8 (blocks.widths), come closest to
the model's, and that distance e_fit: the mean absolute log-ratio of predicted to observed widths.
The paper finds good AnyNetX_E models fit well (small e_fit) and uses it to motivate RegNet.

The fit is a grid search, as in the paper, in two passes: first w_0 on multiples of 8 within a
factor of 1.5 of the first block's width (the first predicted width is w_0 itself), w_a on
`SLOPES` steps from 0 to twice the widest block over d - 1, and w_m on 0.1 steps over the paper's
[1.5, 3]; then a grid five to ten times finer in w_a and w_m around each of the `NEAR` best points.
`fit_models` fits a run's models (at most `MODELS` of them) for the analysis's e_fit figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Q = 8  # widths are multiples of 8, as blocks.widths quantises them
SLOPES = 32
RATIOS = np.round(np.arange(1.5, 3.0001, 0.1), 2)  # the paper's RegNet range of w_m, coarse pass
NEAR = 4  # the finer pass searches around this many of the coarse pass's best points


@dataclass(frozen=True)
class LinearFit:
    """The best quantised linear parameters of one model's widths and their fit error."""

    w_0: float
    w_a: float
    w_m: float
    e_fit: float


def block_widths(depths: Sequence[int], widths: Sequence[int]) -> np.ndarray:
    """Each block's output width, stage by stage (a stage of depth d repeats its width d times)."""
    return np.repeat(np.asarray(widths, dtype=float), np.asarray(depths, dtype=int))


def fit(depths: Sequence[int], widths: Sequence[int]) -> LinearFit:
    """The w_0, w_a, w_m with the smallest e_fit for a model of these stage depths and widths."""
    observed = block_widths(depths, widths)
    first = observed[0]
    w0 = np.arange(max(Q, Q * np.floor(first / 1.5 / Q)), Q * np.ceil(first * 1.5 / Q) + 1, Q)
    # u_(d-1) is within a factor sqrt(w_m) <= 1.8 of the last predicted width: w_a needs no more
    top = 2 * observed.max() / max(1, len(observed) - 1)
    step = top / SLOPES
    coarse = _search(observed, w0, np.linspace(0.0, top, SLOPES + 1), RATIOS)
    best = coarse[0]
    for point in coarse[: 0 if best.e_fit == 0 else NEAR]:
        fine_a = np.clip(point.w_a + np.linspace(-step, step, 11), 0.0, None)
        fine_m = np.clip(np.round(point.w_m + np.linspace(-0.1, 0.1, 21), 3), 1.5, 3.0)
        w0_near = np.clip(point.w_0 + np.array([-Q, 0, Q]), Q, None)
        best = min(best, _search(observed, w0_near, fine_a, fine_m)[0], key=lambda f: f.e_fit)
    return best


def _search(observed: np.ndarray, w0: np.ndarray, wa: np.ndarray, wm: np.ndarray) -> list[LinearFit]:
    """The `NEAR` grid points of w0 x wa x wm whose quantised widths are closest to `observed`, best first."""
    g0, ga, gm = np.meshgrid(w0, wa, wm, indexing="ij")
    u = g0[..., None] + ga[..., None] * np.arange(len(observed))
    steps = np.round(np.log(u / g0[..., None]) / np.log(gm[..., None]))
    pred = np.maximum(Q, np.round(g0[..., None] * gm[..., None] ** steps / Q) * Q)
    err = np.abs(np.log(pred / observed)).mean(axis=-1).ravel()
    order = np.argsort(err, kind="stable")[:NEAR]
    g0, ga, gm = g0.ravel(), ga.ravel(), gm.ravel()
    return [LinearFit(float(g0[i]), float(ga[i]), float(gm[i]), float(err[i])) for i in order]


MODELS = 120  # models fitted per run for the figure: the fit is a grid search of about 10 ms a model


def fit_models(
    depths: np.ndarray, widths: np.ndarray, errors: np.ndarray, rng: np.random.Generator, limit: int = MODELS
) -> list[tuple[int, LinearFit]]:
    """(row, fit) for the models of a run with known stage depths and widths, rows as in `errors`:
    every one when there are at most `limit`, else the best quarter of `limit` and a random draw of
    the others, so the good models the paper looks at are always there."""
    known = np.flatnonzero(
        np.isfinite(errors)
        & (np.isfinite(depths) == np.isfinite(widths)).all(axis=1)
        & np.isfinite(depths[:, 0])
        if depths.size
        else np.zeros(0, dtype=bool)
    )
    if len(known) > limit:
        order = known[np.argsort(errors[known], kind="stable")]
        best, rest = order[: limit // 4], order[limit // 4 :]
        known = np.sort(np.concatenate([best, rng.choice(rest, limit - len(best), replace=False)]))
    out = []
    for i in known:
        stages = np.isfinite(depths[i]) & (depths[i] > 0)
        out.append((int(i), fit(depths[i][stages].astype(int), widths[i][stages])))
    return out

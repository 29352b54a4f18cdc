"""A synthetic trainer for AnyNet explorations: error is a known function of the drawn d, w, b, g
plus noise, so an exploration's decisions can be checked against planted truths without training.

`draw` samples an AnyNet{X,Y}_{A..E} space by the laws spaces/anynet.py follows (pycls' quantised
log-uniform d_i and w_i, b and g uniform over their lists, shared b from B on, shared g from C on,
ordered widths from D on and ordered depths in E, by rejection), vectorised over models, without
the width/group compatibility adjustment a real spec gets; a RegNet{X,Y} space (the linear width
law's candidate) by spaces/regnet.py's laws and its stage rule, model by model.
`Truth.errors` turns drawn values into errors: a cost model falling with log complexity, plus the
planted effects, plus Gaussian noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from nas.exploring.candidates import Candidate, Round, variant
from nas.exploring.path import Runner, Settings, Step, explore
from nas.stats import noninferiority as ni

Q = 8  # widths are multiples of 8 (blocks.widths)


@dataclass(frozen=True)
class Truth:
    """Planted effects (error points): each decreasing width step costs `width_drop`; each block
    beyond `depth_limit` in a stage costs `deep_block`; ordered depths cost `ordered_depths`;
    irregular stage growth costs `irregular` per unit of `irregularity` (a stand-in for e_fit that
    is cheap enough for thousands of explorations; 0: the law plays no part); a model drawn from a
    RegNet space costs `regnet` (a harmful law, for the harm scenario); b and g have no effect at
    all. Error also falls by `slope` per decade of complexity."""

    width_drop: float = 1.5
    depth_limit: int = 8
    deep_block: float = 0.5
    ordered_depths: float = 0.0
    irregular: float = 0.0
    regnet: float = 0.0
    slope: float = 3.0
    base: float = 40.0
    noise: float = 2.0

    def errors(self, v: dict[str, np.ndarray], flops: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Errors of models with per-stage arrays d, w (models x stages) and complexities `flops`
        (a RegNet draw also carries r_w0 ..)."""
        d, w = v["d"], v["w"]
        drops = np.sum(w[:, 1:] < w[:, :-1], axis=1)
        deep = np.sum(np.maximum(d - self.depth_limit, 0), axis=1)
        ordered = np.all(d[:, 1:] >= d[:, :-1], axis=1)
        e = self.base - self.slope * np.log10(flops)
        e = e + self.width_drop * drops + self.deep_block * deep + self.ordered_depths * ordered
        if self.irregular:
            e = e + self.irregular * irregularity(w)
        if self.regnet and "r_w0" in v:
            e = e + self.regnet
        return e + rng.normal(0.0, self.noise, len(e))


def irregularity(w: np.ndarray) -> np.ndarray:
    """How far each model's widths are from growing by one ratio a stage: the spread (max - min) of
    the log ratios of consecutive stage widths. Under the quantised linear law stage k is about
    w_0 w_m^k wide, so a RegNet scores near 0 (median 0.025 against AnyNetX_E's 1.6, d <= 8); on
    AnyNetX_E models it correlates 0.75 with e_fit."""
    return np.ptp(np.diff(np.log(w), axis=1), axis=1)


def flops(v: dict[str, np.ndarray], resolution: int = 32) -> np.ndarray:
    """A complexity stand-in of the X block per model: per stage d (2 w^2 / b + 9 (w / b) g) on a
    map that halves each stage, from `resolution` / 2."""
    d, w, b, g = v["d"], v["w"], v["b"], v["g"]
    side = resolution / 2.0 ** (1 + np.arange(d.shape[1]))
    per_block = 2 * w**2 / b + 9 * (w / b) * g
    return np.sum(d * per_block * side**2, axis=1)


def _quantised(
    rng: np.random.Generator, shape: tuple[int, int], low: int, high: int, q: int, law: str
) -> np.ndarray:
    """Values of spaces.draw.law_value's `law` ("log_uniform" or "uniform") on [low, high], step q."""
    if law == "uniform":
        return q * np.floor(rng.uniform(low, high + q, shape) / q)
    a, b = math.log(low - min(q, low / 2)), math.log(high)
    return q * np.ceil(np.exp(b - rng.uniform(0.0, b - a, shape)) / q)


def _vector(
    rng: np.random.Generator, n: int, s: int, low: int, high: int, q: int, law: str, ordered: bool
) -> np.ndarray:
    """n rows of s values, each row redrawn until ordered when `ordered` (the conditioned law)."""
    out = _quantised(rng, (n, s), low, high, q, law)
    if not ordered:
        return out
    bad = np.any(out[:, 1:] < out[:, :-1], axis=1)
    while bad.any():
        out[bad] = _quantised(rng, (int(bad.sum()), s), low, high, q, law)
        bad = np.any(out[:, 1:] < out[:, :-1], axis=1)
    return out


def _law(rng: np.random.Generator, n: int, law: str, low: float, high: float, q: float) -> np.ndarray:
    """n values of any spaces.draw.law_value law on [low, high], step q, vectorised (float
    arithmetic where law_value rounds in decimal: a value may differ from it in the last digit)."""
    if law in ("uniform", "log_uniform"):
        return _quantised(rng, (n,), low, high, q, law)
    e = np.floor(rng.uniform(math.log2(low), math.log2(high) + 1, n))
    if law == "power2_uniform":
        return q * np.floor(2.0**e / q)
    small = low * np.floor(2.0**e / low)  # power2_or_log_uniform: a power of two below q, else log-uniform
    return np.where(small >= q, _quantised(rng, (n,), max(low, q), high, min(high, q), "log_uniform"), small)


def draw_regnet(opt: dict[str, Any], n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """n models of a RegNet space with resolved options `opt` whose stage count is fixed: arrays
    d, w, b, g (n x stages) and the drawn d, w0, wa, wm (n), each model redrawn until its widths
    use every level and make `stages` stages, as spaces/regnet.py requires (blocks.widths'
    regnet_widths, vectorised: widths never fall along the blocks, so a stage starts where one rises)."""
    from blocks.errors import ParamError
    from spaces.regnet import ranges

    s = opt["stages"][0]
    if opt["stages"][1] != s:
        raise ParamError(
            "stages", f"{opt['stages']}: the synthetic trainer draws one stage count; legal: [s, s]"
        )
    laws = ranges(opt)
    kept: list[dict[str, np.ndarray]] = []
    got = tries = 0
    while got < n:
        m = 4 * (n - got) + 64
        tries += m
        if tries > 1000 * n:
            raise ParamError("stages", f"{opt}: fewer than 1 in 1000 draws make {s} stages")
        v = {k: _law(rng, m, *laws[k]) for k in laws}
        j = np.arange(int(v["d"].max()))
        live = j < v["d"][:, None]
        u = v["w0"][:, None] + v["wa"][:, None] * j
        steps = np.where(live, np.round(np.log(u / v["w0"][:, None]) / np.log(v["wm"][:, None])), -1)
        widths = np.where(live, np.round(v["w0"][:, None] * v["wm"][:, None] ** steps / Q) * Q, np.nan)
        rises = np.diff(widths, axis=1) > 0
        stages = 1 + rises.sum(axis=1)
        ok = (stages == s) & (steps.max(axis=1) + 1 == s)
        first = (np.concatenate([np.ones((m, 1), bool), rises], axis=1) & live)[ok]  # s a row
        w = widths[ok][first].reshape(-1, s)
        starts = np.concatenate([np.nonzero(first)[1].reshape(-1, s), v["d"][ok][:, None]], axis=1)
        rows = np.flatnonzero(ok)
        d = np.diff(starts, axis=1).astype(float)
        kept.append({"d": d, "w": w, **{f"r_{k}": v[k][rows] for k in v}})
        got += len(rows)
    cat = {k: np.concatenate([x[k] for x in kept])[:n] for k in kept[0]}
    shared = {k: np.broadcast_to(cat.pop(f"r_{k}")[:, None], cat["d"].shape) for k in ("b", "g")}
    return {**cat, **shared}


def draw(space: str, opt: dict[str, Any], n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """n models of AnyNet or RegNet space `space` with resolved options `opt`: arrays d, w, b, g
    (n x stages), and for RegNet its drawn values (r_d, r_w0, r_wa, r_wm)."""
    if space.startswith("regnet_"):
        return draw_regnet(opt, n, rng)
    v, s, step = variant(space), opt["stages"], opt["width_step"]
    lo_w = max(step, -(-opt["min_width"] // step) * step)
    hi_w = opt["max_width"] // step * step
    d = _vector(rng, n, s, 1, opt["max_depth"], 1, opt["law"], v == "e")
    w = _vector(rng, n, s, lo_w, hi_w, step, opt["law"], v in "de")
    b_list, g_list = np.asarray(opt["bottleneck_ratios"], float), np.asarray(opt["group_widths"], float)
    b = b_list[rng.integers(0, len(b_list), (n, 1 if v != "a" else s))]
    g = g_list[rng.integers(0, len(g_list), (n, 1 if v in "cde" else s))]
    return {"d": d, "w": w, "b": np.broadcast_to(b, (n, s)), "g": np.broadcast_to(g, (n, s))}


def params(space: str, v: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The drawn values under the names a real run records: d1.., w1.., b or b1.., g or g1.. (RegNet:
    d, w0, wa, wm, b, g)."""
    if space.startswith("regnet_"):
        return {**{k[2:]: v[k] for k in v if k.startswith("r_")}, "b": v["b"][:, 0], "g": v["g"][:, 0]}
    s, letter = v["d"].shape[1], variant(space)
    out = {f"{k}{i + 1}": v[k][:, i].astype(float) for k in "dw" for i in range(s)}
    for k, shared in (("b", letter != "a"), ("g", letter in "cde")):
        out.update({k: v[k][:, 0].astype(float)} if shared else {f"{k}{i + 1}": v[k][:, i] for i in range(s)})
    return out


def round_of(space: str, opt: dict[str, Any], n: int, truth: Truth, rng: np.random.Generator) -> Round:
    """n synthetic models of a space, trained by the truth: their errors, complexities and values."""
    v = draw(space, opt, n, rng)
    cx = flops(v)
    return Round(truth.errors(v, cx, rng), cx, params(space, v))


def runner(truth: Truth) -> Runner:
    """A path.Runner that trains nothing: each round drawn and scored by the truth from its seed."""
    from spaces import get

    def run(label: str, cand: Candidate, n: int, seed: int) -> Round:
        return round_of(
            cand.space, get(cand.space).resolve(cand.options), n, truth, np.random.default_rng(seed)
        )

    return run


def simulate(start: Candidate, truth: Truth, settings: Settings) -> list[Step]:
    """One whole exploration from `start` on the synthetic trainer."""
    return explore(start, runner(truth), settings)


def true_pi(
    candidate: Candidate, parent: Candidate, truth: Truth, n: int, reps: int = 200, seed: int = 0
) -> float:
    """The mean over `reps` draws of n models a side of the normalised estimate of P(candidate error <
    parent error): what the test at n estimates (its log bins span the range the n models share,
    so the estimand itself moves with n)."""
    run = runner(truth)
    pis = []
    for r in range(reps):
        a, b = run("", candidate, n, seed + 2 * r), run("", parent, n, seed + 2 * r + 1)
        pis.append(ni.normalised_test(a.errors, a.complexity, b.errors, b.complexity, 0.1).pi)
    return float(np.mean(pis))


def score(values: list[dict[str, Any]], cx: np.ndarray, truth: Truth, rng: np.random.Generator) -> np.ndarray:
    """Errors the truth gives real samples, from their drawn values (d1.., w1..) and complexities."""
    s = max(int(k[1:]) for k in values[0] if k[0] == "d" and k[1:].isdigit())
    v = {k: np.array([[float(x[f"{k}{i + 1}"]) for i in range(s)] for x in values]) for k in "dw"}
    return truth.errors(v, np.asarray(cx, dtype=float), rng)

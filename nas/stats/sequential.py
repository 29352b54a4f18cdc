"""Sequential comparison of two design spaces: a group-sequential test with error spending on the
two-sample Kolmogorov-Smirnov distance D between their error EDFs.

Both spaces are sampled in rounds of `round_size` models; after round k (n_k models per space) the
test looks at D_k and says "separated" (D_k >= efficacy[k]), "not separated" (D_k < futility[k])
or goes on. Alpha is spent with the Lan-DeMets O'Brien-Fleming-type function
a(t) = 2 (1 - Phi(z_{1-alpha/2} / sqrt(t))) at information fraction t_k = n_k / max_samples
(Lan & DeMets 1983; O'Brien & Fleming 1979; Jennison & Turnbull 2000, ch. 7). Under H0 (one error
distribution, continuous) the joint law of (D_1, ..., D_K) is distribution-free, so the efficacy
boundaries come from a seeded Monte Carlo of uniform samples (the first n_k of each path at look
k). D is a multiple of 1/n_k: each boundary is the lowest multiple whose cumulative crossing
probability stays within a(t_k), so lattice rounding never spends more than the budget; and no
lower than the exact single-look KS critical value at a(t_k) (a look's crossing probability is at
least its marginal tail), which decides the early looks whose spend is below what the paths
resolve: an O'Brien-Fleming first look is usually out of reach (boundary above 1).

Futility is non-binding beta spending b(t) (the same form with beta = 1 - power) under a reference
alternative of KS distance exactly `difference` (`reference`); the efficacy boundaries ignore it,
so alpha holds whether or not a user goes on past a futility stop. At the last look both
boundaries meet. Tied errors (multiples of 100 / val_size) can only lower D, so the test stays
valid and becomes conservative.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from blocks.errors import ParamError
from nas.stats import power as ks_power
from nas.stats.dist import beta_ppf, norm_isf, norm_sf
from nas.stats.edf import edf

SEPARATED, NOT_SEPARATED = "separated", "not separated"
PATHS = 20_000  # Monte Carlo paths per boundary set: sd of a spent 0.05 is sqrt(.05 * .95 / 20000) = 0.0015
FIXED_RESAMPLES = 4_000  # draws per power estimate of the fixed design (sd 0.0063 at power 0.8)
GRID = 1000  # the fixed design's reference alternative is read on this many equal cells
CAP = 100  # fixed_n is None beyond CAP * max_samples
CELLS = 2_000_000  # path values held at once

Draw = Callable[[np.random.Generator, int], np.ndarray]


def spend(t: float, rate: float) -> float:
    """Lan-DeMets O'Brien-Fleming-type spending: error `rate` spent by information fraction t."""
    if t <= 0:
        return 0.0
    return 2 * norm_sf(norm_isf(rate / 2) / math.sqrt(min(t, 1.0)))


def reference(u: np.ndarray, difference: float) -> np.ndarray:
    """Map U(0,1) values to the reference alternative: values in (1/2, 1/2 + difference] reflected
    to [1/2 - difference, 1/2), so F_B - F_A peaks at exactly `difference` at the median."""
    u = np.asarray(u, dtype=float)
    return np.where((u > 0.5) & (u <= 0.5 + difference), 1.0 - u, u)


@dataclass(frozen=True)
class Design:
    """Boundaries of one sequential comparison, on the D scale, one per look."""

    level: float
    power: float
    difference: float
    round_size: int
    max_samples: int
    sizes: tuple[int, ...]
    efficacy: tuple[float, ...]
    futility: tuple[float, ...]
    fixed_n: int | None
    paths: int
    seed: int
    attained: float  # share of reference-alternative paths this design separates

    @property
    def rounds(self) -> int:
        """Number of looks K."""
        return len(self.sizes)

    @property
    def short(self) -> bool:
        """True when max_samples cannot reach the asked power against the reference alternative."""
        return self.attained < self.power

    def to_dict(self) -> dict:
        """JSON-safe dict (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> Design:
        """Inverse of to_dict."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


@dataclass(frozen=True)
class Look:
    """The test at one look: the statistic, its boundaries and the decision (None: go on)."""

    round: int
    n: int
    statistic: float
    efficacy: float
    futility: float
    decision: str | None
    better: str | None

    def to_dict(self) -> dict:
        """JSON-safe dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Look:
        """Inverse of to_dict."""
        return cls(**d)


@dataclass(frozen=True)
class Simulation:
    """Operating characteristics of a design on simulated comparisons."""

    comparisons: int
    separated: float  # share of comparisons that ended "separated"
    interval: tuple[float, float]  # its 95% Clopper-Pearson interval
    mean_used: float  # mean models per space used
    futility: float  # share stopped for futility before the last look
    fixed_n: int | None
    fixed_power: float | None  # share the fixed-size KS test with fixed_n per space separates
    naive: float  # share a level-alpha KS test repeated at every look separates at some look


def counts(a: np.ndarray, b: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
    """(paths, looks) integer n_k * D_k of rows a, b (paths, N) at every look: the first sizes[k]
    (increasing) of each row."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    step = max(1, min(512, CELLS // (2 * a.shape[1])))  # blocks that stay in cache
    return np.concatenate(
        [_chunk_counts(a[i : i + step], b[i : i + step], sizes) for i in range(0, len(a), step)]
    )


def _chunk_counts(a: np.ndarray, b: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
    """counts() for one block of rows: one sort of each pooled row, then per look the running sum
    of +1 (a) / -1 (b) over the sorted values grows by the cumulative sum of that round's models."""
    n = a.shape[1]
    pooled = np.concatenate([a, b], axis=1)
    order = np.argsort(pooled, axis=1)
    values = np.take_along_axis(pooled, order, axis=1).T
    kind = np.int16 if n < np.iinfo(np.int16).max else np.int64
    sign = np.where(order < n, 1, -1).astype(kind).T.copy()  # positions along axis 0: fast sums
    first = np.searchsorted(np.asarray(sizes), order % n, side="right").T.copy()  # look adding it
    ends = np.ones(values.shape, dtype=bool)  # EDFs are read after the last of equal values
    ends[:-1] = values[1:] != values[:-1]
    gap, step = np.zeros_like(sign), np.empty_like(sign)
    out = np.empty((len(a), len(sizes)), dtype=np.int64)
    for k in range(len(sizes)):
        np.multiply(sign, first == k, out=step)
        gap += np.cumsum(step, axis=0, out=step)
        seen = gap if ends.all() else np.where(ends, gap, 0)
        out[:, k] = np.maximum(seen.max(axis=0), -seen.min(axis=0))
    return out


def _uniform_paths(
    rng: np.random.Generator, paths: int, n: int, difference: float
) -> tuple[np.ndarray, np.ndarray]:
    """(paths, n) uniform errors a and b, b mapped to the reference alternative if difference > 0."""
    a, b = rng.random((paths, n)), rng.random((paths, n))
    return a, reference(b, difference) if difference > 0 else b


def _efficacy(null: np.ndarray, sizes: Sequence[int], level: float) -> list[int]:
    """Lowest count per look whose cumulative H0 crossing share stays within the alpha spent."""
    alive = np.ones(len(null), dtype=bool)
    out = []
    for k, n in enumerate(sizes):
        spent = spend(n / sizes[-1], level)
        budget = math.floor(spent * len(null) + 1e-9)
        tail = np.cumsum(np.bincount(null[alive, k], minlength=n + 2)[::-1])[::-1]  # tail[c]: # >= c
        crossed = len(null) - int(np.count_nonzero(alive))
        c = next(c for c in range(1, n + 2) if crossed + tail[c] <= budget)
        # the exact tail P(D_k >= c) bounds what crossing by look k costs from below, so it may not
        # exceed the spend either; early spends too small for the paths to resolve rest on it alone
        out.append(max(c, ks_power.critical(n, spent)))
        alive &= null[:, k] < c
    return out


def _futility(alt: np.ndarray, sizes: Sequence[int], efficacy: list[int], beta: float) -> list[int]:
    """Highest count per look (at most the efficacy count) whose cumulative futility-stop share
    under the reference alternative stays within the beta spent; equal to efficacy at the last."""
    alive = np.ones(len(alt), dtype=bool)
    stopped, out = 0, []
    for k, (n, c) in enumerate(zip(sizes, efficacy)):
        m = alt[alive, k]
        if k == len(sizes) - 1 or (out and out[-1] == efficacy[k - 1]):
            f = c  # last look, or the boundaries met already: decide either way
        else:
            budget = math.floor(spend(n / sizes[-1], beta) * len(alt) + 1e-9)
            below = np.cumsum(np.bincount(m, minlength=n + 2))  # below[f - 1]: # < f
            f = max((f for f in range(1, c + 1) if stopped + below[f - 1] <= budget), default=0)
        out.append(f)
        stopped += int(np.count_nonzero(m < f))
        alive[alive] = (m >= f) & (m < c)
    return out


def _separated_share(alt: np.ndarray, efficacy: list[int], futility: list[int]) -> float:
    """Share of paths whose first decision is "separated"."""
    return float(np.mean([_decide(row, efficacy, futility)[0] == SEPARATED for row in alt]))


def _decide(row: np.ndarray, efficacy: Sequence[int], futility: Sequence[int]) -> tuple[str, int]:
    """First decision of one path of counts and its look index."""
    for k, (m, c, f) in enumerate(zip(row, efficacy, futility)):
        if m >= c:
            return SEPARATED, k
        if m < f:
            return NOT_SEPARATED, k
    raise ValueError("boundaries do not meet at the last look")


def fixed_size(level: float, power: float, difference: float, largest: int, seed: int) -> int | None:
    """Smallest n per space (to within 2%, power.RESOLUTION) with which one exact KS test at `level`
    reaches `power` against the reference alternative, read on GRID equal cells; None past `largest`."""
    grid = (np.arange(GRID) + 0.5) / GRID
    n, _ = ks_power.models_needed(
        grid,
        reference(grid, difference),
        level,
        power,
        largest,
        FIXED_RESAMPLES,
        np.random.default_rng(seed),
    )
    return n


def _check(level: float, power: float, difference: float, round_size: int, max_samples: int) -> None:
    """Raise ParamError naming the first illegal argument."""
    for name, value in (("level", level), ("power", power), ("difference", difference)):
        if not 0 < value < 1:
            raise ParamError(name, f"{value} is illegal; legal: a number strictly between 0 and 1")
    for name, value in (("round_size", round_size), ("max_samples", max_samples)):
        if int(value) != value or value < 1:
            raise ParamError(name, f"{value} is illegal; legal: a whole number >= 1")


@lru_cache(maxsize=32)
def design(
    level: float,
    power: float,
    difference: float,
    round_size: int,
    max_samples: int,
    paths: int = PATHS,
    seed: int = 0,
) -> Design:
    """Boundaries for looks after every round of `round_size` up to `max_samples` models per space
    (deterministic for a seed; cached, as resume asks again)."""
    _check(level, power, difference, round_size, max_samples)
    sizes = [min(k * round_size, max_samples) for k in range(1, -(-max_samples // round_size) + 1)]
    rng = np.random.default_rng(seed)
    null = counts(*_uniform_paths(rng, paths, max_samples, 0.0), sizes)
    alt = counts(*_uniform_paths(rng, paths, max_samples, difference), sizes)
    eff = _efficacy(null, sizes, level)
    fut = _futility(alt, sizes, eff, 1 - power)
    return Design(
        level=level,
        power=power,
        difference=difference,
        round_size=round_size,
        max_samples=max_samples,
        sizes=tuple(sizes),
        efficacy=tuple(c / n for c, n in zip(eff, sizes)),
        futility=tuple(f / n for f, n in zip(fut, sizes)),
        fixed_n=fixed_size(level, power, difference, CAP * max_samples, seed),
        paths=paths,
        seed=seed,
        attained=_separated_share(alt, eff, fut),
    )


def _lattice(design: Design) -> tuple[list[int], list[int]]:
    """The boundaries as counts n_k * boundary (exact: they were built as such)."""
    eff = [round(e * n) for e, n in zip(design.efficacy, design.sizes)]
    return eff, [round(f * n) for f, n in zip(design.futility, design.sizes)]


def look(design: Design, k: int, a: Sequence[float], b: Sequence[float]) -> Look:
    """The test at look k (0-based) on the first sizes[k] errors of each space."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n = design.sizes[k]
    if len(a) != n or len(b) != n:
        raise ValueError(f"look {k} needs {n} errors per space, got {len(a)} and {len(b)}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("errors must be finite")
    at = np.nextafter(np.unique(np.concatenate([a, b])), np.inf)  # F(e) = share <= e
    diff = edf(a, at) - edf(b, at)
    top = int(np.argmax(np.abs(diff)))
    m = round(abs(diff[top]) * n)
    eff, fut = _lattice(design)
    decision = SEPARATED if m >= eff[k] else NOT_SEPARATED if m < fut[k] else None
    return Look(
        round=k + 1,
        n=n,
        statistic=m / n,
        efficacy=design.efficacy[k],
        futility=design.futility[k],
        decision=decision,
        better=None if m == 0 else "a" if diff[top] > 0 else "b",
    )


def path(design: Design, a: Sequence[float], b: Sequence[float]) -> list[Look]:
    """Every look the two error lists (in trial-index order) reach, ending at the first decision."""
    looks = []
    for k, n in enumerate(design.sizes):
        if len(a) < n or len(b) < n:
            break
        looks.append(look(design, k, a[:n], b[:n]))
        if looks[-1].decision:
            break
    return looks


def clopper_pearson(hits: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval for a share hits / total."""
    tail = (1 - confidence) / 2
    lo = beta_ppf(tail, hits, total - hits + 1) if hits else 0.0
    hi = beta_ppf(1 - tail, hits + 1, total - hits) if hits < total else 1.0
    return float(lo), float(hi)


def simulate(design: Design, draw_a: Draw, draw_b: Draw, comparisons: int, seed: int) -> Simulation:
    """Run `comparisons` whole sequential comparisons of draws from draw_a and draw_b (each returns
    n errors), with the fixed design and the naive repeated test on the same draws."""
    rng = np.random.default_rng(seed)
    n = max(design.max_samples, design.fixed_n or 0)
    a = np.stack([draw_a(rng, n) for _ in range(comparisons)])
    b = np.stack([draw_b(rng, n) for _ in range(comparisons)])
    got = counts(a, b, design.sizes)
    eff, fut = _lattice(design)
    ends = [_decide(row, eff, fut) for row in got]
    hits = sum(d == SEPARATED for d, _ in ends)
    naive = got >= [ks_power.critical(m, design.level) for m in design.sizes]
    fixed = None
    if design.fixed_n:
        at_fixed = counts(a[:, : design.fixed_n], b[:, : design.fixed_n], [design.fixed_n])[:, 0]
        fixed = float(np.mean(at_fixed >= ks_power.critical(design.fixed_n, design.level)))
    return Simulation(
        comparisons=comparisons,
        separated=hits / comparisons,
        interval=clopper_pearson(hits, comparisons),
        mean_used=float(np.mean([design.sizes[k] for _, k in ends])),
        futility=float(np.mean([d == NOT_SEPARATED and k < design.rounds - 1 for d, k in ends])),
        fixed_n=design.fixed_n,
        fixed_power=fixed,
        naive=float(np.mean(naive.any(axis=1))),
    )

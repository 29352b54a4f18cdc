"""Exact gridding analysis of a stack of dilated convolutions (HDC, Wang et al. 2018).

With stride 1 and the same rate on both axes, a k x k layer of rate r has taps at offsets
-(k//2)r .. (k//2)r step r on each axis, so the number of paths from one output pixel to
each input offset factorises: the 2-D count map is the outer product of the 1-D counts,
and the 1-D counts are the convolution of every layer's tap pattern. A hole is an offset
inside the receptive field that no path reaches; holes are what gridding means.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from blocks.errors import ParamError

MAX_SPAN = 1_000_001  # the analysis holds arrays as long as the field is wide; wider is refused
MAX_SEARCH_LAYERS = 200  # the schedule search recurses once per layer


def validate(schedule: Sequence[int], k: int) -> tuple[int, ...]:
    """The schedule as a tuple of ints, or ParamError naming the illegal argument and what is legal."""
    if not _is_int(k) or k < 1 or k % 2 == 0:
        raise ParamError("kernel", f"expected an odd integer >= 1, got {k!r}")
    rates = tuple(schedule)
    if not rates:
        raise ParamError("schedule", "expected at least one dilation rate")
    for i, r in enumerate(rates, 1):
        if not _is_int(r) or r < 1:
            raise ParamError("schedule", f"rate {r!r} at position {i} is illegal; rates are integers >= 1")
    span = (k - 1) * sum(rates) + 1
    if span > MAX_SPAN:
        raise ParamError(
            "schedule", f"receptive field {span} px wide exceeds the {MAX_SPAN} px this analysis holds"
        )
    return tuple(int(r) for r in rates)


def _is_int(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _dilate(a: np.ndarray, rate: int, half: int) -> np.ndarray:
    """Sum of `a` shifted to every tap offset t * rate, |t| <= half (logical OR for booleans)."""
    out = a.copy()
    for t in range(1, half + 1):
        s = t * rate
        out[s:] += a[:-s]
        out[:-s] += a[s:]
    return out


def coverage_1d(schedule: Sequence[int], k: int) -> np.ndarray:
    """Paths from the output pixel to each input offset -R..R along one axis.

    Exact int64 counts while k**n fits (no count exceeds the k**n paths); otherwise float64
    shares of all paths, which keep the shape but not the integers.
    """
    rates = validate(schedule, k)
    exact = k ** len(rates) < 2**63
    radius = (k // 2) * sum(rates)
    counts = np.zeros(2 * radius + 1, np.int64 if exact else np.float64)
    counts[radius] = 1
    for r in rates:
        counts = _dilate(counts, r, k // 2)
        if not exact:
            counts /= k
    return counts


def reached_1d(schedule: Sequence[int], k: int) -> np.ndarray:
    """Boolean mask of the offsets -R..R that at least one path reaches (exact at any depth)."""
    rates = validate(schedule, k)
    radius = (k // 2) * sum(rates)
    hit = np.zeros(2 * radius + 1, bool)
    hit[radius] = True
    for r in rates:
        hit = _dilate(hit, r, k // 2)
    return hit


def count_map(schedule: Sequence[int], k: int) -> np.ndarray:
    """The 2-D path-count map over the span x span field: outer product of the 1-D counts."""
    c = coverage_1d(schedule, k)
    return np.outer(c, c)


def holes(schedule: Sequence[int], k: int) -> tuple[int, ...]:
    """1-D offsets inside the field that no path reaches; a 2-D pixel is a hole when either coordinate is."""
    hit = reached_1d(schedule, k)
    radius = len(hit) // 2
    return tuple(int(i) - radius for i in np.flatnonzero(~hit))


def analyze(schedule: Sequence[int], k: int) -> Analysis:
    """Exact analysis: span, holes, fraction of the field reached and coefficient of variation of counts.

    The CV is taken over every cell of the field, holes included as zeros; for the outer
    product, mean(c2) = mean(c)**2 and mean(c2**2) = mean(c**2)**2, so no 2-D map is built.
    """
    rates = validate(schedule, k)
    counts = coverage_1d(rates, k)
    gaps = holes(rates, k)
    span = len(counts)
    share = counts / counts.max()
    q = float(np.mean(share**2) / np.mean(share) ** 2)
    reached = span - len(gaps)
    return Analysis(
        schedule=rates,
        kernel=k,
        span=span,
        holes=gaps,
        holes_2d=span * span - reached * reached,
        reached_1d=reached / span,
        reached_2d=(reached / span) ** 2,
        cv_1d=max(q - 1.0, 0.0) ** 0.5,
        cv_2d=max(q * q - 1.0, 0.0) ** 0.5,
        counts=counts,
    )


def describe_holes(offsets: Sequence[int], limit: int = 12) -> str:
    """Symmetric holes as '±1, ±3..5' (positive side only), cut after `limit` runs."""
    runs: list[list[int]] = []
    for d in sorted(o for o in offsets if o > 0):
        if runs and d == runs[-1][1] + 1:
            runs[-1][1] = d
        else:
            runs.append([d, d])
    text = [f"±{a}" if a == b else f"±{a}..{b}" for a, b in runs[:limit]]
    if len(runs) > limit:
        text.append(f"... ({len(runs) - limit} more runs)")
    return ", ".join(text)


def check_schedule(schedule: Sequence[int], k: int) -> list[str]:
    """Messages naming the gridding holes of a schedule; empty when every offset is reached."""
    a = analyze(schedule, k)
    if a.ok:
        return []
    return [
        f"schedule {list(a.schedule)} with kernel {k} leaves gridding holes at offsets "
        f"{describe_holes(a.holes)} on each axis: {a.holes_2d} of the {a.span}x{a.span} field's "
        f"{a.span * a.span} pixels are never reached"
    ]


def _search(length: int, kernel: int, max_rate: int, floor: Callable[[], int] | None = None):
    """Yield non-decreasing hole-free schedules, widest branches first (see hole_free_schedules).

    With `floor`, skip a prefix when even the widest completion has a smaller rate sum than
    floor(): each next rate is at most min(max_rate, first missed distance), and the first
    missed distance is at most the field's width (k - 1) * sum + 1, so filling greedily bounds it.
    """
    if not _is_int(kernel) or kernel < 3 or kernel % 2 == 0:
        raise ParamError("kernel", f"expected an odd integer >= 3, got {kernel!r}")
    if not _is_int(length) or not 1 <= length <= MAX_SEARCH_LAYERS:
        raise ParamError("length", f"expected an integer in [1, {MAX_SEARCH_LAYERS}], got {length!r}")
    if not _is_int(max_rate) or max_rate < 1 or (kernel - 1) * length * max_rate + 1 > MAX_SPAN:
        raise ParamError(
            "max_rate", f"expected an integer >= 1 keeping the field within {MAX_SPAN} px, got {max_rate!r}"
        )

    def widest(total: int, placed: int, cap: int) -> int:
        for _ in range(length - placed):
            total += min(max_rate, cap)
            cap = (kernel - 1) * total + 1
        return total

    def grow(prefix: tuple[int, ...], total: int, dist: int):
        # `dist` has bit d set when distance d from the field's edge is reached
        if len(prefix) == length:
            if dist & (dist + 1) == 0:
                yield prefix
            return
        first_missed = (~dist & (dist + 1)).bit_length() - 1
        if floor is not None and widest(total, len(prefix), first_missed) < floor():
            return
        for r in range(min(first_missed, max_rate), (prefix[-1] if prefix else 1) - 1, -1):
            grown = dist
            for c in range(1, kernel):
                grown |= dist << (c * r)
            yield from grow((*prefix, r), total + r, grown)

    yield from grow((), 0, 1)


@lru_cache(maxsize=64)
def hole_free_schedules(length: int, kernel: int = 3, max_rate: int = 20) -> tuple[tuple[int, ...], ...]:
    """Every non-decreasing hole-free schedule of `length` rates in 1..max_rate, in lexicographic order.

    Coverage ignores order, so each permutation of a result is hole-free too; non-decreasing
    is HDC's rising edge, and in that order every prefix is hole-free as well, so a stage that
    cycles a result over its convs (blocks.dilated) never grids. The search is exhaustive yet pruned soundly: write an offset as its
    distance d = R - o from the field's edge, d = sum c_i r_i with 0 <= c_i <= k - 1. A distance
    smaller than the next rate can only use the rates already placed, so the next rate may not
    exceed the smallest distance they miss (hence every hole-free schedule starts with rate 1).
    The count grows fast: 14,627 schedules for length 6, kernel 3, rates up to 20.
    """
    return tuple(sorted(_search(length, kernel, max_rate)))


def widest_hole_free(
    length: int, kernel: int = 3, max_rate: int = 20, top: int = 10
) -> list[tuple[int, ...]]:
    """The hole-free schedules with the `top` largest receptive fields, ties at the cut included.

    A branch-and-bound over the same search as hole_free_schedules, so it stays quick where
    listing every schedule would not.
    """
    sums: list[int] = []
    kept: list[tuple[int, ...]] = []

    def floor() -> int:
        return sums[0] if len(sums) == top else 0

    for sched in _search(length, kernel, max_rate, floor):
        if sum(sched) >= floor():
            kept.append(sched)
            (heapq.heappush if len(sums) < top else heapq.heappushpop)(sums, sum(sched))
    return sorted((s for s in kept if sum(s) >= floor()), key=lambda s: (-sum(s), s))


@dataclass(frozen=True, eq=False)
class Analysis:
    """Receptive field, holes and evenness of one schedule; 2-D figures follow from the 1-D ones."""

    schedule: tuple[int, ...]
    kernel: int
    span: int
    holes: tuple[int, ...]
    holes_2d: int
    reached_1d: float
    reached_2d: float
    cv_1d: float
    cv_2d: float
    counts: np.ndarray

    @property
    def ok(self) -> bool:
        return not self.holes

    @property
    def exact(self) -> bool:
        """True when `counts` holds integer path counts rather than shares."""
        return self.counts.dtype == np.int64

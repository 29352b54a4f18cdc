"""Operating characteristics of the sequential design-space comparison (nas.stats.sequential)
on synthetic error distributions: the false-separation rate under no difference (with its 95%
Clopper-Pearson interval, next to the level and to the naive test that applies a level-alpha KS
test at every look), and under real differences the power and the mean models per space used, next
to the fixed-size design's n and power on the same draws. Also times design() on one core.

Run: python benchmarks/sequential_compare.py [--quick] [--comparisons 2000] [--max-samples 500] ...
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats

from nas.stats import sequential as sq

MEDIAN, SIGMA = 30.0, 0.35  # lognormal top-1 errors (%) like a sampled space's EDF
VAL_SIZE = 360  # a validation set this small makes errors multiples of 100/360: heavy ties


def lognormal(shift: float = 0.0, scale: float = 1.0) -> sq.Draw:
    """Errors exp(N(log MEDIAN + shift, (SIGMA * scale)^2)) in percent."""
    return lambda rng, n: np.exp(rng.normal(np.log(MEDIAN) + shift, SIGMA * scale, n))


def tied(draw: sq.Draw) -> sq.Draw:
    """The same errors read on a VAL_SIZE-image validation set (multiples of 100 / VAL_SIZE)."""
    return lambda rng, n: np.round(draw(rng, n) * VAL_SIZE / 100) * 100 / VAL_SIZE


def uniform(rng: np.random.Generator, n: int) -> np.ndarray:
    """U(0,1) errors."""
    return rng.random(n)


def reference(difference: float) -> sq.Draw:
    """The design's reference alternative (KS distance exactly `difference` from uniform)."""
    return lambda rng, n: sq.reference(rng.random(n), difference)


def true_ks(shift: float, scale: float) -> float:
    """KS distance between lognormal() and lognormal(shift, scale), on a fine grid of log errors."""
    z = np.linspace(-8, 8, 200_001) * SIGMA
    return float(np.max(np.abs(stats.norm.cdf(z / SIGMA) - stats.norm.cdf((z - shift) / (SIGMA * scale)))))


def cases(difference: float) -> list[tuple[str, float, sq.Draw, sq.Draw]]:
    """(name, true KS distance, draw_a, draw_b): nulls first, then real differences."""
    base = lognormal()
    out = [
        ("null: lognormal", 0.0, base, base),
        (f"null: lognormal, {VAL_SIZE}-image ties", 0.0, tied(base), tied(base)),
        ("null: uniform", 0.0, uniform, uniform),
    ]
    for shift, scale in ((0.05, 1.0), (0.1, 1.0), (0.2, 1.0), (0.0, 1.5)):
        name = f"lognormal, log shift {shift}, sd x{scale}"
        out.append((name, true_ks(shift, scale), base, lognormal(shift, scale)))
    out.append((f"shift 0.1, {VAL_SIZE}-image ties", true_ks(0.1, 1.0), tied(base), tied(lognormal(0.1))))
    out.append(("reference alternative", difference, uniform, reference(difference)))
    return out


def table(design: sq.Design, comparisons: int, seed: int) -> None:
    """Print one row per case."""
    print(
        f"{'case':40} {'KS':>5} {'separated [95% CI]':>22} {'naive':>6} {'mean n':>7} {'futile':>6} {'fixed':>6}"
    )
    for i, (name, ks, draw_a, draw_b) in enumerate(cases(design.difference)):
        sim = sq.simulate(design, draw_a, draw_b, comparisons, seed + i)
        lo, hi = sim.interval
        fixed = "-" if sim.fixed_power is None else f"{sim.fixed_power:.3f}"
        print(
            f"{name:40} {ks:5.3f} {sim.separated:7.3f} [{lo:.3f}, {hi:.3f}] {sim.naive:6.3f} "
            f"{sim.mean_used:7.1f} {sim.futility:6.3f} {fixed:>6}"
        )


def main() -> None:
    """Design, then simulate every case; print the design, the timing and the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small version: fewer paths and comparisons")
    parser.add_argument("--comparisons", type=int, default=2000)
    parser.add_argument("--level", type=float, default=0.05)
    parser.add_argument("--power", type=float, default=0.8)
    parser.add_argument("--difference", type=float, default=0.1)
    parser.add_argument("--round-size", type=int, default=25)
    parser.add_argument("--max-samples", type=int, default=500)
    args = parser.parse_args()
    paths, comparisons = (2000, 150) if args.quick else (sq.PATHS, args.comparisons)
    if args.quick:  # fewer looks and a larger difference: a few seconds
        args.max_samples, args.difference = 200, 0.2
    start, cpu = time.perf_counter(), time.process_time()
    design = sq.design(args.level, args.power, args.difference, args.round_size, args.max_samples, paths)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(
        f"design(level={design.level}, power={design.power}, difference={design.difference}, "
        f"round_size={design.round_size}, max_samples={design.max_samples}, paths={paths}): "
        f"{wall:.1f} s wall, {cpu:.1f} s CPU"
    )
    print("looks n:  ", " ".join(f"{n:5d}" for n in design.sizes))
    print("efficacy: ", " ".join(f"{e:5.3f}" for e in design.efficacy))
    print("futility: ", " ".join(f"{f:5.3f}" for f in design.futility))
    short = " (short of the asked power)" if design.short else ""
    print(
        f"fixed design n per space: {design.fixed_n}; sequential power on the reference: {design.attained:.3f}{short}"
    )
    print(f"{comparisons} comparisons per case; level {design.level}\n")
    table(design, comparisons, seed=1)


if __name__ == "__main__":
    main()

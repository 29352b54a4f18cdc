"""Time the exact gridding analysis and the hole-free search; prints milliseconds per call.

Run: python benchmarks/hdc_speed.py
"""

from __future__ import annotations

import time

import numpy as np

from blocks.gridding import analyze, hole_free_schedules, widest_hole_free


def ms_per_call(fn, repeats: int) -> float:
    """Best-of-three mean wall time of `fn()` in milliseconds."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        best = min(best, (time.perf_counter() - start) / repeats)
    return 1e3 * best


def main() -> None:
    rng = np.random.default_rng(0)
    for layers, max_rate, k in [(3, 5, 3), (50, 100, 3), (50, 100, 7)]:
        rates = rng.integers(1, max_rate + 1, layers).tolist()
        ms = ms_per_call(lambda r=rates, k=k: analyze(r, k), 20)
        print(f"analyze: {layers} layers, rates <= {max_rate}, kernel {k}: {ms:8.3f} ms")
    for layers, max_rate in [(6, 20), (6, 50)]:
        ms = ms_per_call(lambda n=layers, m=max_rate: hole_free_schedules.__wrapped__(n, 3, m), 1)
        count = len(hole_free_schedules(layers, 3, max_rate))
        print(f"hole_free_schedules({layers}, 3, {max_rate}): {count} schedules in {ms:8.1f} ms")
    for layers, max_rate in [(6, 20), (12, 100)]:
        ms = ms_per_call(lambda n=layers, m=max_rate: widest_hole_free(n, 3, m, 10), 3)
        print(f"widest_hole_free({layers}, 3, {max_rate}, top=10): {ms:8.2f} ms")


if __name__ == "__main__":
    main()

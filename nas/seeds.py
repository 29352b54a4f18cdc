"""The range of a seed, shared by experiment files and every seed argument; light to import."""

from __future__ import annotations

from blocks.errors import ArgError

SEED_HIGH = 2**32 - 1  # the largest seed numpy's and torch's generators take alike


def check_seed(seed: int, name: str = "seed") -> None:
    """Refuse a seed argument outside the range an experiment's `seed` takes."""
    if not 0 <= seed <= SEED_HIGH:
        raise ArgError(name, f"expected an int in [0, {SEED_HIGH}], got {seed}")

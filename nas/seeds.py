"""The range of a seed, shared by experiment files and every `--seed` flag; light to import."""

from __future__ import annotations

from blocks.errors import UserError

SEED_HIGH = 2**32 - 1  # the largest seed numpy's and torch's generators take alike


def check_seed(seed: int, flag: str = "--seed") -> None:
    """Refuse a command-line seed outside the range an experiment's `seed` takes."""
    if not 0 <= seed <= SEED_HIGH:
        raise UserError(f"{flag}: expected an int in [0, {SEED_HIGH}], got {seed}")

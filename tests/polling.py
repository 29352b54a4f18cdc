"""Waiting in tests for something another process does, with a deadline instead of a sleep."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    """Whether `predicate` became true within `timeout` seconds (polled every 0.2 s)."""
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False

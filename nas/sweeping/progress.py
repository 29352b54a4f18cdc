"""A live one-line-per-trial progress view of a sweep: done, running, failed, best, ETA."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from nas.sweeping.records import Status, TrialRow


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class Progress:
    """Prints a line as each trial finishes, with counts, best error so far and time left."""

    def __init__(self, total: int, stream: TextIO | None = None):
        self.total, self._stream = total, stream
        self.done = self.failed = self.now_running = 0
        self.best: float | None = None
        self.start = time.perf_counter()

    @property
    def stream(self) -> TextIO:
        # looked up at print time: Ray pickles callbacks, and a captured stdout cannot be pickled
        return self._stream or sys.stdout

    def running(self, count: int) -> None:
        """Note how many trials are running now."""
        self.now_running = count

    def finished(self, row: TrialRow) -> None:
        """Print the line of a trial that just finished."""
        self.done += 1
        if row.status is Status.OK:
            err = row.error
            self.best = err if self.best is None else min(self.best, err)
            what = f"error {err:6.2f}%"
        elif row.status is Status.STOPPED:
            what = f"stopped after epoch {row.epochs} at error {row.error:.2f}%"
        else:
            self.failed += 1
            what = f"{row.status}: {row.reason[:60]}"
        elapsed = time.perf_counter() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        best = "-" if self.best is None else f"{self.best:.2f}%"
        print(
            f"[{self.done:>{len(str(self.total))}}/{self.total}] {row.entry.space} #{row.entry.trial_index:<4} "
            f"{what}  ({row.wall_time:.1f}s) | best {best} | failed {self.failed} | "
            f"elapsed {_duration(elapsed)}, left ~{_duration(eta)}",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        """Print the closing count and time of the sweep."""
        elapsed = time.perf_counter() - self.start
        print(
            f"finished {self.done} trials ({self.failed} failed, diverged or rejected) in {_duration(elapsed)}",
            file=self.stream,
        )

"""What a sweep prints while it runs, in plain lines that read the same in a terminal and a log
file: a line per finished trial (done / total, its result, trials running, best error, time
left), and at most every few seconds the epoch each running trial has reached."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from nas.records.rows import Status, TrialRow

STATUS_EVERY = 5.0  # seconds between two lines on running trials' epochs, at most


def duration(seconds: float) -> str:
    """A duration as 7s, 3m05s or 1h02m."""
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class Progress:
    """Counts finished and running trials and prints what they do; the time left is the mean wall
    time of finished trials times the trials left, over the most trials seen running at once."""

    def __init__(
        self,
        total: int,
        epochs: int,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        every: float = STATUS_EVERY,
    ):
        self.total, self.epochs, self._stream, self.clock, self.every = total, epochs, stream, clock, every
        self.done = self.failed = self.rejected = self.now_running = 0  # failed: failed or diverged
        self.slots = 1  # the most trials seen running at once
        self.best: float | None = None
        self.wall_sum = 0.0  # finished trials' wall times, summed as they finish: the mean costs no scan
        self.at: dict[str, tuple[str, int, float]] = {}  # running trial -> (label, epoch, val error)
        self.start = self.last_status = clock()
        self.scope = ""  # what `total` counts when not the whole sweep, e.g. " in this round"

    @property
    def stream(self) -> TextIO:
        # looked up at print time: Ray pickles callbacks, and a captured stdout cannot be pickled
        return self._stream or sys.stdout

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def running(self, count: int) -> None:
        """Note how many trials are running now."""
        self.now_running = count
        self.slots = max(self.slots, count)

    def epoch(self, trial: str, label: str, epoch: int, error: float) -> None:
        """Note that running `trial` finished an epoch; print where running trials are unless
        such a line was printed less than `every` seconds ago."""
        self.at[trial] = (label, epoch, error)
        now = self.clock()
        if now - self.last_status < self.every:
            return
        self.last_status = now
        trials = ", ".join(f"{lb} epoch {ep}/{self.epochs} ({err:.1f}%)" for lb, ep, err in self.at.values())
        self._print(f"running {self.now_running}: {trials} | {self._times()}")

    def left(self, trial: str) -> None:
        """Forget a trial that stopped running."""
        self.at.pop(trial, None)

    def eta(self) -> str:
        """The time left, or 'estimating...' until a trial has finished."""
        todo = self.total - self.done
        if not self.done:
            return "estimating..."
        if todo <= 0:
            return "0s"
        mean = self.wall_sum / self.done
        return "~" + duration(mean * todo / min(self.slots, todo))

    def _times(self) -> str:
        return f"elapsed {duration(self.clock() - self.start)}, left {self.eta()}{self.scope}"

    def upto(self, more: int, scope: str) -> None:
        """Count to `more` trials past those done (a comparison's next round), the time left for
        them only, said with `scope`."""
        self.total, self.scope = self.done + more, scope

    def finished(self, row: TrialRow) -> None:
        """Print the line of a trial that just finished."""
        self.done += 1
        self.wall_sum += row.wall_time
        if row.status is Status.OK:
            err = row.error
            self.best = err if self.best is None else min(self.best, err)
            what = f"error {err:6.2f}%"
        elif row.status is Status.STOPPED:
            what = f"stopped after epoch {row.epochs} at error {row.error:.2f}%"
        elif row.status is Status.REJECTED:  # a draw the constraints refused: nothing went wrong
            self.rejected += 1
            what = f"rejected: {row.reason[:60]}"
        else:
            self.failed += 1
            what = f"{row.status}: {row.reason[:60]}"
        best = "-" if self.best is None else f"{self.best:.2f}%"
        self._print(
            f"[{self.done:>{len(str(self.total))}}/{self.total}] {row.entry.space} #{row.entry.trial_index:<4} "
            f"{what}  ({row.wall_time:.1f}s) | running {self.now_running} | best {best} | "
            f"failed {self.failed}{self._rejected()} | {self._times()}"
        )

    def _rejected(self) -> str:
        """`, rejected N` once a draw was rejected (only a guided search records rejected draws)."""
        return f", rejected {self.rejected}" if self.rejected else ""

    def close(self) -> None:
        """Print the closing count and time of the sweep."""
        self._print(
            f"finished {self.done} trials ({self.failed} failed or diverged{self._rejected()}) "
            f"in {duration(self.clock() - self.start)}"
        )

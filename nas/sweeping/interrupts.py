"""Stopping a sweep on SIGINT, SIGTERM or SIGHUP, wherever the signal lands.

The handler only records the first signal; it never raises into foreign code (an exception
raised from a handler inside Ray's Cython `ray.wait` comes out as a SystemError). The sweep
stops at places that can stop cleanly: pure-Python phases (reading the experiment, loading the
dataset, drawing specs) run inside `raising()`, where the handler may raise; everywhere else
the flag is checked (`check()`) between steps, and while Ray Tune runs, `Guard` raises `Stopped`
from Tune's own loop, which Tune answers by cleaning up its trials and letting it through.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(BaseException):
    """A signal stopped a sweep. A BaseException, like KeyboardInterrupt, so that no
    `except Exception` on the way swallows it; `message` says how far it got."""

    def __init__(self, signum: int, message: str = ""):
        super().__init__(message or signal.Signals(signum).name)
        self.signum, self.message = signum, message

    @property
    def exit_code(self) -> int:
        """The shell's code for a process ended by the signal: 130 SIGINT, 143 SIGTERM, 129 SIGHUP."""
        return 128 + self.signum


class Stopped(Exception):
    """Raised inside Ray Tune's loop once a signal is recorded: Tune cleans up its trials on an
    Exception (not on a BaseException) and lets it through `Tuner.fit`."""


class _Catch:
    """The signal recorded so far, and how many `raising()` blocks are open."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.raising = 0

    def handler(self, signum: int, frame: Any) -> None:
        """Record the first signal; raise it only inside `raising()`. Later signals are ignored,
        so shutting Ray down is not cut short."""
        if self.signum is not None:
            return
        self.signum = signum
        if self.raising:
            raise Interrupted(signum)


_now: _Catch | None = None  # the sweep's, while `catching()` is open in the main thread


@contextmanager
def catching() -> Iterator[None]:
    """Inside the block SIGINT, SIGTERM and SIGHUP are recorded (see the module); leaving the
    block normally raises Interrupted if one was. The previous handlers come back after."""
    global _now
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only
        return
    _now = _Catch()
    previous = {n: signal.signal(n, _now.handler) for n in SIGNALS}
    try:
        yield
        check()
    finally:
        for n, old in previous.items():
            signal.signal(n, old)
        _now = None


def caught() -> int | None:
    """The signal recorded so far in this sweep, if any."""
    return _now.signum if _now else None


def check() -> None:
    """Raise Interrupted if a signal has been recorded."""
    signum = caught()
    if signum is not None:
        raise Interrupted(signum)


@contextmanager
def raising() -> Iterator[None]:
    """A pure-Python phase: a signal already recorded, or one that arrives inside the block,
    raises Interrupted at once."""
    check()
    if _now is None:
        yield
        return
    _now.raising += 1
    try:
        yield
    finally:
        _now.raising -= 1


@contextmanager
def starting_ray() -> Iterator[None]:
    """Around ray.init: the handlers of SIGNALS stay the sweep's, and the processes Ray starts
    keep SIGHUP blocked (as Ray has them block SIGINT), so a closed terminal's SIGHUP to the
    whole process group stops the sweep instead of killing Ray under it."""
    if _now is None:
        yield
        return
    real = signal.signal

    def keep(signum: int, handler: Callable[..., Any] | int | None) -> Any:
        if signum in SIGNALS and threading.current_thread() is threading.main_thread():
            return signal.getsignal(signum)  # ray.init sets a SIGTERM handler that exits anywhere
        return real(signum, handler)

    signal.signal = keep
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})  # a child inherits the mask
    try:
        yield
    finally:
        signal.signal = real
        for n in SIGNALS:  # Ray's core worker puts a C++ SIGTERM handler under Python's
            real(n, _now.handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a SIGHUP that came in is handled now
        if _now.signum is not None:
            signal.alarm(0)  # the C++ handler, had it caught the signal, set an alarm that aborts


def _stop_tune() -> None:
    """Raise Stopped if a signal has been recorded."""
    signum = caught()
    if signum is not None:
        raise Stopped(signal.Signals(signum).name)


def guard() -> Any:
    """A Ray Tune callback, first in the list: once a signal is recorded, it raises Stopped at the
    next loop step, and in place of a trial error (a trial the signal killed is not a failure)."""
    from ray import tune

    class Guard(tune.Callback):
        """Stops Tune's loop for a recorded signal."""

        def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
            """Each turn of Tune's loop."""
            _stop_tune()

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            """Before the sweep's callback records the trial as failed."""
            _stop_tune()

    return Guard()

"""Starting Ray for a sweep (a fresh local one, or a cluster at an address checked first) and
the Tune settings and quiet loggers a sweep runs under."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from blocks.errors import ArgError, literal
from nas.sweeping import interrupts
from nas.training.stream import usable_cpus

# Tune settings read from the environment: the classic progress output, and no default loggers
# beside the ones the sweep adds. Set for the sweep's duration only, unless the user set them.
# Tune's own SIGINT handler is off: it would end the sweep quietly as if it had finished.
# Tune snapshots its experiment state (every trial's state: it grows with the sweep) at most
# once a minute: the sweep's record is its rows, from which a resume starts, not the snapshot.
TUNE_ENV = {
    "TUNE_GLOBAL_CHECKPOINT_S": "60",
    "RAY_AIR_NEW_OUTPUT": "0",
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "TUNE_DISABLE_SIGINT_HANDLER": "1",
}


# Tune's controller logs every failed try of a trial with the worker's whole traceback (90 lines
# for a full disk); the sweep records the failure as a row, prints one line for it, and Tune keeps
# the traceback in the trial's error.txt. Quiet for the sweep's duration only.
QUIET_LOGGERS = ("ray.tune.execution.tune_controller",)


@contextmanager
def tune_env() -> Iterator[None]:
    """TUNE_ENV in the environment and QUIET_LOGGERS silenced inside the block; what the caller had
    comes back after."""
    added = {k: v for k, v in TUNE_ENV.items() if k not in os.environ}
    os.environ.update(added)
    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@contextmanager
def ray_held(address: str | None) -> Iterator[None]:
    """One Ray for several sweeps in a row (`nas explore`'s rounds), so each does not pay its
    start-up: started here unless one is connected already, and then shut down at the end."""
    import ray

    with tune_env():
        started = init_ray(address)
    try:
        yield
    finally:
        if started:
            ray.shutdown()


def init_ray(address: str | None) -> bool:
    """Start a fresh local Ray (never one already running here), or connect to `address`, unless
    already connected; True when this call did it. Signals wait for it to finish."""
    import ray

    if ray.is_initialized():
        return False
    where = f"at {address}" if address else f"(local, {usable_cpus()} CPUs)"
    print(f"starting Ray {where}...", flush=True)
    start = time.perf_counter()
    with interrupts.starting_ray():
        try:
            ray.init(
                address=address or "local",
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.ERROR,
            )
        except ConnectionError as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ArgError(
                "",
                f"{{address}} {literal(address)}: cannot connect to a Ray cluster there ({literal(first)})",
                ["address"],
            ) from None
    print(f"Ray ready in {time.perf_counter() - start:.1f}s", flush=True)
    return True


def check_address(address: str | None) -> None:
    """Refuse, before anything is written, an `address` that is not a Ray address, a Ray Client
    address without Ray Client's package, or one where nothing answers."""
    if address is None or address == "auto":
        return
    legal = (
        "give auto, HOST:PORT (a cluster's head, e.g. 10.0.0.5:6379) or ray://HOST:PORT "
        "(Ray Client), or leave it out for a local Ray"
    )
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    scheme = address.partition("://")[0] if "://" in address else ""
    named = re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\]", host)
    if scheme not in ("", "ray") or not colon or not named or not port.isdigit() or not 0 < int(port) < 65536:
        raise ArgError("", f"{{address}} {literal(repr(address))}: not a Ray address; {legal}", ["address"])
    if scheme and importlib.util.find_spec("grpc") is None:
        raise ArgError(
            "",
            f"{{address}} {literal(address)}: Ray Client (ray://) needs its package: pip install 'ray[client]'; "
            "or give the head's HOST:PORT from a node of the cluster",
            ["address"],
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as err:
        why = err.strerror or type(err).__name__
        raise ArgError(
            "",
            f"{{address}} {literal(address)}: nothing answers there ({literal(why)}); is the cluster up?",
            ["address"],
        ) from None

"""Memory of a sweep: the budget of one trial, the analytic estimate of a spec's training memory
that planning holds against it, and the limit a trial trains under.

The limit is RLIMIT_DATA, raised over what the process holds when the trial starts and put back
after it (Ray reuses workers). Linux counts every private writable mapping against it (malloc,
PyTorch's CPU allocator, thread stacks), but not the shared mappings of Ray's object store or the
PROT_NONE address space CUDA reserves, so it bounds what a trial allocates without the false
failures an address-space limit (RLIMIT_AS) gives. An allocation past it fails at once with
ENOMEM, which PyTorch raises as a RuntimeError and Python as MemoryError; the trial's row says
so. A watchdog polling RSS could not stop one large allocation inside a C++ operator in time.
Linux only; elsewhere trials run unlimited (planning still refuses what cannot fit).
"""

from __future__ import annotations

import errno
import os
import resource
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from blocks.complexity import Complexity
from blocks.errors import UserError
from nas.config import Experiment, Resources
from nas.sweeping.footprint import BYTES, training_bytes
from spaces import Limits
from spaces.draw import Reject

GB = 1e9
SHARE = 0.8  # of the machine's memory that trials take together; the rest is Ray's, the driver's, the OS's
# Driver memory per planned trial: its plan entry and sample while planning (about 5 KB), its copy
# in Ray's object store, and the Trial that Ray Tune keeps for the whole sweep with its last results.
PER_TRIAL = 50_000
# A trial sharing a GPU holds its own CUDA context and kernels (about 0.5 GB on an H100) besides its
# model's training memory; trials together take GPU_SHARE of the GPU, leaving room for fragmentation.
CUDA_CONTEXT = 600_000_000
GPU_SHARE = 0.8
FIELD = "resources.memory_gb_per_trial"


def gb(n: float) -> str:
    """Bytes as GB, one decimal: '2.0 GB'."""
    return f"{n / GB:.1f} GB"


def machine() -> int:
    """Bytes of memory this machine (or its container's cgroup limit, when lower) has."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return min(total, _cgroup("memory.max") or total)


def available() -> int:
    """Bytes this process could still take: MemAvailable, or less under a cgroup limit."""
    free = _kb("/proc/meminfo", "MemAvailable") or machine()
    limit = _cgroup("memory.max")
    return min(free, limit - (_cgroup("memory.current") or 0)) if limit else free


def _cgroup(name: str) -> int | None:
    """A number from this process's cgroup v2 memory files, None when absent or 'max'."""
    try:
        with open(f"/sys/fs/cgroup/{name}", encoding="ascii") as fh:
            text = fh.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _kb(path: str, key: str) -> int | None:
    """A 'KEY: N kB' line of a /proc file in bytes, None off Linux."""
    try:
        with open(path, encoding="ascii") as fh:
            for line in fh:
                if line.startswith(f"{key}:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def concurrent(res: Resources) -> int:
    """Trials that run at once on this machine: max_concurrent, or as many as its CPUs allow."""
    return res.max_concurrent or max(1, int((os.cpu_count() or 1) // res.cpus_per_trial))


def per_trial(res: Resources) -> int:
    """Bytes one trial may take: memory_gb_per_trial, or SHARE of this machine over `concurrent`."""
    if res.memory_gb_per_trial:
        return int(res.memory_gb_per_trial * GB)
    return int(machine() * SHARE / concurrent(res))


def estimate(cx: Complexity, batch_size: int) -> int:
    """Bytes a spec takes to train (nas.sweeping.footprint): STATE copies of its parameters, and BACKWARD copies of its
    activations for a batch of `batch_size`."""
    return training_bytes(cx.params, cx.acts, batch_size)


@dataclass(frozen=True)
class Fits:
    """An experiment's constraints and the per-trial memory budget, taken where a space's sampling
    takes `Limits`: a draw whose training memory is estimated over `budget` bytes is refused like
    one outside the constraints, with a reason sampling counts and reports."""

    constraints: Limits
    budget: int
    batch_size: int

    def violation(self, cx: Complexity) -> Reject | None:
        """The constraint the draw breaks first, then the memory budget (none when 0), or None."""
        why, need = self.constraints.violation(cx), estimate(cx, self.batch_size)
        if why or not self.budget or need <= self.budget:
            return why
        return Reject(f"estimated training memory (bytes, {FIELD}) above", limit=self.budget, value=need)


def fits(exp: Experiment) -> Fits:
    """The limits planning draws under: the constraints and, for trials on CPUs, the per-trial
    memory budget. A trial given a GPU trains in the GPU's memory, not in what the budget bounds;
    CUDA's own out-of-memory error records it failed."""
    res = exp.resources
    budget = 0 if res.gpus_per_trial or res.pack_gpus else per_trial(res)
    return Fits(exp.constraints, budget, exp.training.batch_size)


def check_samples(exp: Experiment) -> None:
    """Refuse, before sampling, a sweep whose trials the driver could not hold in memory."""
    trials = exp.samples * len(exp.spaces)
    have = available() // 2
    if trials * PER_TRIAL > have:
        raise UserError(
            f"{exp.source}: samples: {exp.samples:,} x {len(exp.spaces)} space(s) would hold about "
            f"{gb(trials * PER_TRIAL)} in the driver ({PER_TRIAL // 1000} KB per trial); half of the "
            f"{gb(2 * have)} available allows {have // PER_TRIAL:,} trials; lower samples or split the sweep"
        )


def check_build(name: str, cx: Complexity) -> int:
    """Bytes available to build and measure a spec; refused when its weights and one image's
    activations alone need more."""
    need, have = BYTES * (cx.params + cx.acts), available()
    if need > have:
        raise UserError(
            f"{name}: {cx.params:,} parameters need {gb(need)} to build and measure; "
            f"only {gb(have)} is available; not built"
        )
    return have


@contextmanager
def limited(budget: int) -> Iterator[None]:
    """Inside the block this process may allocate `budget` bytes more than at its start (a lower
    limit already set stays); the previous limit comes back after. No limit for 0 or off Linux."""
    held = _kb("/proc/self/status", "VmData") if budget and sys.platform.startswith("linux") else None
    if held is None:
        yield
        return
    old = resource.getrlimit(resource.RLIMIT_DATA)
    soft = held + budget
    soft = min(x for x in (soft, old[0], old[1]) if x != resource.RLIM_INFINITY)
    resource.setrlimit(resource.RLIMIT_DATA, (soft, old[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, old)


OOM_TEXT = ("can't allocate memory", "cannot allocate memory", "bad_alloc", "can't start new thread")


def out_of_memory(err: BaseException) -> bool:
    """Whether `err` is an allocation refused for lack of memory (Python's, PyTorch's or the OS's)."""
    if isinstance(err, MemoryError) or (isinstance(err, OSError) and err.errno == errno.ENOMEM):
        return True
    return isinstance(err, RuntimeError) and any(t in str(err).lower() for t in OOM_TEXT)


def reason(budget: int) -> str:
    """A failed row's reason when a trial ran out of its memory."""
    return f"out of memory: over the {gb(budget)} limit per trial ({FIELD})"


def gpu_need(entries: Iterable[dict[str, int]], batch_size: int, data_bytes: int) -> int:
    """Bytes of GPU memory the largest of `entries` (complexity dicts) takes to train: its estimate,
    a CUDA context and the trial's copy of the dataset."""
    largest = max((estimate(Complexity(**cx), batch_size) for cx in entries), default=0)
    return largest + CUDA_CONTEXT + data_bytes


def trials_per_gpu(need: int, gpu_bytes: int, cpus_per_gpu: float, cpus_per_trial: float) -> int:
    """Trials that share one GPU: as many as fit GPU_SHARE of its `gpu_bytes` at `need` bytes each,
    and no more than its node's CPUs per GPU over each trial's CPUs; at least one."""
    by_memory = int(gpu_bytes * GPU_SHARE // max(1, need))
    by_cpus = int(cpus_per_gpu // cpus_per_trial)
    return max(1, min(by_memory, by_cpus))


def resident(data: object) -> int:
    """Bytes of the tensors a dataset holds (what a GPU trial copies to its GPU); 0 for a streamed one."""
    import torch

    return sum(v.nbytes for v in vars(data).values() if isinstance(v, torch.Tensor))

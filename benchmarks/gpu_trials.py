"""GPU trials benchmark (issue 12), two figures from one run, targets printed beside them:

(a) per spec at CIFAR size (3x32x32, 10 classes, synthetic data in memory): the trial loop's
    images/s next to a lean reference loop written here (data resident on the device, bf16
    autocast on GPU, channels-last, no host synchronisation inside an epoch), compile off and on;
(b) a 16-model AnyNetX_E sweep (10-100 MFLOPs, 3 epochs on 16k images) through `nas sweep` at 1
    trial per GPU and packed (resources.pack_gpus): models per hour and the GPU's busy fraction,
    sampled with nvidia-smi while it runs.

    python benchmarks/gpu_trials.py            # on a GPU machine; (b) needs Ray
    python benchmarks/gpu_trials.py --quick    # tiny sizes, runs on CPU (no GPU figures)
    python benchmarks/gpu_trials.py --no-compile --no-sweep   # the eager column alone, in a minute or two

Part (a) imports no Ray, so it runs where only torch is installed; there (or with --no-ray) part
(b) trains the same specs by 1 and by k processes sharing the GPU (k by pack_gpus' rule), each
as a trial trains, without Ray's scheduling.
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import yaml
from torch import nn

import nas.zoo
import spaces
from blocks.network import build
from blocks.spec import ArchSpec, StemSpec, from_dict
from nas.training.config import TrainingConfig
from nas.training.datasets import Dataset, synthetic
from nas.training.loop import compile_mode, lr_at, precision, train
from spaces import Limits
from spaces.base import Context

ZOO = ("resnet18", "regnetx_400mf", "mobilenet_v2")
EAGER_TARGET = 1.0  # trial loop / lean eager loop, every spec
COMPILE_TARGET = 1.5  # compiled trial loop / lean eager loop, small AnyNetX_E specs
BUSY_TARGET = 0.80  # GPU busy fraction of the packed sweep
SPEEDUP_TARGET = 4.0  # packed sweep's models per hour over 1 trial per GPU


@dataclass(frozen=True)
class Size:
    """How big a run is: input side, images, epochs, batch, AnyNetX_E FLOPs range, sweep models."""

    px: int
    images: int
    epochs: int
    batch: int
    flops: tuple[float, float]
    models: int
    compile: bool
    zoo: tuple[str, ...]


FULL = Size(32, 16_000, 3, 128, (1e7, 1e8), 16, True, ZOO)
# --quick: compile skipped (a cold CPU compile takes minutes), one zoo spec
QUICK = Size(16, 64, 1, 32, (5e5, 5e6), 2, False, ZOO[:1])


def cifar_specs(size: Size) -> dict[str, ArchSpec]:
    """The zoo specs and two AnyNetX_E samples, at size.px input and 10 classes."""
    shape = [3, size.px, size.px]
    out = {}
    for name in size.zoo:
        d = nas.zoo.get(name).to_dict()
        out[name] = from_dict({**d, "input_shape": shape, "head": {**d["head"], "num_classes": 10}})
    for i, s in enumerate(_anynet_e(size, 2, seed=1)):
        out[f"anynetx_e_{i} ({s.complexity.flops / 1e6:.0f} MF)"] = s.spec
    return out


def _stem(size: Size) -> dict:
    """The stem of the AnyNetX_E specs: stride 1, as on CIFAR."""
    return {"type": "simple", "width": 16 if size.px < 32 else 32, "params": {"stride": 1}}


def _anynet_e(size: Size, n: int, seed: int) -> list:
    """n AnyNetX_E samples in size.flops at size.px input."""
    ctx = Context(input_shape=(3, size.px, size.px), num_classes=10, stem=StemSpec(**_stem(size)))
    options = {"stages": 3, "max_width": 512, "strides": [1, 2, 2]}
    return spaces.sample(
        spaces.get("anynet_x_e"), n, seed, ctx=ctx, options=options, limits=Limits(size.flops)
    )


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def lean(spec: ArchSpec, data: Dataset, cfg: TrainingConfig, dev: torch.device) -> float:
    """Images/s of the reference loop: the trial loop's work (same schedule, optimiser settings,
    evaluation each epoch) with the data resident on the device and no host reads in an epoch."""
    cuda = dev.type == "cuda"
    fmt = torch.channels_last if cuda else torch.contiguous_format
    x, y, xv, yv = _resident(data, dev, fmt)
    model = build(spec).to(dev).to(memory_format=fmt)
    dtype = precision(dev, cfg.amp)
    opt = torch.optim.SGD(
        model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=True, weight_decay=cfg.weight_decay
    )
    loss_fn = nn.CrossEntropyLoss()
    steps = math.ceil(len(y) / cfg.batch_size)
    _sync(dev)
    start, step, seen = time.perf_counter(), 0, 0
    for _ in range(cfg.epochs):
        model.train()
        for idx in torch.randperm(len(y), device=dev).split(cfg.batch_size):
            if len(idx) < 2:  # as the trial loop: BatchNorm cannot train on one image
                continue
            opt.param_groups[0]["lr"] = lr_at(step, steps * cfg.epochs, 0, cfg.lr)
            with torch.autocast(dev.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                loss = loss_fn(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step, seen = step + 1, seen + len(idx)
        model.eval()
        wrong = torch.zeros((), dtype=torch.int64, device=dev)
        with (
            torch.no_grad(),
            torch.autocast(dev.type, dtype=dtype or torch.float32, enabled=dtype is not None),
        ):
            for xb, yb in zip(xv.split(4 * cfg.batch_size), yv.split(4 * cfg.batch_size), strict=True):
                wrong += (model(xb).argmax(1) != yb).sum()
        wrong.item()
    return seen / (time.perf_counter() - start)


def _resident(data: Dataset, dev: torch.device, fmt: torch.memory_format) -> tuple[torch.Tensor, ...]:
    """The dataset's network-ready splits as whole tensors on `dev`."""
    gen = torch.Generator().manual_seed(0)
    on = data.on(dev) if dev.type == "cuda" else data
    train_split = list(on.train_batches(data.train_size, gen, TrainingConfig().augment, dev))
    val_split = list(on.val_batches(data.val_size, dev))
    (x, y), (xv, yv) = train_split[0], val_split[0]
    return x.contiguous(memory_format=fmt), y, xv.contiguous(memory_format=fmt), yv


def bench_specs(size: Size, dev: torch.device) -> None:
    """Figure (a): trial loop against the lean loop per spec, compile off and on."""
    data = _data(size)
    cfg = TrainingConfig(epochs=size.epochs, batch_size=size.batch, warmup_epochs=0)
    print(
        f"(a) images/s at 3x{size.px}x{size.px}, {data.train_size} images, {size.epochs} epoch(s), on {dev}"
    )
    print(
        f"    {'spec':<24}{'lean':>9}{'trial':>9}{'ratio':>7}{'compiled':>10}{'vs lean':>9}{'compile s':>10}"
    )
    specs = cifar_specs(size)
    lean(next(iter(specs.values())), data, replace(cfg, epochs=1), dev)  # untimed: CUDA and cuDNN start-up
    for name, spec in specs.items():
        ref = lean(spec, data, cfg, dev)
        threads = torch.get_num_threads()
        eager = train(spec, data, cfg, seed=0, device=str(dev), threads=threads)
        line = f"    {name:<24}{ref:9.0f}{eager.images_per_sec:9.0f}{eager.images_per_sec / ref:6.2f}x"
        if size.compile:
            comp = train(spec, data, replace(cfg, compile=True), seed=0, device=str(dev), threads=threads)
            mode = compile_mode(spec, dev)
            line += f"{comp.images_per_sec:10.0f}{comp.images_per_sec / ref:8.2f}x{comp.compile_time:9.1f}s {mode}"
        print(line, flush=True)
    print(
        f"    targets: trial/lean >= {EAGER_TARGET}x on every spec; compiled/lean >= {COMPILE_TARGET}x on AnyNetX_E"
    )
    if not size.compile:
        print("    compile: skipped (--quick or --no-compile; a cold CPU compile takes minutes)")


class Busy:
    """The GPU's busy fraction (nvidia-smi utilization.gpu), sampled in a thread while in the block."""

    def __init__(self, every: float = 0.5):
        self.every, self.samples = every, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(self.every):
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "--id=0"],
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode == 0 and out.stdout.strip():
                self.samples.append(float(out.stdout.split()[0]) / 100)

    def __enter__(self) -> Busy:
        if shutil.which("nvidia-smi"):
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def text(self) -> str:
        """The mean busy fraction, or 'no GPU'."""
        return f"GPU busy {100 * sum(self.samples) / len(self.samples):3.0f}%" if self.samples else "no GPU"


def experiment(size: Size, gpu: bool, packed: bool) -> dict:
    """The sweep's experiment: size.models AnyNetX_E specs in size.flops on synthetic CIFAR-sized data."""
    if gpu:
        resources = {"cpus_per_trial": 1, "gpus_per_trial": 1, "pack_gpus": packed}
    else:
        resources = {"cpus_per_trial": 1, "max_concurrent": 2 if packed else 1}
    return {
        "name": "gpu_trials",
        "space": {"name": "anynet_x_e", "options": {"stages": 3, "max_width": 512, "strides": [1, 2, 2]}},
        "samples": size.models,
        "seed": 0,
        "constraints": {"flops": list(size.flops)},
        "model": {"stem": _stem(size)},
        "dataset": {
            "name": "synthetic",
            "params": {
                "num_samples": size.images * 5 // 4,
                "num_classes": 10,
                "size": size.px,
                "val_fraction": 0.2,
            },
        },
        "training": {"epochs": size.epochs, "batch_size": size.batch},
        "resources": resources,
    }


def _data(size: Size) -> Dataset:
    """The synthetic CIFAR-sized data of both figures (as experiment() asks for it)."""
    return synthetic(num_samples=size.images * 5 // 4, num_classes=10, size=size.px, val_fraction=0.2)


_WORKER: dict = {}  # a process's data and training recipe, made once by _start_worker


def _start_worker(size: Size, device: str) -> None:
    """Pool initializer: the worker's copy of the data, its recipe and device."""
    _WORKER.update(data=_data(size), cfg=TrainingConfig(epochs=size.epochs, batch_size=size.batch))
    _WORKER["device"] = device


def _train_one(job: tuple[int, dict]) -> float:
    """Train one spec as a trial does (one thread); its validation error."""
    seed, spec = job
    return train(from_dict(spec), _WORKER["data"], _WORKER["cfg"], seed=seed, device=_WORKER["device"]).error


def bench_processes(size: Size, gpu: bool) -> None:
    """Figure (b) where Ray is missing (the lent GPU machine has torch only): the sweep's specs
    trained by 1 process and then by k processes sharing the GPU, k by pack_gpus' rule; each
    trains as a trial does, without Ray's scheduling."""
    import multiprocessing
    import os

    from nas.sweeping import memory

    samples = _anynet_e(size, size.models, seed=0)
    if gpu:
        need = memory.gpu_need(
            [s.complexity.to_dict() for s in samples], size.batch, memory.resident(_data(size))
        )
        gpu_bytes = torch.cuda.get_device_properties(0).total_memory
        k = memory.trials_per_gpu(need, gpu_bytes, float(os.cpu_count() or 1), 1.0)
    else:
        k = 2
    jobs = [(i, s.spec.to_dict()) for i, s in enumerate(samples)]
    print(f"(b) without Ray: {size.models} AnyNetX_E models, {size.epochs} epoch(s) on {size.images} images")
    rates = []
    for n in (1, k):
        start = time.perf_counter()
        ctx = multiprocessing.get_context("spawn")  # CUDA cannot be used in a forked child
        with Busy() as busy, ctx.Pool(n, _start_worker, (size, "cuda" if gpu else "cpu")) as pool:
            pool.map(_train_one, jobs, chunksize=1)
        rates.append(size.models * 3600 / (time.perf_counter() - start))
        name = f"{n} process(es){' per GPU' if gpu else ''}"
        print(
            f"    {name:<22}{size.models * 3600 / rates[-1]:8.1f} s  {rates[-1]:8.0f} models/h  {busy.text()}"
        )
    print(f"    {k} / 1 process(es): {rates[1] / rates[0]:.2f}x models per hour")
    print(f"    targets: packed >= {SPEEDUP_TARGET}x models per hour, GPU busy >= {100 * BUSY_TARGET:.0f}%")


def bench_sweep(size: Size, gpu: bool) -> None:
    """Figure (b): the sweep at one trial per GPU and packed, models per hour and GPU busy; where
    Ray is missing, the same training by processes (bench_processes)."""
    try:
        import ray  # noqa: F401  (the sweep needs it; part (a) does not)
    except ImportError as err:
        print(f"(b) the sweep needs Ray ({err}); measured without it instead")
        bench_processes(size, gpu)
        return
    from nas.sweeping.driver import sweep

    label = "packed (pack_gpus)" if gpu else "2 at once (CPU)"
    print(f"(b) {size.models}-model AnyNetX_E sweep, {size.epochs} epoch(s) on {size.images} images")
    rates = []
    for packed, name in ((False, "1 trial per GPU" if gpu else "1 at once (CPU)"), (True, label)):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "exp.yaml"
            path.write_text(yaml.safe_dump(experiment(size, gpu, packed)))
            start = time.perf_counter()
            with Busy() as busy:
                sweep(str(path), out=str(Path(tmp) / "out"))
            wall = time.perf_counter() - start
        rates.append(size.models * 3600 / wall)
        print(f"    {name:<22}{wall:8.1f} s  {rates[-1]:8.0f} models/h  {busy.text()}", flush=True)
    print(f"    packed / 1 per GPU: {rates[1] / rates[0]:.2f}x models per hour")
    print(f"    targets: packed >= {SPEEDUP_TARGET}x models per hour, GPU busy >= {100 * BUSY_TARGET:.0f}%")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes on CPU (no GPU figures)")
    p.add_argument("--no-sweep", action="store_true", help="only figure (a)")
    p.add_argument("--no-ray", action="store_true", help="figure (b) by processes, as where Ray is missing")
    p.add_argument("--no-compile", action="store_true", help="figure (a) without its compiled column")
    args = p.parse_args()
    gpu = torch.cuda.is_available() and not args.quick
    dev = torch.device("cuda" if gpu else "cpu")
    size = QUICK if args.quick else FULL
    if args.no_compile:
        size = replace(size, compile=False)
    print(f"device: {torch.cuda.get_device_name(0) if gpu else 'no GPU (CPU)'}; torch {torch.__version__}")
    bench_specs(size, dev)
    if args.no_ray and not args.no_sweep:
        bench_processes(size, gpu)
    elif not args.no_sweep:
        bench_sweep(size, gpu)


if __name__ == "__main__":
    main()

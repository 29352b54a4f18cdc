"""One trial's training: SGD with momentum, linear warm-up then cosine decay, weight decay;
mixed precision and channels-last on CUDA, optionally torch.compile. The loss, the metric and
the reported error (top-1 error; segmentation: 100 - mIoU) are the data's task's
(nas.training.tasks), per epoch and at the end.

The loop never waits on the GPU inside a step: error counts (or confusion matrices) and loss sums accumulate on the
device, and whether the loss sum stayed finite is read back every CHECK_EVERY steps and at
each epoch's end, so a divergence is reported within that window of steps."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from blocks.complexity import complexity
from blocks.errors import NasError
from blocks.network import build
from blocks.spec import ArchSpec
from nas.training import tasks
from nas.training.config import TrainingConfig
from nas.training.datasets import Dataset
from nas.training.segdata import SegDataset

Data = Dataset | SegDataset  # what a loop trains on, of either task (or their streamed twins)
CPU = torch.device("cpu")
CHECK_EVERY = 50  # steps between reads of whether the loss stayed finite
GRAPH_FLOPS = 500_000_000  # per image: compiled models up to this size run as CUDA graphs


class Diverged(NasError):
    """The training loss became NaN or infinite."""


@dataclass
class TrainResult:
    """What a finished training reports: per-epoch errors (%), timings and throughput."""

    train_errors: list[float] = field(default_factory=list)
    val_errors: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    epochs: int = 0
    train_time: float = 0.0
    images_per_sec: float = 0.0
    device: str = "cpu"
    compile_time: float = 0.0  # seconds torch.compile took before training (not in train_time)
    # the last validation's task scores (segmentation: miou, pixel_accuracy, class_iou, dice)
    scores: dict[str, Any] = field(default_factory=dict)
    model: nn.Module | None = field(default=None, repr=False)

    @property
    def error(self) -> float:
        return self.val_errors[-1]


def lr_at(step: int, total: int, warmup: int, base: float) -> float:
    """Learning rate at an optimisation step: linear warm-up from base/10, then cosine to 0."""
    if step < warmup:
        return base * (0.1 + 0.9 * step / warmup)
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * base * (1.0 + math.cos(math.pi * progress))


def evaluate(
    model: nn.Module,
    data: Data,
    batch: int,
    device: torch.device,
    dtype: torch.dtype | None = None,
    workers: int = 0,
) -> tuple[float, float, dict[str, Any]]:
    """The task's error on the validation split, in percent (top-1 error; segmentation: 100 - mIoU),
    the mean cross-entropy there (per image; per counted pixel), without the training's label
    smoothing so runs with and without it compare, and the task's scores (segmentation: miou,
    pixel_accuracy, class_iou, dice); summed on the device, read once."""
    task = tasks.of(data)
    model.eval()
    meter = task.meter(data, data.val_size, device)
    criterion = task.criterion(data, 0.0, "sum")
    loss = torch.zeros((), device=device)
    counted = torch.zeros((), dtype=torch.int64, device=device)
    with torch.no_grad(), _autocast(device, dtype):
        for xb, yb in data.val_batches(batch, device, workers):
            out = model(xb)
            meter.add(out, yb)
            loss += criterion(out.float(), yb)
            counted += task.counted(data, yb)
    error, scores = meter.result()
    return error, loss.item() / max(1, counted.item()), scores


def precision(device: torch.device, amp: bool) -> torch.dtype | None:
    """The autocast dtype of a run: bfloat16 on a GPU that has it, else float16; None (float32)
    off CUDA or without amp."""
    if device.type != "cuda" or not amp:
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _autocast(device: torch.device, dtype: torch.dtype | None) -> torch.autocast:
    """Autocast to `dtype` on `device`, or a disabled one for float32."""
    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


def optimizer(model: nn.Module, cfg: TrainingConfig, fused: bool = False) -> torch.optim.SGD:
    """SGD; weight decay only on weights of convs and linears, not on norms and biases. `fused`
    (a GPU trial) updates every parameter in one kernel per group, and takes float16's inf check
    from the GradScaler on the device, where the unfused step reads it on the host every step."""
    decay, no_decay = [], []
    for p in model.parameters():
        (decay if p.ndim > 1 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.SGD(
        groups,
        lr=cfg.lr,
        momentum=cfg.momentum,
        nesterov=cfg.nesterov and cfg.momentum > 0,
        fused=fused or None,
    )


@contextmanager
def seeded(seed: int, device: torch.device = CPU, threads: int | None = None) -> Iterator[None]:
    """Seed torch's RNGs for `device` (and set the CPU threads) inside the block only: the caller's
    RNG states and thread count come back on exit, so the work neither depends on nor disturbs them."""
    before = torch.get_num_threads()
    gpus = list(range(torch.cuda.device_count())) if device.type == "cuda" else []
    with torch.random.fork_rng(devices=gpus):
        torch.default_generator.manual_seed(seed)
        if gpus:
            torch.cuda.manual_seed_all(seed)
        if device.type == "cpu" and threads is not None:
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def train(
    spec: ArchSpec,
    data: Data,
    cfg: TrainingConfig,
    *,
    seed: int = 0,
    device: str | None = None,
    threads: int = 1,
    workers: int = 0,
    on_epoch: Callable[[int, dict], None] | None = None,
) -> TrainResult:
    """Train `spec` from scratch on `data` for cfg.epochs; on_epoch(epoch, metrics) after each.
    `seed` fixes initialisation, data order, augmentation and dropout; `threads` is the CPU thread
    count while it trains; neither touches the caller's RNG state or thread count. `workers` are
    the data-loader processes of a streamed dataset (none for one in memory)."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    with seeded(seed, dev, threads):
        mode = compile_mode(spec, dev) if cfg.compile else ""
        return _train(build(spec), mode, data, cfg, seed, dev, workers, on_epoch)


def fit(
    model: nn.Module,
    data: Data,
    cfg: TrainingConfig,
    *,
    seed: int = 0,
    device: str | None = None,
    threads: int = 1,
    workers: int = 0,
    on_epoch: Callable[[int, dict], None] | None = None,
) -> TrainResult:
    """Train an already built `model` (a network no spec describes, e.g. a benchmark's or a test's)
    exactly as `train` trains a spec's; torch.compile, when cfg.compile, in its default mode."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    with seeded(seed, dev, threads):
        return _train(model, "default" if cfg.compile else "", data, cfg, seed, dev, workers, on_epoch)


def compile_mode(spec: ArchSpec, device: torch.device) -> str:
    """torch.compile's mode for `spec`: CUDA graphs ("reduce-overhead") on CUDA for a model of at
    most GRAPH_FLOPS per image, whose steps are bound by kernel launches; "default" otherwise."""
    small = complexity(spec).flops <= GRAPH_FLOPS
    return "reduce-overhead" if device.type == "cuda" and small else "default"


AUX_WEIGHT = 0.4  # an auxiliary classifier's share of the loss, as torchvision's reference training


def _outputs(out: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """A network's training outputs as a tuple: the main logits, then any auxiliary logits."""
    return out if isinstance(out, tuple) else (out,)


@dataclass(frozen=True)
class _Step:
    """What one optimisation step needs besides the batch."""

    model: nn.Module
    opt: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    loss_fn: nn.Module
    dtype: torch.dtype | None
    graphs: bool  # CUDA graphs: each step is marked as a new one

    def forward(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The main logits and the training loss: the main head's, plus AUX_WEIGHT times each
        auxiliary classifier's where the network has one."""
        out, *aux = _outputs(self.model(xb))
        loss = self.loss_fn(out, yb)
        for logits in aux:
            loss = loss + AUX_WEIGHT * self.loss_fn(logits, yb)
        return out, loss

    def __call__(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One SGD step on a batch; its main logits (detached) and its loss, both left on the device."""
        if self.graphs:
            torch.compiler.cudagraph_mark_step_begin()
        with _autocast(xb.device, self.dtype):
            out, loss = self.forward(xb, yb)
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        return out.detach(), loss.detach().float()


def _warm_up(step: _Step, data: Data, cfg: TrainingConfig, fmt: torch.memory_format) -> float:
    """Compile `step.model` for every batch shape the run will meet (train and validation, full
    and last) with zero batches, then restore the weights, norms' statistics and RNGs it touched,
    so training starts where it would without compiling; returns the seconds it took."""
    start = time.perf_counter()
    model, dev = step.model, next(step.model.parameters()).device
    state = {k: v.clone() for k, v in model.state_dict().items()}
    gpus = [dev.index or 0] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=gpus):
        for n, train_mode in _shapes(data, cfg.batch_size):
            image, target = tasks.of(data).shapes(data, train_mode)
            x = torch.zeros(n, *image, device=dev).contiguous(memory_format=fmt)
            y = torch.zeros(n, *target, dtype=torch.int64, device=dev)
            model.train(train_mode)
            for _ in range(3):  # CUDA graphs are recorded on a shape's later calls
                if train_mode:
                    if step.graphs:
                        torch.compiler.cudagraph_mark_step_begin()
                    with _autocast(dev, step.dtype):
                        step.forward(x, y)[1].backward()
                else:
                    with torch.no_grad(), _autocast(dev, step.dtype):
                        model(x)
    step.opt.zero_grad(set_to_none=True)
    model.load_state_dict(state)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return time.perf_counter() - start


def _shapes(data: Data, batch: int) -> list[tuple[int, bool]]:
    """The batch sizes a run trains (True) and evaluates (False) on: full ones and the last."""
    train = {min(batch, data.train_size), data.train_size % batch}
    val = {min(4 * batch, data.val_size), data.val_size % (4 * batch)}
    return [(n, True) for n in sorted(train) if n >= 2] + [(n, False) for n in sorted(val) if n >= 1]


def _train(
    model: nn.Module,
    mode: str,
    data: Data,
    cfg: TrainingConfig,
    seed: int,
    dev: torch.device,
    workers: int,
    on_epoch: Callable[[int, dict], None] | None,
) -> TrainResult:
    """The training loop of `train` and `fit` (`mode`: torch.compile's, "" for none), run with
    the global RNGs already seeded; the loss and the metric are the data's task's."""
    cuda, task = dev.type == "cuda", tasks.of(data)
    if cuda:
        data = data.on(dev)
    fmt = torch.channels_last if (cuda and cfg.channels_last) else torch.contiguous_format
    model = model.to(dev).to(memory_format=fmt)
    dtype = precision(dev, cfg.amp)
    net = torch.compile(model, mode=mode, dynamic=False) if mode else model  # a graph per batch shape
    step = _Step(
        net,
        optimizer(model, cfg, fused=cuda),
        torch.amp.GradScaler("cuda", enabled=dtype is torch.float16),
        task.criterion(data, cfg.label_smoothing, "mean"),
        dtype,
        mode == "reduce-overhead",
    )
    result = TrainResult(device=str(dev), compile_time=_warm_up(step, data, cfg, fmt) if mode else 0.0)
    n = data.train_size
    steps_per_epoch = max(1, math.ceil(n / cfg.batch_size))
    total, warmup = steps_per_epoch * cfg.epochs, steps_per_epoch * cfg.warmup_epochs
    gen = torch.Generator().manual_seed(seed)
    done, seen, start = 0, 0, time.perf_counter()
    for epoch in range(cfg.epochs):
        net.train()
        meter = task.meter(data, n, dev)
        loss_sum = torch.zeros((), device=dev)  # non-finite from the first non-finite loss on
        checked = done
        for xb, yb in data.train_batches(cfg.batch_size, gen, cfg.augment, dev, workers):
            for group in step.opt.param_groups:
                group["lr"] = lr_at(done, total, warmup, cfg.lr)
            out, loss = step(xb.contiguous(memory_format=fmt), yb)
            meter.add(out, yb)
            loss_sum.add_(loss, alpha=len(yb))
            done, seen = done + 1, seen + len(yb)
            if done - checked >= CHECK_EVERY:
                _check_finite(loss_sum, epoch, checked, done)
                checked = done
        _check_finite(loss_sum, epoch, checked, done)
        result.train_errors.append(meter.result()[0])
        result.losses.append(loss_sum.item() / n)
        val_error, val_loss, result.scores = evaluate(net, data, 4 * cfg.batch_size, dev, dtype, workers)
        result.val_errors.append(val_error)
        result.epochs = epoch + 1
        if on_epoch is not None:
            metrics = {
                "epoch": epoch + 1,
                "train_error": result.train_errors[-1],
                "val_error": val_error,
                "loss": result.losses[-1],
                "val_loss": val_loss,
                **{k: v for k, v in result.scores.items() if k != "class_iou"},
            }
            on_epoch(epoch + 1, metrics)
    result.train_time = time.perf_counter() - start
    result.images_per_sec = seen / result.train_time if result.train_time > 0 else 0.0
    result.model = model
    return result


def _check_finite(loss_sum: torch.Tensor, epoch: int, first: int, last: int) -> None:
    """Raise Diverged when a loss of steps first..last-1 was NaN or infinite: the epoch's loss sum,
    finite at the previous check, stays NaN or infinite once a loss was (one read of the device)."""
    if last > first and not torch.isfinite(loss_sum).item():
        raise Diverged(
            f"loss became NaN or infinite at epoch {epoch + 1}, between steps {first} and {last - 1}"
        )

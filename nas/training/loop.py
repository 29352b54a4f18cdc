"""One trial's training: SGD with momentum, linear warm-up then cosine decay, weight decay;
AMP and channels-last on CUDA. Reports top-1 error per epoch and at the end."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

from blocks.errors import NasError
from blocks.network import build
from blocks.spec import ArchSpec
from nas.config import TrainingConfig
from nas.training.datasets import Dataset

CPU = torch.device("cpu")


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


def evaluate(model: nn.Module, data: Dataset, batch: int, device: torch.device) -> float:
    """Top-1 error on the validation split, in percent."""
    model.eval()
    wrong = 0
    with torch.no_grad():
        for xb, yb in data.val_batches(batch, device):
            wrong += (model(xb).argmax(1) != yb).sum().item()
    return 100.0 * wrong / data.val_size


def _optimizer(model: nn.Module, cfg: TrainingConfig) -> torch.optim.SGD:
    """SGD; weight decay only on weights of convs and linears, not on norms and biases."""
    decay, no_decay = [], []
    for p in model.parameters():
        (decay if p.ndim > 1 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.SGD(
        groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0
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
    data: Dataset,
    cfg: TrainingConfig,
    *,
    seed: int = 0,
    device: str | None = None,
    threads: int = 1,
    on_epoch: Callable[[int, dict], None] | None = None,
) -> TrainResult:
    """Train `spec` from scratch on `data` for cfg.epochs; on_epoch(epoch, metrics) after each.
    `seed` fixes initialisation, data order, augmentation and dropout; `threads` is the CPU thread
    count while it trains; neither touches the caller's RNG state or thread count."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    with seeded(seed, dev, threads):
        return _train(spec, data, cfg, seed, dev, on_epoch)


def _train(
    spec: ArchSpec,
    data: Dataset,
    cfg: TrainingConfig,
    seed: int,
    dev: torch.device,
    on_epoch: Callable[[int, dict], None] | None,
) -> TrainResult:
    """The training loop of `train`, run with the global RNGs already seeded."""
    model = build(spec).to(dev)
    cuda = dev.type == "cuda"
    fmt = torch.channels_last if (cuda and cfg.channels_last) else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = _optimizer(model, cfg)
    scaler = torch.amp.GradScaler("cuda", enabled=cuda and cfg.amp)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    n = data.train_size
    steps_per_epoch = max(1, math.ceil(n / cfg.batch_size))
    total, warmup = steps_per_epoch * cfg.epochs, steps_per_epoch * cfg.warmup_epochs
    gen = torch.Generator().manual_seed(seed)
    result = TrainResult(device=str(dev))
    step, seen, start = 0, 0, time.perf_counter()
    for epoch in range(cfg.epochs):
        model.train()
        wrong, loss_sum = 0, 0.0
        for xb, yb in data.train_batches(cfg.batch_size, gen, cfg.augment, dev):
            xb = xb.contiguous(memory_format=fmt)
            for group in opt.param_groups:
                group["lr"] = lr_at(step, total, warmup, cfg.lr)
            with torch.autocast(dev.type, dtype=torch.float16, enabled=cuda and cfg.amp):
                out = model(xb)
                loss = loss_fn(out, yb)
            if not torch.isfinite(loss):
                raise Diverged(f"loss became {loss.item()} at epoch {epoch + 1}, step {step}")
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            step, seen = step + 1, seen + len(yb)
            wrong += (out.argmax(1) != yb).sum().item()
            loss_sum += loss.item() * len(yb)
        result.train_errors.append(100.0 * wrong / n)
        result.losses.append(loss_sum / n)
        result.val_errors.append(evaluate(model, data, 4 * cfg.batch_size, dev))
        result.epochs = epoch + 1
        if on_epoch is not None:
            metrics = {
                "epoch": epoch + 1,
                "train_error": result.train_errors[-1],
                "val_error": result.val_errors[-1],
                "loss": result.losses[-1],
            }
            on_epoch(epoch + 1, metrics)
    result.train_time = time.perf_counter() - start
    result.images_per_sec = seen / result.train_time if result.train_time > 0 else 0.0
    result.model = model
    return result

"""Segmentation training speed: the trial loop (nas.training.loop.fit, the loop every trial runs)
against a lean reference loop written here in plain PyTorch, on the same model, data, schedule
and evaluation each epoch (per-pixel cross-entropy with ignore_index, a confusion matrix for mIoU).

Both run once untimed (first-call costs: lazy imports, allocator), then `--repeats` pairs, the
order alternating within pairs (trial first, then reference first, ...), so load from other
work falls on both alike; prints every pair's images/s and ratio, and the medians (target >= 0.9).
Images per second of wall clock and of this process's CPU time (which other work on a shared
machine moves less), both taken around each whole call, setup included, so the two loops are
timed over the same window.

    python benchmarks/seg_speed.py [--images 1024] [--size 32] [--epochs 2] [--batch 32] [--threads 1]
        [--repeats 7] [--device cuda]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import torch
from torch import nn

from nas.training.config import TrainingConfig
from nas.training.datasets import load
from nas.training.loop import fit, lr_at, seeded
from nas.training.segmetrics import confusion


class SegNet(nn.Module):
    """A small dilated encoder-decoder: a stride-2 stem, three dilated 3x3 convs (1, 2, 3: hole-free),
    a 1x1 classifier and bilinear upsampling back to the input size."""

    def __init__(self, classes: int, width: int = 32):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
        for rate in (1, 2, 3):
            layers += [
                nn.Conv2d(width, width, 3, 1, rate, rate, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(),
            ]
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(width, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.interpolate(
            self.head(self.body(x)), x.shape[2:], mode="bilinear", align_corners=False
        )


def lean(model: nn.Module, data, cfg: TrainingConfig, threads: int, device: str = "cpu") -> tuple[int, float]:
    """Images trained on and seconds taken by the reference loop: standardised splits made once on `device`, plain SGD steps
    with the same schedule and weight decay, an mIoU evaluation each epoch; no task dispatch, no
    checks (float32 throughout, as the trial loop with amp off)."""
    dev = torch.device(device)
    mean = torch.tensor(data.mean).view(1, -1, 1, 1).to(dev)
    std = torch.tensor(data.std).view(1, -1, 1, 1).to(dev)
    x, xv = (data.x_train.to(dev).float() - mean) / std, (data.x_val.to(dev).float() - mean) / std
    y, yv = data.y_train.to(dev).long(), data.y_val.to(dev).long()
    model = model.to(dev)
    opt = torch.optim.SGD(
        model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=True, weight_decay=cfg.weight_decay
    )
    loss_fn = nn.CrossEntropyLoss(ignore_index=data.ignore_index)
    steps = math.ceil(len(y) / cfg.batch_size)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)  # the copies above are not timed
    with seeded(0, dev, threads):
        start, step, seen = time.perf_counter(), 0, 0
        for _ in range(cfg.epochs):
            model.train()
            for idx in torch.randperm(len(y), device=dev).split(cfg.batch_size):
                if len(idx) < 2:
                    continue
                opt.param_groups[0]["lr"] = lr_at(step, steps * cfg.epochs, 0, cfg.lr)
                loss = loss_fn(model(x[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step, seen = step + 1, seen + len(idx)
            model.eval()
            matrix = torch.zeros(data.num_classes, data.num_classes, dtype=torch.int64, device=dev)
            with torch.no_grad():
                for xb, yb in zip(xv.split(4 * cfg.batch_size), yv.split(4 * cfg.batch_size), strict=True):
                    matrix += confusion(model(xb).max(1).indices, yb, data.num_classes, data.ignore_index)
            matrix.sum().item()  # the epoch's one read, as the trial loop's
        return seen, time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=1024)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--device", default="cpu", help="cpu, or cuda where a GPU is at hand")
    args = p.parse_args()
    data = load("segsynthetic", {"num_samples": args.images, "size": args.size})
    cfg = TrainingConfig(epochs=args.epochs, batch_size=args.batch, lr=0.05, amp=False, channels_last=False)

    def trial() -> tuple[float, float]:
        torch.manual_seed(0)
        model = SegNet(data.num_classes)
        with Clock() as clock:
            result = fit(model, data, cfg, device=args.device, threads=args.threads)
        return clock.rates(round(result.images_per_sec * result.train_time))

    def reference() -> tuple[float, float]:
        torch.manual_seed(0)
        model = SegNet(data.num_classes)
        with Clock() as clock:
            seen, _ = lean(model, data, cfg, args.threads, args.device)
        return clock.rates(seen)

    trial(), reference()  # untimed: first-call costs fall on neither
    print(
        f"segsynthetic {data.train_size} training images {args.size}x{args.size}, {args.epochs} epochs, "
        f"batch {args.batch}, {args.threads} thread(s), {args.device}, load {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores, {args.repeats} interleaved pairs; images/s"
    )
    print("  pair  first      trial wall   lean wall  ratio   trial cpu    lean cpu  ratio")
    rows = []
    for i in range(args.repeats):
        if i % 2 == 0:
            t, r = trial(), reference()
        else:
            r, t = reference(), trial()
        rows.append((*t, *r))
        first = "trial" if i % 2 == 0 else "reference"
        print(f"  {i + 1:4d}  {first:9s}  {_cells(t, r)}")
    med = [statistics.median(col) for col in zip(*rows)]
    print(f"  median           {_cells(med[:2], med[2:])}")
    wall = statistics.median(t / r for t, _, r, _ in rows)
    cpu = statistics.median(t / r for _, t, _, r in rows)
    print(
        f"  median of the pairs' ratios: wall {wall:.2f}, cpu {cpu:.2f}; load {os.getloadavg()[0]:.1f} at the end"
    )


class Clock:
    """Wall and process CPU seconds of a `with` block."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

    def rates(self, images: int) -> tuple[float, float]:
        """Images per wall second and per CPU second."""
        return images / self.wall, images / self.cpu


def _cells(trial: tuple[float, float], reference: tuple[float, float]) -> str:
    """A row's wall and CPU images/s of both loops with their ratios."""
    (tw, tc), (rw, rc) = trial, reference
    return f"{tw:10.1f}  {rw:10.1f}  {tw / rw:5.2f}  {tc:10.1f}  {rc:10.1f}  {tc / rc:5.2f}"


if __name__ == "__main__":
    main()

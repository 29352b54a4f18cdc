"""Datasets as in-memory tensors: loaded once per run and shared by every trial.

`digits` is scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes),
split 80/20 stratified with a fixed seed; `synthetic` is Gaussian class prototypes plus
noise, for tests. Images are standardised with the training split's mean and std.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from nas.errors import UserError


@dataclass(frozen=True)
class Dataset:
    """Train and validation tensors (NCHW float32, int64 labels) plus their shape facts."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])


def _split(x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int):
    """Stratified split: the same fraction of every class goes to validation."""
    rng = np.random.default_rng(seed)
    val = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        val[idx[: int(round(len(idx) * val_fraction))]] = True
    return x[~val], y[~val], x[val], y[val]


def _finish(name: str, x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int, classes: int) -> Dataset:
    xt, yt, xv, yv = _split(x.astype(np.float32), y.astype(np.int64), val_fraction, seed)
    mean, std = xt.mean(), xt.std() + 1e-8
    as_t = torch.from_numpy
    return Dataset(name, as_t((xt - mean) / std), as_t(yt), as_t((xv - mean) / std), as_t(yv), classes)


def digits(val_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """scikit-learn's bundled handwritten digits: 1x8x8 images, 10 classes, no download."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = bunch.images[:, None, :, :] / 16.0
    return _finish("digits", x, bunch.target, val_fraction, seed, 10)


def synthetic(
    num_samples: int = 512,
    num_classes: int = 4,
    channels: int = 3,
    size: int = 8,
    noise: float = 1.0,
    val_fraction: float = 0.25,
    seed: int = 0,
) -> Dataset:
    """Learnable random data: each class is a fixed random image plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    protos = rng.normal(size=(num_classes, channels, size, size))
    y = rng.integers(0, num_classes, size=num_samples)
    x = protos[y] + noise * rng.normal(size=(num_samples, channels, size, size))
    return _finish("synthetic", x, y, val_fraction, seed, num_classes)


LOADERS = {"digits": digits, "synthetic": synthetic}


def load(name: str, params: dict[str, Any] | None = None, source: str = "dataset") -> Dataset:
    """Load a dataset by name with its parameters; bad parameters raise a UserError."""
    if name not in LOADERS:
        raise UserError(f"{source}: dataset.name: unknown dataset '{name}'; legal: {sorted(LOADERS)}")
    fn = LOADERS[name]
    legal = list(fn.__code__.co_varnames[: fn.__code__.co_argcount])
    unknown = set(params or {}) - set(legal)
    if unknown:
        raise UserError(
            f"{source}: dataset.params.{sorted(unknown)[0]}: unknown for '{name}'; legal: {legal}"
        )
    try:
        return fn(**(params or {}))
    except (TypeError, ValueError) as err:
        raise UserError(f"{source}: dataset.params: {err}") from None

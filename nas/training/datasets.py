"""Datasets by name: `load` and `declared` read the registry (nas.training.loaders), which the
imports at the end fill with every loader. Classification sets are held in memory as compact
tensors (nas.training.inmemory); an image folder too large for memory streams (nas.training.stream).

`digits` (scikit-learn's bundled 8x8 digits) and `synthetic` (Gaussian class prototypes, for
tests), defined here, need no files; `cifar10` (nas.training.cifar), `npz` (nas.training.npzfile)
and `imagefolder` (nas.training.imagefolder) read local files the user points to, never the
network. Every channel is standardised per batch, on its device, with the training split's mean
and std. Each loader declares its parameters (`loader`), so a call from Python and an experiment
file's `dataset.params` are checked alike, before any file is read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from blocks.errors import ParamError, UserError
from blocks.schema import Param
from nas.training.inmemory import HOLD_OUT, Dataset, finish
from nas.training.loaders import (
    LOADERS,
    PREPROCESSING,  # noqa: F401  (read by exports and plans as datasets.PREPROCESSING)
    SEED,
    Loader,
    Shape,
    loader,
)


@loader(val_fraction=Param(float, 0.2, HOLD_OUT, low=0, high=1), seed=SEED)
def digits(val_fraction: float, seed: int) -> Dataset:
    """scikit-learn's bundled handwritten digits: 1x8x8 images, 10 classes, no download."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = bunch.images[:, None, :, :] / 16.0
    return finish("digits", x, bunch.target, val_fraction, seed, 10, [str(d) for d in range(10)])


@loader(
    num_samples=Param(int, 512, "images in both splits", low=2),
    num_classes=Param(int, 4, "classes", low=1),
    channels=Param(int, 3, "channels per image", low=1),
    size=Param(int, 8, "image side in pixels", low=1),
    noise=Param(float, 1.0, "std of the Gaussian noise around each class prototype", low=0),
    val_fraction=Param(float, 0.25, HOLD_OUT, low=0, high=1),
    seed=SEED,
)
def synthetic(
    num_samples: int, num_classes: int, channels: int, size: int, noise: float, val_fraction: float, seed: int
) -> Dataset:
    """Learnable random data: each class is a fixed random image plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    protos = rng.normal(size=(num_classes, channels, size, size))
    y = rng.integers(0, num_classes, size=num_samples)
    x = protos[y] + noise * rng.normal(size=(num_samples, channels, size, size))
    return finish("synthetic", x, y, val_fraction, seed, num_classes)


def load(name: str, params: dict[str, Any] | None = None, source: str = "dataset") -> Dataset:
    """Load a dataset by name with its parameters; bad parameters raise a UserError naming the field."""
    return _named(name, source, lambda found: found(**(params or {})))


def declared(name: str, params: dict[str, Any] | None = None, source: str = "dataset") -> Shape | None:
    """The (input shape, classes) a dataset's parameters fix without reading a file, or None;
    bad parameters raise a UserError naming the field, as `load` does."""
    return _named(name, source, lambda found: found.declared(**(params or {})))


def _named(name: str, source: str, use: Callable[[Loader], Any]) -> Any:
    """`use` applied to the loader called `name`; an unknown name or a bad parameter is one UserError."""
    if name not in LOADERS:
        raise UserError(f"{source}: dataset.name: unknown dataset '{name}'; legal: {sorted(LOADERS)}")
    try:
        return use(LOADERS[name])
    except ParamError as err:
        raise UserError(f"{source}: dataset.params.{err.field}: {err.message}") from None


# after this module's loaders and in this order, so the legal dataset names list digits, synthetic,
# cifar10, npz and imagefolder, then the segmentation sets
from nas.training import cifar, npzfile  # noqa: E402, F401, I001  (register cifar10, npz)
from nas.training.imagefolder import class_files  # noqa: E402, F401  (registers imagefolder; read by benchmarks)
from nas.training import segdata  # noqa: E402, F401  (registers the segmentation loaders)

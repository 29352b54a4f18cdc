"""The in-memory Dataset (compact NCHW tensors, uint8 where the source is, loaded once per run
and shared by every trial) and the helpers every in-memory loader shares: the stratified split,
the compact form, and the validation share parameter."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from blocks.errors import ParamError
from blocks.schema import Param
from nas.training.augment import Augment, draws_on
from nas.training.pixels import channel_stats, record, standardiser

# what a loader's pixels are before standardisation, for a deployment to feed the same
PIXELS = {
    "digits": "scikit-learn load_digits().images / 16, in [0, 1]",
    "cifar10": "uint8 values 0..255, as in the batch files",
    "imagefolder": "uint8 values 0..255 as Pillow decodes them (resized bilinear to size x size when set)",
    "npz": "the file's values, unscaled",
    "synthetic": "synthetic values",
}


@dataclass(frozen=True)
class Dataset:
    """Train and validation images held compactly (NCHW uint8 where the source is, float32 otherwise,
    int64 labels), standardised per batch on the batch's device; plus their shape facts."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    num_classes: int
    class_names: tuple[str, ...] = ()
    mean: tuple[float, ...] = ()  # per channel, of the training split: input = (pixels - mean) / std
    std: tuple[float, ...] = ()

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    @property
    def train_size(self) -> int:
        return len(self.y_train)

    @property
    def val_size(self) -> int:
        return len(self.y_val)

    def on(self, device: torch.device | str) -> Dataset:
        """This set with its tensors on `device`: a GPU trial moves it once, then batches never leave it."""
        move = {k: getattr(self, k).to(device) for k in ("x_train", "y_train", "x_val", "y_val")}
        return replace(self, **move)

    def train_batches(
        self,
        batch_size: int,
        gen: torch.Generator,
        augment: Augment,
        device: torch.device,
        workers: int = 0,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of network-ready training batches on `device`, in an order drawn from `gen`,
        augmented; a last batch of one image is left out (BatchNorm cannot train on it).
        `workers` is for streaming sets; one in memory needs none."""
        ready = standardiser(self.mean, self.std, device)
        order = torch.randperm(self.train_size, generator=gen).to(self.x_train.device)
        draws = draws_on(gen, device) if augment.enabled else gen
        for i in range(0, self.train_size, batch_size):
            idx = order[i : i + batch_size]
            if len(idx) < 2 and self.train_size > 1:
                continue
            yield (
                augment.apply(ready(self.x_train[idx]), draws),
                self.y_train[idx].to(device, non_blocking=True),
            )

    def val_batches(
        self, batch_size: int, device: torch.device, workers: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The validation split in order, as network-ready batches on `device` (`workers`: as above)."""
        ready = standardiser(self.mean, self.std, device)
        for i in range(0, self.val_size, batch_size):
            yield (
                ready(self.x_val[i : i + batch_size]),
                self.y_val[i : i + batch_size].to(device, non_blocking=True),
            )

    def preprocessing(self) -> dict[str, Any]:
        """How raw pixels become the network's input (what an exported model needs to be fed)."""
        return record(self, PIXELS.get(self.name, "as loaded"))


HOLD_OUT = "share of every class held out for validation"
HELD_OUT = Param(float, None, HOLD_OUT + " (null: 0.2; cifar10 0.1)", low=0, high=1, optional=True)


def unused(field: str, value: Any, why: str) -> None:
    """Refuse a parameter the other parameters make meaningless, rather than ignore it."""
    if value is not None:
        raise ParamError(field, f"not used {why}; remove it")


def split(x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int):
    """Stratified split: the same fraction of every class goes to validation."""
    rng = np.random.default_rng(seed)
    val = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        val[idx[: int(round(len(idx) * val_fraction))]] = True
    if val.all() or not val.any():
        raise ParamError("val_fraction", f"{val_fraction} of {len(y)} images leaves one split empty")
    return x[~val], y[~val], x[val], y[val]


def _compact(x: np.ndarray) -> torch.Tensor:
    """Images as a tensor kept in their source's form: uint8 stays uint8, anything else float32."""
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.uint8 if x.dtype == np.uint8 else np.float32))


def build(name: str, xt, yt, xv, yv, num_classes: int, class_names=()) -> Dataset:
    """Keep the images compact; the standardisation's statistics come from the training split alone,
    so none leak from validation."""
    xt, xv = _compact(xt), _compact(xv)
    yt, yv = (torch.from_numpy(np.asarray(y, dtype=np.int64)) for y in (yt, yv))
    mean, std = channel_stats(xt)
    return Dataset(name, xt, yt, xv, yv, num_classes, tuple(class_names), mean, std)


def finish(name: str, x, y, val_fraction: float, seed: int, classes: int, class_names=()) -> Dataset:
    """`x` and `y` split stratified (`split`) and built into a Dataset (`build`)."""
    return build(name, *split(x, y, val_fraction, seed), classes, class_names)

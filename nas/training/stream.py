"""Image folders too large for memory, streamed: each batch is decoded with Pillow in DataLoader
worker processes, never the whole set at once. Training images get the standard random-resized
crop (scale 0.08-1, aspect ratio 3/4-4/3) and a horizontal flip; validation images are resized
so the shorter side is size / 0.875, then centre-cropped to size; neither distorts the image
beyond the crop's ratio. JPEGs are decoded at a reduced scale when the crop allows (Pillow's
draft mode), so a large photo costs little more than a small one. The object holds paths, not
pixels: it pickles small, for every node of a Ray cluster that sees the same filesystem."""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from blocks.errors import ParamError, UserError
from nas.training.augment import Augment, draws_on
from nas.training.pixels import channel_stats, read_image, record, standardiser

CROP_SCALE = (0.08, 1.0)  # share of the image's area a training crop covers
CROP_RATIO = (3 / 4, 4 / 3)  # width / height of a training crop
CENTRE = 0.875  # validation: the centre crop's side over the resized shorter side
STATS_IMAGES = 512  # training images (a seeded choice) whose validation crops give mean and std
SHOWN_BAD = 5  # unreadable files named in the error of the up-front check
SAY_EVERY = 10.0  # seconds between two progress lines of the up-front check

Box = tuple[float, float, float, float]  # left, top, width, height in the image's pixels


def crop_box(width: int, height: int, rng: np.random.Generator) -> Box:
    """A random-resized crop's box: up to 10 draws of area share and log-uniform ratio that fit,
    else the largest centred box of a legal ratio (the rule torchvision and the papers use)."""
    log_ratio = (math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1]))
    for _ in range(10):
        area = width * height * rng.uniform(*CROP_SCALE)
        ratio = math.exp(rng.uniform(*log_ratio))
        w, h = round(math.sqrt(area * ratio)), round(math.sqrt(area / ratio))
        if 0 < w <= width and 0 < h <= height:
            return float(rng.integers(0, width - w + 1)), float(rng.integers(0, height - h + 1)), w, h
    ratio = min(max(width / height, CROP_RATIO[0]), CROP_RATIO[1])
    w, h = min(width, round(height * ratio)), min(height, round(width / ratio))
    return (width - w) / 2, (height - h) / 2, w, h


def centre_box(width: int, height: int) -> Box:
    """The validation crop's box: the centred square of side 0.875 x the shorter side, which resized
    to size is the resize-shorter-side-to-size/0.875-then-centre-crop of the usual recipe."""
    side = CENTRE * min(width, height)
    return (width - side) / 2, (height - side) / 2, side, side


def crop_resize(img: Any, box: Box, size: int, grayscale: bool) -> Any:
    """`box` of a Pillow image resampled (bilinear) to size x size; a JPEG is first decoded at the
    smallest scale that still gives the box at least `size` pixels a side."""
    from PIL import Image

    width, height = img.size
    left, top, w, h = box
    img.draft("L" if grayscale else "RGB", (math.ceil(width * size / w), math.ceil(height * size / h)))
    fx, fy = img.size[0] / width, img.size[1] / height
    scaled = (left * fx, top * fy, (left + w) * fx, (top + h) * fy)
    mode = "L" if grayscale else "RGB"
    return img.convert(mode).resize((size, size), Image.Resampling.BILINEAR, box=scaled)


@dataclass(frozen=True)
class Files:
    """Image files as paths relative to one folder (small to pickle), with their class indices and
    the parameter that named the folder (for errors)."""

    field: str
    root: str
    names: tuple[str, ...]
    labels: tuple[int, ...]

    @classmethod
    def of(cls, field: str, root: Path, files: list[tuple[Path, int]]) -> Files:
        names = tuple(str(p.relative_to(root)) for p, _ in files)
        return cls(field, str(root), names, tuple(c for _, c in files))


class Decode(torch.utils.data.Dataset):
    """Item i of an epoch: file order[i] decoded, cropped and (training) flipped, as uint8 CHW.

    The crop and flip of item i come from (seed, i) alone, so they do not depend on which worker
    decodes it. A file that cannot be read comes back as why (for `files.field`), raised by the caller."""

    def __init__(self, files: Files, order: np.ndarray, size: int, grayscale: bool, seed: int | None):
        self.files, self.order, self.size, self.grayscale, self.seed = files, order, size, grayscale, seed

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, str]:
        k = int(self.order[i])
        path = Path(self.files.root) / self.files.names[k]
        rng = None if self.seed is None else np.random.default_rng([self.seed, i])
        try:
            pixels = read_image(path, self.files.field, lambda img: self._fit(img, rng))
        except ParamError as err:
            return (
                torch.zeros(1 if self.grayscale else 3, self.size, self.size, dtype=torch.uint8),
                -1,
                err.message,
            )
        x = torch.from_numpy(np.array(pixels))  # a copy: Pillow's buffer is read-only
        return (x[None] if self.grayscale else x.permute(2, 0, 1)).contiguous(), self.files.labels[k], ""

    def _fit(self, img: Any, rng: np.random.Generator | None) -> Any:
        """Validation: the centre crop; training: a random-resized crop, mirrored with probability 1/2."""
        from PIL import Image

        if rng is None:
            return crop_resize(img, centre_box(*img.size), self.size, self.grayscale)
        out = crop_resize(img, crop_box(*img.size, rng), self.size, self.grayscale)
        return out.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else out


class Unreadable(UserError):
    """An image a batch needed could not be decoded; says which parameter named its folder."""

    def __init__(self, field: str, message: str):
        super().__init__(f"dataset.params.{field}: {message}")
        self.field, self.message = field, message


class Readable(torch.utils.data.Dataset):
    """Item i: "" when file i decodes to its validation crop, else why not (a whole decode, so a
    truncated file is caught too; JPEGs at the draft scale the crop allows, as in training)."""

    def __init__(self, files: Files, size: int, grayscale: bool):
        self.decode = Decode(files, np.arange(len(files.labels)), size, grayscale, None)

    def __len__(self) -> int:
        return len(self.decode)

    def __getitem__(self, i: int) -> str:
        return self.decode[i][2]


def usable_cpus() -> int:
    """CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def loader_workers(cpus: int) -> int:
    """Data-loader processes beside a process holding `cpus` whole CPUs: all but the one it runs on."""
    return max(0, cpus - 1)


def check_readable(parts: list[Files], size: int, grayscale: bool, workers: int | None = None) -> None:
    """Decode every file of `parts` once, in `workers` processes (default: all CPUs but one), and refuse the
    folder naming the files that cannot be read, before any trial starts: met during training,
    such a file would fail every trial that reaches it. Says how far it got every SAY_EVERY s."""
    total, done, bad = sum(len(f.labels) for f in parts), 0, []
    start = last = time.monotonic()
    for files in parts:
        processes = loader_workers(usable_cpus()) if workers is None else workers
        loader = DataLoader(Readable(files, size, grayscale), batch_size=64, num_workers=processes)
        for errors in loader:
            bad += [(files.field, why) for why in errors if why]
            done += len(errors)
            if time.monotonic() - last >= SAY_EVERY and done < total:
                last = time.monotonic()
                left = (last - start) * (total - done) / done
                print(
                    f"checking that {total:,} images decode: {done:,} ({100 * done // total}%), ~{left:.0f}s left",
                    file=sys.stderr,
                    flush=True,
                )
    if bad:
        more = f"; and {len(bad) - SHOWN_BAD} more" if len(bad) > SHOWN_BAD else ""
        them = "them" if len(bad) > 1 else "it"
        raise ParamError(
            bad[0][0],
            f"{len(bad)} of {total:,} images cannot be decoded: "
            + "; ".join(why for _, why in bad[:SHOWN_BAD])
            + f"{more}. Replace or remove {them}, or set dataset.params.verify: false to meet {them} in training",
        )


def batches(
    decode: Decode, batch_size: int, workers: int, device: torch.device
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The items of `decode` in order, batched by `workers` processes (0: in this one), uint8 on `device`."""
    loader = DataLoader(decode, batch_size=batch_size, num_workers=workers, pin_memory=device.type == "cuda")
    for x, y, errors in loader:
        bad = next((why for why in errors if why), None)
        if bad is not None:
            raise Unreadable(decode.files.field, bad)
        yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


@dataclass(frozen=True)
class StreamingDataset:
    """An image folder decoded per batch; the same interface as an in-memory Dataset."""

    name: str
    train: Files
    val: Files
    size: int
    grayscale: bool
    num_classes: int
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    stats_images: int  # how many training images gave mean and std

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (1 if self.grayscale else 3, self.size, self.size)

    @property
    def train_size(self) -> int:
        return len(self.train.labels)

    @property
    def val_size(self) -> int:
        return len(self.val.labels)

    def on(self, device: torch.device | str) -> StreamingDataset:
        """Itself: streamed batches are moved to the device one at a time."""
        return self

    def train_batches(
        self, batch_size: int, gen: torch.Generator, augment: Augment, device: torch.device, workers: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch in an order drawn from `gen`, each image cropped and flipped from a seed drawn
        from `gen`, decoded by `workers` processes; then standardised and augmented on `device` as
        in-memory batches are. A last batch of one image is left out (BatchNorm cannot train on it)."""
        order = torch.randperm(self.train_size, generator=gen).numpy()
        if len(order) % batch_size == 1 and len(order) > 1:
            order = order[:-1]
        seed = int(torch.randint(2**62, (1,), generator=gen))
        decode = Decode(self.train, order, self.size, self.grayscale, seed)
        ready = standardiser(self.mean, self.std, device)
        draws = draws_on(gen, device) if augment.enabled else gen
        for x, y in batches(decode, batch_size, workers, device):
            yield augment.apply(ready(x), draws), y

    def val_batches(
        self, batch_size: int, device: torch.device, workers: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The validation split in order, centre-cropped by `workers` processes, standardised on `device`."""
        decode = Decode(self.val, np.arange(self.val_size), self.size, self.grayscale, None)
        ready = standardiser(self.mean, self.std, device)
        for x, y in batches(decode, batch_size, workers, device):
            yield ready(x), y

    def preprocessing(self) -> dict[str, Any]:
        """The shared record plus the crops, so exports and retraining feed what training fed."""
        pixels = "uint8 values 0..255 as Pillow decodes them, cropped and resized bilinear to size x size"
        return {
            **record(self, pixels),
            "streamed": True,
            "train_crop": {
                "kind": "random-resized crop, then horizontal flip with probability 1/2",
                "scale": list(CROP_SCALE),
                "ratio": list(CROP_RATIO),
            },
            "val_crop": {
                "kind": "resize the shorter side to size / crop_fraction, then centre crop size x size",
                "resize_shorter_side_to": round(self.size / CENTRE, 3),
                "crop_fraction": CENTRE,
            },
            "mean_std_from": f"{self.stats_images} training images (seeded choice), validation crops",
        }


def _statistics(files: Files, size: int, grayscale: bool, seed: int) -> tuple[tuple, tuple, int]:
    """Mean and std per channel of the validation crops of up to STATS_IMAGES training images,
    chosen with `seed`; decoding a whole large folder for them would cost an epoch."""
    n = min(STATS_IMAGES, len(files.labels))
    order = np.sort(np.random.default_rng(seed).permutation(len(files.labels))[:n])
    decode = Decode(files, order, size, grayscale, None)
    images = torch.cat([x for x, _ in batches(decode, 64, 0, torch.device("cpu"))])
    return (*channel_stats(images), n)


def streamed(
    names: list[str], train: Files, val: Files, size: int | None, grayscale: bool, seed: int, verify: bool
) -> StreamingDataset:
    """The streaming set of a checked folder layout, every image decoded once first if `verify`;
    mean and std from `seed`'s choice of images."""
    if size is None:
        raise ParamError("size", "required when streaming (stream: true, or auto on a large folder)")
    if verify:
        check_readable([train, val], size, grayscale)
    try:
        mean, std, n = _statistics(train, size, grayscale, seed)
    except Unreadable as err:  # named as every load error is, with the experiment file
        raise ParamError(err.field, err.message) from None
    return StreamingDataset(
        "imagefolder", train, val, size, grayscale, len(names), tuple(names), mean, std, n
    )

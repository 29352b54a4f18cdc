"""Segmentation sets too large for memory, streamed as image folders are (nas.training.stream):
each batch's image-mask pairs are decoded in DataLoader worker processes, the image resized
bilinear and the mask nearest-neighbour to size x size, then standardised and jointly augmented
on the device as in-memory batches are. Before any trial, every pair's headers are read to
refuse a mask whose size differs from its image's (no pixel decoded); a label outside the
classes is refused when its mask is decoded, naming the file. The object holds paths, not
pixels, so it pickles small for every node that sees the same filesystem."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from blocks.errors import ParamError
from nas.training.augment import Augment, draws_on
from nas.training.jointaug import JointAugment
from nas.training.masks import read_mask
from nas.training.pixels import PILLOW_ERRORS, channel_stats, read_image, seg_record, standardiser
from nas.training.stream import STATS_IMAGES, Unreadable

Colour = tuple[int, int, int]


@dataclass(frozen=True)
class PairFiles:
    """Image-mask pairs as paths relative to one folder, and the parameter that named it (for errors)."""

    field: str
    root: str
    images: tuple[str, ...]
    masks: tuple[str, ...]

    @classmethod
    def of(cls, field: str, root: Path, pairs: list[tuple[Path, Path]]) -> PairFiles:
        """`pairs` (both files under `root`) held relative to it."""
        rel = [(str(i.relative_to(root)), str(m.relative_to(root))) for i, m in pairs]
        return cls(field, str(root), tuple(i for i, _ in rel), tuple(m for _, m in rel))


@dataclass(frozen=True)
class Labels:
    """How a mask's stored values become classes: the class count, the ignored label, the layout's
    label table (256 entries, or none) and the colours of RGB masks (or none)."""

    classes: int
    ignore_index: int
    table: tuple[int, ...] | None = None
    colours: tuple[Colour, ...] | None = None


class DecodePairs(torch.utils.data.Dataset):
    """Item i: pair order[i] as a uint8 image (3, S, S), a uint8 mask (S, S), and "" or why it
    cannot be used (raised by the caller, naming the file)."""

    def __init__(self, files: PairFiles, order: np.ndarray, size: int, labels: Labels):
        self.files, self.order, self.size, self.labels = files, order, size, labels

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, str]:
        from PIL import Image

        k, root, lab = int(self.order[i]), Path(self.files.root), self.labels
        try:
            shape: list[tuple[int, int]] = []

            def fit(img: Any) -> Any:
                shape.append(img.size)
                return img.convert("RGB").resize((self.size, self.size), Image.Resampling.BILINEAR)

            image = read_image(root / self.files.images[k], self.files.field, fit)
            table = None if lab.table is None else np.array(lab.table, dtype=np.uint8)
            colours = None if lab.colours is None else list(lab.colours)
            mask_path = root / self.files.masks[k]
            mask = read_mask(
                mask_path, self.files.field, shape[0], lab.classes, lab.ignore_index, table, colours
            )
        except ParamError as err:
            blank = torch.zeros(self.size, self.size, dtype=torch.uint8)
            return blank.expand(3, -1, -1).clone(), blank, err.message
        small = np.asarray(Image.fromarray(mask).resize((self.size, self.size), Image.Resampling.NEAREST))
        return torch.from_numpy(image.transpose(2, 0, 1).copy()), torch.from_numpy(small.copy()), ""


def _batches(
    decode: DecodePairs, batch_size: int, workers: int, device: torch.device
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The items of `decode` in order, batched by `workers` processes (0: in this one), on `device`."""
    loader = DataLoader(decode, batch_size=batch_size, num_workers=workers, pin_memory=device.type == "cuda")
    for x, y, errors in loader:
        bad = next((why for why in errors if why), None)
        if bad is not None:
            raise Unreadable(decode.files.field, bad)
        yield x.to(device, non_blocking=True), y.to(device, non_blocking=True).long()


@dataclass(frozen=True)
class StreamedSegDataset:
    """A segmentation set decoded per batch; the interface of an in-memory SegDataset."""

    name: str
    train: PairFiles
    val: PairFiles
    size: int
    labels: Labels
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    palette: tuple[Colour, ...]
    joint: JointAugment
    stats_images: int  # how many training images gave mean and std
    task = "segmentation"

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (3, self.size, self.size)

    @property
    def num_classes(self) -> int:
        return self.labels.classes

    @property
    def ignore_index(self) -> int:
        return self.labels.ignore_index

    @property
    def train_size(self) -> int:
        return len(self.train.images)

    @property
    def val_size(self) -> int:
        return len(self.val.images)

    def on(self, device: torch.device | str) -> StreamedSegDataset:
        """Itself: streamed batches are moved to the device one at a time."""
        return self

    def train_batches(
        self, batch_size: int, gen: torch.Generator, augment: Augment, device: torch.device, workers: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch in an order drawn from `gen`, decoded by `workers` processes, standardised and
        jointly augmented on `device`; a last batch of one pair is left out (BatchNorm)."""
        if augment.enabled:
            raise ParamError(
                "training.augment", "augments images alone; segmentation sets take scale, crop and hflip"
            )
        order = torch.randperm(self.train_size, generator=gen).numpy()
        if len(order) % batch_size == 1 and len(order) > 1:
            order = order[:-1]
        ready = standardiser(self.mean, self.std, device)
        draws = draws_on(gen, device) if self.joint.enabled else gen
        for x, y in _batches(
            DecodePairs(self.train, order, self.size, self.labels), batch_size, workers, device
        ):
            yield self.joint.apply(ready(x), y, draws)

    def val_batches(
        self, batch_size: int, device: torch.device, workers: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The validation split in order, decoded by `workers` processes, standardised on `device`."""
        decode = DecodePairs(self.val, np.arange(self.val_size), self.size, self.labels)
        ready = standardiser(self.mean, self.std, device)
        for x, y in _batches(decode, batch_size, workers, device):
            yield ready(x), y

    def preprocessing(self) -> dict[str, Any]:
        """The in-memory sets' record, marked streamed, with where mean and std came from."""
        return {
            **seg_record(self),
            "streamed": True,
            "mean_std_from": f"{self.stats_images} training images (seeded choice)",
        }


def check_sizes(files: PairFiles) -> None:
    """Read every pair's headers (no pixels) and refuse, naming the file, a mask whose size differs
    from its image's; an unreadable header is left for the decode to name."""
    from PIL import Image

    root = Path(files.root)
    for image, mask in zip(files.images, files.masks, strict=True):
        try:
            with Image.open(root / image) as a, Image.open(root / mask) as b:
                sizes = a.size, b.size
        except PILLOW_ERRORS:
            continue
        if sizes[0] != sizes[1]:
            (w, h), (mw, mh) = sizes
            raise ParamError(files.field, f"mask '{root / mask}' is {mw}x{mh} where its image is {w}x{h}")


def streamed_seg(
    name: str,
    train: PairFiles,
    val: PairFiles,
    size: int | None,
    labels: Labels,
    names: list[str],
    palette: list[Colour],
    joint: JointAugment,
    seed: int = 0,
) -> StreamedSegDataset:
    """The streaming set of checked pairs, mean and std from up to STATS_IMAGES training images
    chosen with `seed`."""
    if size is None:
        raise ParamError("size", "required when streaming (stream: true, or auto on a large set)")
    check_sizes(train)
    check_sizes(val)
    n = min(STATS_IMAGES, len(train.images))
    order = np.sort(np.random.default_rng(seed).permutation(len(train.images))[:n])
    try:
        images = torch.cat(
            [x for x, _ in _batches(DecodePairs(train, order, size, labels), 64, 0, torch.device("cpu"))]
        )
    except Unreadable as err:  # named as every load error is, with the experiment file
        raise ParamError(err.field, err.message) from None
    mean, std = channel_stats(images)
    out = StreamedSegDataset(
        name, train, val, size, labels, tuple(names), mean, std, tuple(palette), joint, n
    )
    return replace(out, joint=replace(joint, ignore_index=labels.ignore_index))

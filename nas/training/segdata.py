"""Segmentation datasets: images with one class mask each, held in memory (images uint8 NCHW,
masks uint8 NHW), standardised per batch like classification sets and augmented jointly
(nas.training.jointaug) with the dataset's `scale`, `crop` and `hflip`.

Loaders, registered beside the classification ones: `segsynthetic` (generated, seeded: thin
lines, rings and small blobs, where a gridded dilation schedule misses pixels), `segfolder`
(`images/` + `masks/`), `voc` (JPEGImages, SegmentationClass, ImageSets/Segmentation),
`cityscapes` (leftImg8bit, gtFine labelIds mapped to the 19 train ids) and `camvid` (train/,
trainannot/, val/, valannot/). Masks are index PNGs (palette or gray) or, for `segfolder`,
RGB colours mapped through a palette; `ignore_index` (255) pixels count in no loss or metric.
With `size`, images are resized bilinear and masks nearest-neighbour to size x size."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from blocks.errors import ParamError
from blocks.schema import Param
from nas.training.augment import Augment, draws_on
from nas.training.inmemory import Dataset
from nas.training.jointaug import JointAugment
from nas.training.loaders import IMAGE_SUFFIXES, SEED, STREAM_GB, directory, loader
from nas.training.masks import (
    CAMVID_CLASSES,
    CITYSCAPES_CLASSES,
    CITYSCAPES_IDS,
    CITYSCAPES_PALETTE,
    CITYSCAPES_TRAIN_IDS,
    VOC_CLASSES,
    lookup,
    read_mask,
    voc_palette,
)
from nas.training.pixels import PILLOW_ERRORS, channel_stats, read_image, seg_record, standardiser
from nas.training.segmetrics import IGNORE_INDEX
from nas.training.segstream import Labels, PairFiles, StreamedSegDataset, streamed_seg

Pairs = list[tuple[Path, Path]]  # (image file, mask file)


@dataclass(frozen=True)
class SegDataset(Dataset):
    """Train and validation images (N, C, H, W) with their masks (N, H, W) of class indices, the
    classes' names and colours, the ignored label, and the joint augmentation of training batches."""

    palette: tuple[tuple[int, int, int], ...] = ()
    ignore_index: int = IGNORE_INDEX
    joint: JointAugment = JointAugment()
    task = "segmentation"

    def train_batches(
        self, batch_size: int, gen: torch.Generator, augment: Augment, device: torch.device, workers: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of standardised images and int64 masks on `device`, in an order drawn from
        `gen`, jointly augmented; a last batch of one image is left out (BatchNorm). `augment`
        (the training's image-only options) must be off, as the experiment's check demands."""
        if augment.enabled:
            raise ParamError(
                "training.augment", "augments images alone; segmentation sets take scale, crop and hflip"
            )
        ready = standardiser(self.mean, self.std, device)
        order = torch.randperm(self.train_size, generator=gen).to(self.x_train.device)
        draws = draws_on(gen, device) if self.joint.enabled else gen
        for i in range(0, self.train_size, batch_size):
            idx = order[i : i + batch_size]
            if len(idx) < 2 and self.train_size > 1:
                continue
            y = self.y_train[idx].to(device, non_blocking=True).long()
            yield self.joint.apply(ready(self.x_train[idx]), y, draws)

    def val_batches(
        self, batch_size: int, device: torch.device, workers: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The validation split in order, standardised, with int64 masks, on `device`."""
        ready = standardiser(self.mean, self.std, device)
        for i in range(0, self.val_size, batch_size):
            yield ready(self.x_val[i : i + batch_size]), self.y_val[i : i + batch_size].to(device).long()

    def preprocessing(self) -> dict[str, Any]:
        """How raw pixels become the network's input, and how its per-pixel classes are coloured."""
        return seg_record(self)


JOINT = {
    "scale": Param(
        float,
        [1.0, 1.0],
        "training: random scale range [low, high]",
        low=0.1,
        high=10,
        is_list=True,
        length=2,
    ),
    "crop": Param(
        int, None, "training: crop side in pixels after scaling (null: the stored size)", low=1, optional=True
    ),
    "hflip": Param(bool, False, "training: mirror image and mask left-right with probability 1/2"),
}
SIZE = Param(int, None, "resize images (bilinear) and masks (nearest) to size x size", low=1, optional=True)
LIMIT = Param(int, None, "keep only the first N pairs of each split", low=1, optional=True)
STREAM = Param(
    str,
    "auto",
    f"decode per batch in worker processes (auto: when the pairs take over {STREAM_GB} GB decoded; needs size)",
    choices=("auto", "true", "false"),
)
FILES = {"size": SIZE, "limit": LIMIT, "stream": STREAM, **JOINT}  # what every folder layout takes


def _joint(
    scale: list[float], crop: int | None, hflip: bool, ignore_index: int = IGNORE_INDEX
) -> JointAugment:
    return JointAugment(float(scale[0]), float(scale[1]), crop or 0, hflip, ignore_index)


def _pack(
    name: str,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    names: list[str],
    palette: list[tuple[int, int, int]],
    joint: JointAugment,
) -> SegDataset:
    """Tensors of both splits, the statistics taken from the training images alone."""
    xt, yt, xv, yv = (torch.from_numpy(np.ascontiguousarray(a)) for a in (*train, *val))
    if xt.shape[2:] != xv.shape[2:]:
        raise ParamError(
            "size",
            f"not set, and validation images are {tuple(xv.shape[2:])} where training's are {tuple(xt.shape[2:])}",
        )
    mean, std = channel_stats(xt)
    palette = (list(palette) + voc_palette())[: len(names)]
    return SegDataset(
        name, xt, yt, xv, yv, len(names), tuple(names), mean, std, tuple(palette), joint.ignore_index, joint
    )


MEMORY_SHARE = 0.5  # a set whose decoded images and masks would take more of this machine's memory is refused


def _side(pairs: Pairs, size: int | None) -> tuple[int, int]:
    """The (width, height) the pairs take decoded: size x size, or the first image's (from its header;
    0 x 0 when it cannot be read, for the decode to name the file and why)."""
    from PIL import Image

    if size is not None:
        return size, size
    try:
        with Image.open(pairs[0][0]) as img:
            return img.size
    except PILLOW_ERRORS:
        return 0, 0


def _fits_memory(pairs: Pairs, field: str, size: int | None) -> None:
    """Refuse, before decoding, a split whose images and masks would take over MEMORY_SHARE of this
    machine's memory, saying how much and what to set."""
    import os

    width, height = _side(pairs, size)
    need = len(pairs) * width * height * 4  # RGB plus the mask, one byte each
    have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if need > MEMORY_SHARE * have:
        raise ParamError(
            "size" if size else field,
            f"{len(pairs)} images of {width}x{height} take {need / 1e9:.1f} GB decoded, over "
            f"{MEMORY_SHARE:.0%} of this machine's {have / 1e9:.1f} GB; set a smaller size, limit, or stream: true",
        )


def _read_pairs(pairs: Pairs, field: str, size: int | None, labels: Labels) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, S, S) uint8 and masks (N, S, S) uint8 of `pairs`, each mask checked against its image."""
    from PIL import Image

    table = None if labels.table is None else np.array(labels.table, dtype=np.uint8)
    colours = None if labels.colours is None else list(labels.colours)
    classes, ignore_index = labels.classes, labels.ignore_index

    if pairs:
        _fits_memory(pairs, field, size)
    images, masks, first = [], [], None
    for image_path, mask_path in pairs:
        img = read_image(image_path, field, lambda im: im.convert("RGB"))
        mask = read_mask(mask_path, field, img.shape[1::-1], classes, ignore_index, table, colours)
        if size is not None:
            img = np.asarray(Image.fromarray(img).resize((size, size), Image.Resampling.BILINEAR))
            mask = np.asarray(Image.fromarray(mask).resize((size, size), Image.Resampling.NEAREST))
        first = first or (image_path, img.shape)
        if img.shape != first[1]:
            raise ParamError(
                "size", f"not set, and '{image_path}' is {img.shape[:2]} where '{first[0]}' is {first[1][:2]}"
            )
        images.append(img.transpose(2, 0, 1))
        masks.append(mask)
    if not images:
        raise ParamError(field, "no image-mask pairs found")
    return np.stack(images), np.stack(masks)


def _make(
    name: str,
    train: tuple[Path, str, Pairs],
    val: tuple[Path, str, Pairs],
    size: int | None,
    stream: str,
    labels: Labels,
    names: list[str],
    palette: list[tuple[int, int, int]],
    joint: JointAugment,
    seed: int = 0,
) -> SegDataset | StreamedSegDataset:
    """The set of the (root, field, pairs) of each split: in memory, or streamed with `stream: true`
    (auto: when its pairs would take over STREAM_GB decoded)."""
    for _, field, pairs in (train, val):
        if not pairs:
            raise ParamError(field, "no image-mask pairs found")
    width, height = _side(train[2], size)
    big = (len(train[2]) + len(val[2])) * width * height * 4 > STREAM_GB * 1e9
    if stream == "true" or (stream == "auto" and big):
        if labels.classes is None:
            raise ParamError("classes", "required when streaming (stream: true, or auto on a large set)")
        files = [PairFiles.of(field, root, pairs) for root, field, pairs in (train, val)]
        return streamed_seg(name, *files, size, labels, names, palette, joint, seed)
    arrays = _read_pairs(train[2], train[1], size, labels), _read_pairs(val[2], val[1], size, labels)
    if labels.classes is None:  # the largest label found names the classes
        found = np.concatenate([np.unique(masks) for _, masks in arrays])
        classes = int(found[found != labels.ignore_index].max(initial=0)) + 1
        names, palette = [str(i) for i in range(classes)], voc_palette(classes)
    return _pack(name, *arrays, names, palette, joint)


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _matched(images: list[Path], masks: Path, field: str, mask_name=lambda p: p.stem) -> Pairs:
    """Each image with the mask in `masks` whose stem `mask_name(image)` gives; an image without one is refused."""
    found = {p.stem: p for p in _images(masks)} if masks.is_dir() else {}
    pairs = []
    for image in images:
        mask = found.get(mask_name(image))
        if mask is None:
            raise ParamError(field, f"image '{image}' has no mask '{mask_name(image)}.*' in '{masks}'")
        pairs.append((image, mask))
    return pairs


def _held_out(pairs: Pairs, fraction: float, seed: int) -> tuple[Pairs, Pairs]:
    """A seeded random `fraction` of the pairs held out for validation; both parts non-empty."""
    order = np.random.default_rng(seed).permutation(len(pairs))
    k = int(round(len(pairs) * fraction))
    if not 0 < k < len(pairs):
        raise ParamError("val_fraction", f"{fraction} of {len(pairs)} images leaves one split empty")
    return [pairs[i] for i in sorted(order[k:])], [pairs[i] for i in sorted(order[:k])]


def _shapes(rng: np.random.Generator, size: int) -> np.ndarray:
    """One (size x size) mask of thin structures on background 0: two 1-pixel lines (class 1),
    a 1-pixel ring (class 2) and two blobs of radius 1 to 2 (class 3), drawn in that order."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    mask = np.zeros((size, size), dtype=np.uint8)
    for _ in range(2):
        (x0, y0), angle = rng.uniform(0, size, 2), rng.uniform(0, np.pi)
        dist = np.abs((xx - x0) * np.sin(angle) - (yy - y0) * np.cos(angle))
        mask[dist < 0.5] = 1
    cx, cy = rng.uniform(size / 4, 3 * size / 4, 2)
    radius = rng.uniform(2.5, max(3.0, size / 4))
    mask[np.abs(np.hypot(xx - cx, yy - cy) - radius) < 0.5] = 2
    for _ in range(2):
        bx, by = rng.uniform(0, size, 2)
        mask[np.hypot(xx - bx, yy - by) < rng.uniform(1.0, 2.0)] = 3
    return mask


@loader(
    num_samples=Param(int, 256, "images in both splits", low=2),
    size=Param(int, 32, "image side in pixels", low=8),
    classes=Param(int, 4, "4: background, line, ring, blob; 2: background, structure", choices=(2, 4)),
    noise=Param(float, 0.6, "std of the Gaussian noise on every pixel", low=0),
    val_fraction=Param(float, 0.25, "share held out for validation", low=0, high=1),
    seed=SEED,
    declare=lambda size, classes, **_: ((3, size, size), classes),
    **JOINT,
)
def segsynthetic(
    num_samples: int,
    size: int,
    classes: int,
    noise: float,
    val_fraction: float,
    seed: int,
    scale: list[float],
    crop: int | None,
    hflip: bool,
) -> SegDataset:
    """Thin structures on noise, generated from `seed`: every structure has the same colour, so
    lines, rings and blobs differ in shape alone and a pixel's class needs its neighbourhood."""
    rng = np.random.default_rng(seed)
    masks = np.stack([_shapes(rng, size) for _ in range(num_samples)])
    if classes == 2:
        masks = np.minimum(masks, 1)
    fg = (masks > 0)[:, None].astype(np.float64)
    pixels = 96 + 64 * fg + noise * 64 * rng.normal(size=(num_samples, 3, size, size))
    images = np.clip(pixels, 0, 255).astype(np.uint8)
    k = int(round(num_samples * val_fraction))
    if not 0 < k < num_samples:
        raise ParamError("val_fraction", f"{val_fraction} of {num_samples} images leaves one split empty")
    names = ["background", "structure"] if classes == 2 else ["background", "line", "ring", "blob"]
    palette = (
        [(0, 0, 0), (255, 255, 255)]
        if classes == 2
        else [(0, 0, 0), (230, 25, 75), (60, 180, 75), (0, 130, 200)]
    )
    split = num_samples - k
    return _pack(
        "segsynthetic",
        (images[:split], masks[:split]),
        (images[split:], masks[split:]),
        names,
        palette,
        _joint(scale, crop, hflip),
    )


@loader(
    root=Param(str, None, "folder with images/ and masks/ (same stems)", required=True),
    val_root=Param(str, None, "validation folder with images/ and masks/", optional=True),
    classes=Param(
        int,
        None,
        "number of classes (null: class_names' count, else the largest label + 1)",
        low=1,
        high=255,
        optional=True,
    ),
    class_names=Param(str, [], "names of the classes, in index order (empty: their indices)", is_list=True),
    palette=Param(
        str,
        "none",
        "how RGB masks map to classes: none (index masks only) or voc colours",
        choices=("none", "voc"),
    ),
    ignore_index=Param(int, IGNORE_INDEX, "label no loss or metric counts", low=0, high=255),
    val_fraction=Param(float, 0.2, "share held out when there is no val_root", low=0, high=1),
    seed=SEED,
    **FILES,
)
def segfolder(
    root: str,
    val_root: str | None,
    classes: int | None,
    class_names: list[str],
    palette: str,
    ignore_index: int,
    val_fraction: float,
    seed: int,
    size: int | None,
    limit: int | None,
    stream: str,
    scale: list[float],
    crop: int | None,
    hflip: bool,
) -> SegDataset | StreamedSegDataset:
    """Images in `root/images`, each with the mask of the same stem in `root/masks`."""
    classes = len(class_names) if classes is None and class_names else classes
    if classes is not None and class_names and len(class_names) != classes:
        raise ParamError(
            "class_names", f"{len(class_names)} names for {classes} classes; legal: {classes} names"
        )
    colours = tuple(voc_palette()) if palette == "voc" else None

    def split(field: str, value: str) -> tuple[Path, str, Pairs]:
        folder = directory(field, value)
        if not (folder / "images").is_dir():
            raise ParamError(field, f"no folder 'images' in '{folder}'; expected images/ and masks/")
        return folder, field, _matched(_images(folder / "images"), folder / "masks", field)[:limit]

    train = split("root", root)
    if val_root:
        val = split("val_root", val_root)
    else:
        kept, held = _held_out(train[2], val_fraction, seed)
        train, val = (train[0], "root", kept), (train[0], "root", held)
    names = list(class_names) or [str(i) for i in range(classes or 0)]
    labels = Labels(classes, ignore_index, None, colours)
    joint = _joint(scale, crop, hflip, ignore_index)
    return _make("segfolder", train, val, size, stream, labels, names, voc_palette(classes or 0), joint, seed)


@loader(
    root=Param(
        str, None, "VOC2012 folder (JPEGImages, SegmentationClass, ImageSets) or one above it", required=True
    ),
    declare=lambda size, **_: None if size is None else ((3, size, size), len(VOC_CLASSES)),
    **FILES,
)
def voc(
    root: str,
    size: int | None,
    limit: int | None,
    stream: str,
    scale: list[float],
    crop: int | None,
    hflip: bool,
) -> SegDataset | StreamedSegDataset:
    """PASCAL VOC 2012 segmentation: ImageSets/Segmentation/train.txt trains, val.txt validates;
    21 classes, the border label 255 ignored."""
    folder = directory("root", root)
    for below in ("VOC2012", "VOCdevkit/VOC2012"):
        if (folder / below / "JPEGImages").is_dir():
            folder = folder / below
    splits = []
    for split in ("train", "val"):
        listing = folder / "ImageSets" / "Segmentation" / f"{split}.txt"
        if not listing.is_file():
            raise ParamError("root", f"no '{listing}'; expected the VOC2012 layout")
        ids = listing.read_text().split()[:limit]
        for i in ids:
            if not (folder / "JPEGImages" / f"{i}.jpg").is_file():
                raise ParamError(
                    "root", f"'{listing}' lists '{i}', but '{folder / 'JPEGImages' / i}.jpg' is missing"
                )
        images = [folder / "JPEGImages" / f"{i}.jpg" for i in ids]
        splits.append((folder, "root", _matched(images, folder / "SegmentationClass", "root")))
    labels = Labels(len(VOC_CLASSES), IGNORE_INDEX)
    return _make("voc", *splits, size, stream, labels, VOC_CLASSES, voc_palette(), _joint(scale, crop, hflip))


@loader(
    root=Param(str, None, "folder with leftImg8bit/ and gtFine/", required=True),
    declare=lambda size, **_: None if size is None else ((3, size, size), len(CITYSCAPES_CLASSES)),
    **FILES,
)
def cityscapes(
    root: str,
    size: int | None,
    limit: int | None,
    stream: str,
    scale: list[float],
    crop: int | None,
    hflip: bool,
) -> SegDataset | StreamedSegDataset:
    """Cityscapes fine annotations: leftImg8bit/{train,val}/CITY/*_leftImg8bit.png with
    gtFine/SPLIT/CITY/*_gtFine_labelIds.png, label ids mapped to the 19 train ids, others ignored."""
    folder = directory("root", root)
    splits = []
    for split in ("train", "val"):
        images_dir = folder / "leftImg8bit" / split
        if not images_dir.is_dir():
            raise ParamError("root", f"no folder '{images_dir}'; expected the Cityscapes layout")
        pairs = []
        for city in sorted(p for p in images_dir.iterdir() if p.is_dir()):
            stem = lambda p: p.stem.removesuffix("_leftImg8bit") + "_gtFine_labelIds"  # noqa: E731
            pairs += _matched(_images(city), folder / "gtFine" / split / city.name, "root", stem)
        splits.append((folder, "root", pairs[:limit]))
    table = tuple(lookup(CITYSCAPES_TRAIN_IDS, CITYSCAPES_IDS).tolist())
    labels = Labels(len(CITYSCAPES_CLASSES), IGNORE_INDEX, table)
    joint = _joint(scale, crop, hflip)
    return _make("cityscapes", *splits, size, stream, labels, CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, joint)


@loader(
    root=Param(str, None, "folder with train/, trainannot/, val/, valannot/", required=True),
    declare=lambda size, **_: None if size is None else ((3, size, size), len(CAMVID_CLASSES)),
    **FILES,
)
def camvid(
    root: str,
    size: int | None,
    limit: int | None,
    stream: str,
    scale: list[float],
    crop: int | None,
    hflip: bool,
) -> SegDataset | StreamedSegDataset:
    """CamVid as SegNet ships it: 11 classes, label 11 (Unlabelled) ignored."""
    folder = directory("root", root)
    splits = []
    for split in ("train", "val"):
        if not (folder / split).is_dir():
            raise ParamError(
                "root", f"no folder '{folder / split}'; expected train/, trainannot/, val/, valannot/"
            )
        splits.append(
            (folder, "root", _matched(_images(folder / split), folder / f"{split}annot", "root")[:limit])
        )
    table = tuple(lookup({i: i for i in range(len(CAMVID_CLASSES))}, len(CAMVID_CLASSES) + 1).tolist())
    labels = Labels(len(CAMVID_CLASSES), IGNORE_INDEX, table)
    return _make(
        "camvid", *splits, size, stream, labels, CAMVID_CLASSES, voc_palette(), _joint(scale, crop, hflip)
    )


SEGMENTATION_SETS = frozenset(f.name for f in (segsynthetic, segfolder, voc, cityscapes, camvid))

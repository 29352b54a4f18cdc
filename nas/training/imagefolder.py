"""Image folders (one sub-folder of images per class), read with Pillow into memory, resized when
`size` is set, or streamed (nas.training.stream) when their decoded images would not fit."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from blocks.errors import ParamError
from blocks.schema import Param
from nas.training.inmemory import HELD_OUT, build, finish, split, unused
from nas.training.loaders import IMAGE_SUFFIXES, SEED, STREAM_GB, directory, loader
from nas.training.pixels import PILLOW_ERRORS, read_image
from nas.training.stream import Files, streamed


def _split_files(files: list[tuple[Path, int]], val_fraction: float, seed: int):
    """`files` split as `split` splits images, so streamed and in-memory folders validate alike."""
    train, _, val, _ = split(np.arange(len(files)), np.array([c for _, c in files]), val_fraction, seed)
    return [files[i] for i in train], [files[i] for i in val]


def _squash(size: int | None, grayscale: bool) -> Callable[[Any], Any]:
    """Convert an image to gray or RGB, then resize it to size x size, bilinear, aspect ratio not
    kept (None: as it is)."""
    from PIL import Image

    def fit(img: Any) -> Any:
        img = img.convert("L" if grayscale else "RGB")
        return img if size is None else img.resize((size, size), Image.Resampling.BILINEAR)

    return fit


def class_files(folder: Path, field: str, index: dict[str, int]) -> list[tuple[Path, int]]:
    """Every image file under the class sub-folders of `folder`, sorted, with its class index;
    the layout is checked here, before any image is decoded."""
    found = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if sub.name not in index:
            raise ParamError(field, f"class folder '{sub}' is not a class of root; legal: {sorted(index)}")
        files = sorted(p for p in sub.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise ParamError(
                field, f"class folder '{sub}' has no images; legal suffixes: {list(IMAGE_SUFFIXES)}"
            )
        found += [(path, index[sub.name]) for path in files]
    if not found:
        raise ParamError(
            field, f"no class sub-folders in '{folder}'; expected one folder of images per class"
        )
    return found


def _read_images(files: list[tuple[Path, int]], field: str, size: int | None, grayscale: bool):
    """The images of `files` as (N, C, H, W) uint8 and their labels."""
    images, first, fit = [], None, _squash(size, grayscale)
    for path, _ in files:
        pixels = read_image(path, field, fit)
        first = first or (path, pixels.shape)
        if pixels.shape != first[1]:
            raise ParamError(
                "size", f"not set, and '{path}' is {pixels.shape[:2]} where '{first[0]}' is {first[1][:2]}"
            )
        images.append(pixels)
    x = np.stack(images)
    return (x[:, None] if grayscale else x.transpose(0, 3, 1, 2)), np.array([label for _, label in files])


def _decoded_bytes(files: list[tuple[Path, int]], size: int | None, grayscale: bool) -> int:
    """What the images would take decoded in memory, judged from the first image's header (0 when
    it cannot be read: reading the folder then names the file and why)."""
    from PIL import Image

    width = height = size or 0
    if size is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(files[0][0]) as img:
                    width, height = img.size
        except (Image.DecompressionBombError, *PILLOW_ERRORS):
            return 0
    return len(files) * width * height * (1 if grayscale else 3)


@loader(
    root=Param(str, None, "folder of one sub-folder of images per class", required=True),
    size=Param(
        int, None, "image side: in memory, resize to size x size; streamed, crop to it", low=1, optional=True
    ),
    grayscale=Param(bool, False, "read images as one channel"),
    val_root=Param(str, None, "validation images in the same class folders", optional=True),
    val_fraction=HELD_OUT,
    stream=Param(
        str,
        "auto",
        f"decode per batch in worker processes (auto: when the images take over {STREAM_GB} GB decoded)",
        choices=("auto", "true", "false"),
    ),
    verify=Param(bool, True, "streamed: decode every image once before training, refusing unreadable files"),
    classes=Param(
        int, None, "class folders root must hold (with size: a dry run needs no files)", low=1, optional=True
    ),
    seed=SEED,
    declare=lambda size, grayscale, classes, **_: (
        None if size is None or classes is None else (((1 if grayscale else 3), size, size), classes)
    ),
)
def imagefolder(
    root: str,
    size: int | None,
    grayscale: bool,
    val_root: str | None,
    val_fraction: float | None,
    stream: str,
    verify: bool,
    classes: int | None,
    seed: int,
):
    """Images in one sub-folder per class of `root` (class index = sorted folder name), read with Pillow.

    Validation is `val_root` (same class folders) or `val_fraction` (default 0.2) of every class
    held out. In memory, `size` resizes every image to size x size; a folder too large for memory
    streams (nas.training.stream), where `size` is required.
    """
    folder = directory("root", root)
    names = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if classes is not None and classes != len(names):
        raise ParamError(
            "classes", f"{classes}, but '{root}' holds {len(names)} class folders; legal: {len(names)}"
        )
    index = {name: i for i, name in enumerate(names)}
    files = class_files(folder, "root", index)
    val_folder, val = None, None
    if val_root is not None:
        unused("val_fraction", val_fraction, "with val_root")
        val_folder = directory("val_root", val_root)
        val = class_files(val_folder, "val_root", index)
    fraction = 0.2 if val_fraction is None else val_fraction
    if stream == "true" or (stream == "auto" and _decoded_bytes(files, size, grayscale) > STREAM_GB * 1e9):
        if val is None:
            (files, val), val_folder = _split_files(files, fraction, seed), folder
        held = Files.of("root" if val_root is None else "val_root", val_folder, val)
        return streamed(names, Files.of("root", folder, files), held, size, grayscale, seed, verify)
    x, y = _read_images(files, "root", size, grayscale)
    if val is None:
        return finish("imagefolder", x, y, fraction, seed, len(names), names)
    xv, yv = _read_images(val, "val_root", size, grayscale)
    if xv.shape[1:] != x.shape[1:]:
        raise ParamError(
            "size", f"not set, and val_root images are {xv.shape[2:]} where root's are {x.shape[2:]}"
        )
    return build("imagefolder", x, y, xv, yv, len(names), names)

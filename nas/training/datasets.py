"""Datasets as compact in-memory tensors (uint8 where the source is): loaded once per run and
shared by every trial; an image folder too large for memory streams (nas.training.stream).

`digits` (scikit-learn's bundled 8x8 digits) and `synthetic` (Gaussian class prototypes, for
tests) need no files; `cifar10`, `npz` and `imagefolder` read local files the user points to,
never the network. Every channel is standardised per batch, on its device, with the training
split's mean and std.
Each loader declares its parameters (`loader`), so a call from Python and an experiment
file's `dataset.params` are checked alike, before any file is read.
"""

from __future__ import annotations

import glob
import math
import os
import pickle
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from blocks.errors import ParamError, UserError
from blocks.schema import Param
from nas.training.augment import Augment, draws_on
from nas.training.loaders import (
    IMAGE_SUFFIXES,
    LOADERS,
    PREPROCESSING,  # noqa: F401  (read by exports and plans as datasets.PREPROCESSING)
    SEED,
    STREAM_GB,
    Loader,
    Shape,
    directory,
    loader,
)
from nas.training.pixels import PILLOW_ERRORS, channel_stats, read_image, record, standardiser
from nas.training.stream import Files, streamed

LAYOUTS = ("auto", "nchw", "nhwc")
NPZ_KEYS = ("x", "y", "x_val", "y_val", "data", "labels")  # the last two: downsampled ImageNet
# what a loader's pixels are before standardisation, for a deployment to feed the same
PIXELS = {
    "digits": "scikit-learn load_digits().images / 16, in [0, 1]",
    "cifar10": "uint8 values 0..255, as in the batch files",
    "imagefolder": "uint8 values 0..255 as Pillow decodes them (resized bilinear to size x size when set)",
    "npz": "the file's values, unscaled",
    "synthetic": "synthetic values",
}

# What a CIFAR batch pickle may reference: numpy array reconstruction and `_codecs.encode`,
# which Python 3 pickles (protocol < 3) use for bytes. Anything else could run code on load.
_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
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


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only, refusing every other global."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"refusing '{module}.{name}': a data file needs only numpy arrays")
        return super().find_class(module, name)


HOLD_OUT = "share of every class held out for validation"
HELD_OUT = Param(float, None, HOLD_OUT + " (null: 0.2; cifar10 0.1)", low=0, high=1, optional=True)


def _unused(field: str, value: Any, why: str) -> None:
    """Refuse a parameter the other parameters make meaningless, rather than ignore it."""
    if value is not None:
        raise ParamError(field, f"not used {why}; remove it")


def _split(x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int):
    """Stratified split: the same fraction of every class goes to validation."""
    rng = np.random.default_rng(seed)
    val = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        val[idx[: int(round(len(idx) * val_fraction))]] = True
    if val.all() or not val.any():
        raise ParamError("val_fraction", f"{val_fraction} of {len(y)} images leaves one split empty")
    return x[~val], y[~val], x[val], y[val]


def _split_files(files: list[tuple[Path, int]], val_fraction: float, seed: int):
    """`files` split as `_split` splits images, so streamed and in-memory folders validate alike."""
    train, _, val, _ = _split(np.arange(len(files)), np.array([c for _, c in files]), val_fraction, seed)
    return [files[i] for i in train], [files[i] for i in val]


def _compact(x: np.ndarray) -> torch.Tensor:
    """Images as a tensor kept in their source's form: uint8 stays uint8, anything else float32."""
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.uint8 if x.dtype == np.uint8 else np.float32))


def _dataset(name: str, xt, yt, xv, yv, num_classes: int, class_names=()) -> Dataset:
    """Keep the images compact; the standardisation's statistics come from the training split alone,
    so none leak from validation."""
    xt, xv = _compact(xt), _compact(xv)
    yt, yv = (torch.from_numpy(np.asarray(y, dtype=np.int64)) for y in (yt, yv))
    mean, std = channel_stats(xt)
    return Dataset(name, xt, yt, xv, yv, num_classes, tuple(class_names), mean, std)


def _finish(name: str, x, y, val_fraction: float, seed: int, classes: int, class_names=()) -> Dataset:
    return _dataset(name, *_split(x, y, val_fraction, seed), classes, class_names)


@loader(val_fraction=Param(float, 0.2, HOLD_OUT, low=0, high=1), seed=SEED)
def digits(val_fraction: float, seed: int) -> Dataset:
    """scikit-learn's bundled handwritten digits: 1x8x8 images, 10 classes, no download."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = bunch.images[:, None, :, :] / 16.0
    return _finish("digits", x, bunch.target, val_fraction, seed, 10, [str(d) for d in range(10)])


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
    return _finish("synthetic", x, y, val_fraction, seed, num_classes)


def _cifar_file(path: Path) -> dict[str, Any]:
    """One pickle of the CIFAR python version, keys decoded (Python 2 wrote them as bytes)."""
    try:
        with path.open("rb") as f:
            # latin1 is how numpy arrays pickled by Python 2 decode; other globals are refused
            raw = _ArrayUnpickler(f, encoding="latin1").load()
    except Exception as err:  # a corrupt pickle can raise almost anything
        raise ParamError("root", f"cannot read '{path}': {err}") from None
    if not isinstance(raw, dict):
        raise ParamError("root", f"'{path}' holds a {type(raw).__name__}, not a CIFAR dict")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in raw.items()}


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels of one batch file: rows are R, G, B planes, row-major."""
    entry = _cifar_file(path)
    data, labels = entry.get("data"), np.asarray(entry.get("labels", []))
    ok = isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
    if not (ok and data.shape[1] == 3072 and labels.shape == (len(data),) and labels.dtype.kind in "iu"):
        raise ParamError(
            "root", f"'{path}' is not a CIFAR-10 batch: needs 'data' (N x 3072 uint8), 'labels' (N)"
        )
    if len(labels) and not 0 <= labels.min() <= labels.max() < 10:
        raise ParamError("root", f"'{path}': labels outside 0..9")
    return data.reshape(-1, 3, 32, 32), labels


@loader(
    declare=lambda **_: ((3, 32, 32), 10),
    root=Param(str, None, "folder of the python version's batches", required=True),
    validation=Param(
        str, "test", "test: test_batch validates; split: hold out val_fraction", choices=("test", "split")
    ),
    val_fraction=HELD_OUT,
    limit=Param(int, None, "keep only the first N training images", low=1, optional=True),
    seed=SEED,
)
def cifar10(root: str, validation: str, val_fraction: float | None, limit: int | None, seed: int) -> Dataset:
    """CIFAR-10 from the python version's batches in `root`: data_batch_1..5 train, test_batch validates.

    `validation: split` holds out `val_fraction` (default 0.1) of the training images instead;
    `limit` keeps only the first N training images, for quick sweeps.
    """
    folder = directory("root", root)
    if (folder / "cifar-10-batches-py").is_dir():
        folder = folder / "cifar-10-batches-py"
    if validation == "test":
        _unused("val_fraction", val_fraction, "with validation: test (test_batch validates)")
    files = [folder / f"data_batch_{i}" for i in range(1, 6) if (folder / f"data_batch_{i}").is_file()]
    if not files:
        raise ParamError(
            "root", f"no data_batch_1..5 in '{folder}'; expected the folder 'cifar-10-batches-py'"
        )
    xs, ys = [], []
    for path in files:
        if limit is None or sum(map(len, ys)) < limit:
            x, y = _cifar_batch(path)
            xs.append(x)
            ys.append(y)
    x, y = np.concatenate(xs)[:limit], np.concatenate(ys)[:limit]
    names = ()
    if (folder / "batches.meta").is_file():
        meta = _cifar_file(folder / "batches.meta").get("label_names", ())
        names = tuple(n.decode("latin1") if isinstance(n, bytes) else str(n) for n in meta)
    if validation == "split":
        return _finish("cifar10", x, y, 0.1 if val_fraction is None else val_fraction, seed, 10, names)
    if not (folder / "test_batch").is_file():
        raise ParamError("root", f"no test_batch in '{folder}'; or set validation: split")
    return _dataset("cifar10", x, y, *_cifar_batch(folder / "test_batch"), 10, names)


def _nchw(x: np.ndarray, key: str, layout: str) -> np.ndarray:
    """An image array as float NCHW: (N, H, W) gains a channel axis, NHWC is transposed."""
    if x.dtype != np.uint8 and x.dtype.kind != "f":
        raise ParamError("path", f"array '{key}' has dtype {x.dtype}; legal: uint8 or floating point")
    if x.dtype.kind == "f":
        x = x.astype(np.float32, copy=False)  # what training holds: no float64 copies from here on
        if not np.isfinite(x).all():
            raise ParamError("path", f"array '{key}' holds NaN or infinite values")
    if x.ndim == 3:
        return x[:, None]
    if x.ndim != 4:
        raise ParamError(
            "path", f"array '{key}' has shape {x.shape}; legal: (N, C, H, W), (N, H, W, C), (N, H, W)"
        )
    return x if layout == "nchw" else x.transpose(0, 3, 1, 2)


def _labels(y: np.ndarray, key: str, n: int) -> np.ndarray:
    if y.dtype.kind not in "iu" or y.shape != (n,) or not n or y.min() < 0:
        raise ParamError(
            "path", f"array '{key}' must hold {n} (> 0) class indices >= 0, got {y.dtype} {y.shape}"
        )
    return y


def _classes(y: np.ndarray, images: int, top: int) -> int:
    """The class count, `top` (the largest label of both splits) + 1, refused when it exceeds the
    `images` of both splits (a label that is no class index) or when the training labels `y` hold
    one class (nothing to learn)."""
    if top >= images:
        raise ParamError(
            "path",
            f"a label of {top:,} makes {top + 1:,} classes for {images:,} images; "
            "legal: class indices 0..K-1 with K at most the number of images",
        )
    if len(np.unique(y)) < 2:
        raise ParamError("path", f"array 'y' holds one class ({int(y[0])}) only; legal: two classes or more")
    return top + 1


NPZ_SHARE = 0.5  # an npz whose loading would take more than this share of the machine's memory is refused


def _machine_memory() -> int:
    """Bytes of physical memory of this machine."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _npz_headers(path: Path, field: str) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """The shape and dtype each array of an .npz file declares in its .npy header, read without
    loading any array; refused in one line: a file that is not a zip archive, an array of Python
    objects (loadable only by unpickling), a header claiming more than its member holds, and arrays
    whose loading would take over NPZ_SHARE of this machine's memory."""
    with open(path, "rb") as fh:
        head = fh.read(6)
    if head == b"\x93NUMPY":
        raise ParamError(
            field, f"'{path}' is a single .npy array, not an .npz archive written by numpy.savez"
        )
    if not zipfile.is_zipfile(path):
        raise ParamError(field, f"'{path}' is not an .npz file (a zip archive written by numpy.savez)")
    out, need = {}, 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            key = info.filename.removesuffix(".npy")
            if key not in NPZ_KEYS:
                continue
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                read = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, _, dtype = read(member)
            if dtype.hasobject:
                raise ParamError(
                    field,
                    f"'{path}': array '{key}' holds Python objects, which only unpickling loads; "
                    "legal: uint8 or floating-point images and integer labels",
                )
            size = math.prod(shape) * dtype.itemsize
            if size > info.file_size:
                raise ParamError(
                    field,
                    f"'{path}': array '{key}' declares {shape} {dtype} ({size:,} bytes) but its "
                    f"member holds {info.file_size:,} bytes; the file is corrupt",
                )
            out[key] = shape, dtype
            need += 2 * size + (4 * math.prod(shape) if dtype.kind == "f" else 0)  # loaded, split, float32
    have = _machine_memory()
    if need > NPZ_SHARE * have:
        arrays = ", ".join(f"{k} {shape} {dtype}" for k, (shape, dtype) in out.items())
        raise ParamError(
            field,
            f"'{path}': loading its arrays ({arrays}) takes about {need / 1e9:.1f} GB, over "
            f"{NPZ_SHARE:.0%} of this machine's {have / 1e9:.1f} GB; store images as uint8 or use fewer",
        )
    return out


def _npz_file(path: Path, field: str) -> dict[str, np.ndarray]:
    """The image arrays of one .npz file, its headers checked first (`_npz_headers`); a file in the
    downsampled-ImageNet layout (`data` rows of R, G, B planes, 1-based `labels`; Chrabaszcz et al.
    2017) comes back as NCHW `x` and 0-based `y`."""
    try:
        keys = _npz_headers(path, field)
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in keys}
    except ParamError:
        raise
    except Exception as err:  # corrupt or foreign files fail in zipfile, numpy or the OS
        raise ParamError(field, f"cannot read '{path}' as .npz: {err}") from None
    if {"data", "labels"} <= set(arrays) and "x" not in arrays:
        data, labels = arrays.pop("data"), arrays.pop("labels")
        side = math.isqrt(data.shape[-1] // 3) if data.ndim == 2 else 0
        if data.dtype != np.uint8 or not side or data.shape[1] != 3 * side * side:
            raise ParamError(field, f"'{path}': 'data' is {data.dtype} {data.shape}; legal: (N, 3*S*S) uint8")
        arrays["x"], arrays["y"] = data.reshape(-1, 3, side, side), np.asarray(labels) - 1
    return arrays


def _npz_arrays(pattern: str, field: str) -> dict[str, np.ndarray]:
    """The arrays of the .npz file `pattern` names, or of every file it matches (in sorted order,
    concatenated): the batches of downsampled ImageNet are read as one set."""
    paths = sorted(glob.glob(str(Path(pattern).expanduser()))) if glob.has_magic(pattern) else [pattern]
    if not paths or not Path(paths[0]).expanduser().is_file():
        raise ParamError(field, f"no such file {pattern!r}")
    parts = [_npz_file(Path(p).expanduser(), field) for p in paths]
    if len(parts) == 1:
        return parts[0]
    if any(set(part) != {"x", "y"} for part in parts):
        raise ParamError(
            field, f"the files {pattern!r} matches must each hold x and y (or data and labels) only"
        )
    if len({part["x"].shape[1:] for part in parts}) > 1:
        raise ParamError(field, f"the files {pattern!r} matches hold images of different shapes")
    return {k: np.concatenate([part[k] for part in parts]) for k in ("x", "y")}


@loader(
    path=Param(str, None, "the .npz file, or a glob pattern of several (concatenated)", required=True),
    val_path=Param(str, None, "a .npz file (or pattern) of validation images", optional=True),
    layout=Param(str, "auto", "axis order of 4-d images (auto: guessed)", choices=LAYOUTS),
    val_fraction=HELD_OUT,
    seed=SEED,
)
def npz(path: str, val_path: str | None, layout: str, val_fraction: float | None, seed: int) -> Dataset:
    """Arrays `x`, `y` and optionally `x_val`, `y_val` of a NumPy .npz file (no pickled objects).

    A file in downsampled ImageNet's layout (`data`, 1-based `labels`) reads as x and y; `path`
    may be a pattern such as 'train_data_batch_*.npz'. Validation: `val_path`, the file's
    x_val and y_val, or `val_fraction` (default 0.2) of every class held out.
    uint8 pixels need no /255: the per-channel standardisation makes the scale irrelevant.
    """
    arrays = _npz_arrays(path, "path")
    has_val = {"x_val", "y_val"} & set(arrays)
    if not {"x", "y"} <= set(arrays) or len(has_val) == 1:
        raise ParamError(
            "path", f"'{path}' has arrays {sorted(arrays)}; needs x and y, and x_val with y_val or neither"
        )
    if val_path is not None:
        if has_val:
            raise ParamError("val_path", f"not used when '{path}' has x_val and y_val; remove it")
        val = _npz_arrays(val_path, "val_path")
        arrays["x_val"], arrays["y_val"] = val["x"], val["y"]
    x = arrays["x"]
    if layout == "auto" and x.ndim == 4:
        if (x.shape[1] <= 4) == (x.shape[3] <= 4):
            raise ParamError(
                "layout", f"cannot tell the channel axis of shape {x.shape}; set 'nchw' or 'nhwc'"
            )
        layout = "nchw" if x.shape[1] <= 4 else "nhwc"
    x, y = _nchw(x, "x", layout), _labels(arrays["y"], "y", len(x))
    if "x_val" not in arrays:
        return _finish(
            "npz",
            x,
            y,
            0.2 if val_fraction is None else val_fraction,
            seed,
            _classes(y, len(y), int(y.max())),
        )
    _unused("val_fraction", val_fraction, "with validation images (val_path, or x_val and y_val)")
    xv = _nchw(arrays["x_val"], "x_val", layout)
    yv = _labels(arrays["y_val"], "y_val", len(xv))
    if xv.shape[1:] != x.shape[1:]:
        raise ParamError("path", f"x_val images are {xv.shape[1:]} where x images are {x.shape[1:]}")
    return _dataset("npz", x, y, xv, yv, _classes(y, len(y) + len(yv), int(max(y.max(), yv.max()))))


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
        _unused("val_fraction", val_fraction, "with val_root")
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
        return _finish("imagefolder", x, y, fraction, seed, len(names), names)
    xv, yv = _read_images(val, "val_root", size, grayscale)
    if xv.shape[1:] != x.shape[1:]:
        raise ParamError(
            "size", f"not set, and val_root images are {xv.shape[2:]} where root's are {x.shape[2:]}"
        )
    return _dataset("imagefolder", x, y, xv, yv, len(names), names)


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


# after this module's loaders, so the legal dataset names list the classification sets first
from nas.training import segdata  # noqa: E402, F401  (registers the segmentation loaders)

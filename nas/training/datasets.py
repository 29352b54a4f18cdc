"""Datasets as in-memory tensors: loaded once per run and shared by every trial.

`digits` (scikit-learn's bundled 8x8 digits) and `synthetic` (Gaussian class prototypes, for
tests) need no files; `cifar10`, `npz` and `imagefolder` read local files the user points to,
never the network. Every channel is standardised with the training split's mean and std.
Each loader declares its parameters (`loader`), so a call from Python and an experiment
file's `dataset.params` are checked alike, before any file is read.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from blocks.errors import ParamError, UserError
from blocks.schema import Param, Schema
from nas.training.augment import Augment

IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
LAYOUTS = ("auto", "nchw", "nhwc")
PREPROCESSING = "preprocessing.json"  # a run's record of how raw input becomes network input
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
    """Train and validation tensors (NCHW float32, int64 labels) plus their shape facts."""

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

    def train_batches(
        self, batch_size: int, gen: torch.Generator, augment: Augment, device: torch.device
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of network-ready training batches on `device`, in an order drawn from `gen`,
        augmented; a last batch of one image is left out (BatchNorm cannot train on it)."""
        order = torch.randperm(self.train_size, generator=gen)
        for i in range(0, self.train_size, batch_size):
            idx = order[i : i + batch_size]
            if len(idx) < 2 and self.train_size > 1:
                continue
            x = augment.apply(self.x_train[idx].to(device, non_blocking=True), gen)
            yield x, self.y_train[idx].to(device, non_blocking=True)

    def val_batches(
        self, batch_size: int, device: torch.device
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The validation split in order, as network-ready batches on `device`."""
        for i in range(0, self.val_size, batch_size):
            yield (
                self.x_val[i : i + batch_size].to(device, non_blocking=True),
                self.y_val[i : i + batch_size].to(device, non_blocking=True),
            )

    def preprocessing(self) -> dict[str, Any]:
        """How raw pixels become the network's input (what an exported model needs to be fed)."""
        channels = self.input_shape[0]
        order = "gray" if channels == 1 else "RGB" if self.name in ("cifar10", "imagefolder") else "as stored"
        return {
            "dataset": self.name,
            "input_shape": list(self.input_shape),
            "layout": "NCHW",
            "channel_order": order,
            "pixels": PIXELS.get(self.name, "as loaded"),
            "mean": list(self.mean),
            "std": list(self.std),
            "standardise": "input = (pixels - mean) / std, per channel",
            "class_names": list(self.class_names) or [str(i) for i in range(self.num_classes)],
        }


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only, refusing every other global."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"refusing '{module}.{name}': a data file needs only numpy arrays")
        return super().find_class(module, name)


@dataclass(frozen=True)
class Loader:
    """A dataset by name: its declared parameters and the function that reads it with them."""

    name: str
    schema: Schema
    read: Callable[..., Dataset]

    def __call__(self, **params: Any) -> Dataset:
        """Read the dataset with `params` over the declared defaults; a bad one raises ParamError."""
        return self.read(**self.schema.resolve(self.schema.read(params), f"dataset '{self.name}'"))


LOADERS: dict[str, Loader] = {}


def loader(**params: Param) -> Callable[[Callable[..., Dataset]], Loader]:
    """Register the decorated function, under its name, as a dataset with these parameters."""

    def wrap(fn: Callable[..., Dataset]) -> Loader:
        LOADERS[fn.__name__] = Loader(fn.__name__, Schema(params), fn)
        return LOADERS[fn.__name__]

    return wrap


SEED = Param(int, 0, "seed of the validation split (and of synthetic data)", low=0)
HOLD_OUT = "share of every class held out for validation"
HELD_OUT = Param(float, None, HOLD_OUT + " (null: 0.2; cifar10 0.1)", low=0, high=1, optional=True)


def _directory(field: str, value: str) -> Path:
    path = Path(value).expanduser()
    if not value or not path.is_dir():
        raise ParamError(field, f"no such directory '{value}'")
    return path


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
    return x[~val], y[~val], x[val], y[val]


def _dataset(name: str, xt, yt, xv, yv, num_classes: int, class_names=()) -> Dataset:
    """Standardise every channel with statistics of the training split alone, so none leak from validation."""
    xt = torch.from_numpy(np.ascontiguousarray(xt, dtype=np.float32))
    xv = torch.from_numpy(np.ascontiguousarray(xv, dtype=np.float32))
    std, mean = torch.std_mean(xt, dim=(0, 2, 3), correction=0, keepdim=True)
    std += 1e-8
    yt, yv = (torch.from_numpy(np.asarray(y, dtype=np.int64)) for y in (yt, yv))
    stats = {"mean": tuple(mean.flatten().tolist()), "std": tuple(std.flatten().tolist())}
    return Dataset(
        name, (xt - mean).div_(std), yt, (xv - mean).div_(std), yv, num_classes, tuple(class_names), **stats
    )


def _finish(name: str, x, y, val_fraction: float, seed: int, classes: int, class_names=()) -> Dataset:
    xt, yt, xv, yv = _split(x, y, val_fraction, seed)
    if not len(xv) or not len(xt):
        raise ParamError("val_fraction", f"{val_fraction} of {len(y)} images leaves one split empty")
    return _dataset(name, xt, yt, xv, yv, classes, class_names)


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
    folder = _directory("root", root)
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
    if x.dtype.kind == "f" and not np.isfinite(x).all():
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


@loader(
    path=Param(str, None, "the .npz file", required=True),
    layout=Param(str, "auto", "axis order of 4-d images (auto: guessed)", choices=LAYOUTS),
    val_fraction=HELD_OUT,
    seed=SEED,
)
def npz(path: str, layout: str, val_fraction: float | None, seed: int) -> Dataset:
    """Arrays `x`, `y` and optionally `x_val`, `y_val` of a NumPy .npz file (no pickled objects).

    Without validation arrays, `val_fraction` (default 0.2) of every class is held out.
    uint8 pixels need no /255: the per-channel standardisation makes the scale irrelevant.
    """
    if not Path(path).expanduser().is_file():
        raise ParamError("path", f"no such file {path!r}")
    try:
        archive = np.load(Path(path).expanduser(), allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("a single array, not an archive written by numpy.savez")
        with archive:
            arrays = {k: archive[k] for k in ("x", "y", "x_val", "y_val") if k in archive.files}
    except Exception as err:  # corrupt or foreign files fail in zipfile, numpy or the OS
        raise ParamError("path", f"cannot read '{path}' as .npz: {err}") from None
    has_val = {"x_val", "y_val"} & set(arrays)
    if not {"x", "y"} <= set(arrays) or len(has_val) == 1:
        raise ParamError(
            "path", f"'{path}' has arrays {sorted(arrays)}; needs x and y, and x_val with y_val or neither"
        )
    x = arrays["x"]
    if layout == "auto" and x.ndim == 4:
        if (x.shape[1] <= 4) == (x.shape[3] <= 4):
            raise ParamError(
                "layout", f"cannot tell the channel axis of shape {x.shape}; set 'nchw' or 'nhwc'"
            )
        layout = "nchw" if x.shape[1] <= 4 else "nhwc"
    x, y = _nchw(x, "x", layout), _labels(arrays["y"], "y", len(x))
    if not has_val:
        return _finish("npz", x, y, 0.2 if val_fraction is None else val_fraction, seed, int(y.max()) + 1)
    _unused("val_fraction", val_fraction, "when the file has x_val and y_val")
    xv = _nchw(arrays["x_val"], "x_val", layout)
    yv = _labels(arrays["y_val"], "y_val", len(xv))
    if xv.shape[1:] != x.shape[1:]:
        raise ParamError("path", f"x_val images are {xv.shape[1:]} where x images are {x.shape[1:]}")
    return _dataset("npz", x, y, xv, yv, int(max(y.max(), yv.max())) + 1)


def _read_image(path: Path, field: str, size: int | None, grayscale: bool) -> np.ndarray:
    """One image's pixels; a corrupt file or one too large to decode safely (Pillow's
    decompression-bomb limit, a warning there counting as an error) is named with why."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img = img.convert("L" if grayscale else "RGB")
                if size is not None:
                    img = img.resize((size, size), Image.Resampling.BILINEAR)
                return np.asarray(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ParamError(field, f"image '{path}' is too large to decode safely: {err}") from None
    except (OSError, ValueError, EOFError, SyntaxError) as err:  # Pillow's plugins raise all four
        raise ParamError(field, f"cannot read image '{path}': {err}") from None


def _read_images(folder: Path, field: str, index: dict[str, int], size: int | None, grayscale: bool):
    """Every image under the class sub-folders of `folder` as (N, C, H, W) uint8 and labels."""
    images, labels, first = [], [], None
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if sub.name not in index:
            raise ParamError(field, f"class folder '{sub}' is not a class of root; legal: {sorted(index)}")
        files = sorted(p for p in sub.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise ParamError(
                field, f"class folder '{sub}' has no images; legal suffixes: {list(IMAGE_SUFFIXES)}"
            )
        for path in files:
            pixels = _read_image(path, field, size, grayscale)
            first = first or (path, pixels.shape)
            if pixels.shape != first[1]:
                raise ParamError(
                    "size",
                    f"not set, and '{path}' is {pixels.shape[:2]} where '{first[0]}' is {first[1][:2]}",
                )
            images.append(pixels)
            labels.append(index[sub.name])
    if not images:
        raise ParamError(
            field, f"no class sub-folders in '{folder}'; expected one folder of images per class"
        )
    x = np.stack(images)
    return (x[:, None] if grayscale else x.transpose(0, 3, 1, 2)), np.array(labels)


@loader(
    root=Param(str, None, "folder of one sub-folder of images per class", required=True),
    size=Param(int, None, "resize every image to size x size", low=1, optional=True),
    grayscale=Param(bool, False, "read images as one channel"),
    val_root=Param(str, None, "validation images in the same class folders", optional=True),
    val_fraction=HELD_OUT,
    seed=SEED,
)
def imagefolder(
    root: str, size: int | None, grayscale: bool, val_root: str | None, val_fraction: float | None, seed: int
) -> Dataset:
    """Images in one sub-folder per class of `root` (class index = sorted folder name), read with Pillow.

    `size` resizes every image to size x size; validation is `val_root` (same class folders)
    or `val_fraction` (default 0.2) of every class held out.
    """
    folder = _directory("root", root)
    names = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    index = {name: i for i, name in enumerate(names)}
    x, y = _read_images(folder, "root", index, size, grayscale)
    if val_root is None:
        return _finish(
            "imagefolder", x, y, 0.2 if val_fraction is None else val_fraction, seed, len(names), names
        )
    _unused("val_fraction", val_fraction, "with val_root")
    xv, yv = _read_images(_directory("val_root", val_root), "val_root", index, size, grayscale)
    if xv.shape[1:] != x.shape[1:]:
        raise ParamError(
            "size", f"not set, and val_root images are {xv.shape[2:]} where root's are {x.shape[2:]}"
        )
    return _dataset("imagefolder", x, y, xv, yv, len(names), names)


def load(name: str, params: dict[str, Any] | None = None, source: str = "dataset") -> Dataset:
    """Load a dataset by name with its parameters; bad parameters raise a UserError naming the field."""
    if name not in LOADERS:
        raise UserError(f"{source}: dataset.name: unknown dataset '{name}'; legal: {sorted(LOADERS)}")
    try:
        return LOADERS[name](**(params or {}))
    except ParamError as err:
        raise UserError(f"{source}: dataset.params.{err.field}: {err.message}") from None

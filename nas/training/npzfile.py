"""NumPy .npz datasets (one file, or a pattern of several concatenated, as downsampled ImageNet
ships): each archive's headers are checked (no pickled objects, no corrupt sizes, no more than a
share of this machine's memory) before any array is loaded."""

from __future__ import annotations

import glob
import math
import os
import zipfile
from pathlib import Path

import numpy as np

from blocks.errors import ParamError
from blocks.schema import Param
from nas.training.inmemory import HELD_OUT, Dataset, build, finish, unused
from nas.training.loaders import SEED, loader

LAYOUTS = ("auto", "nchw", "nhwc")
NPZ_KEYS = ("x", "y", "x_val", "y_val", "data", "labels")  # the last two: downsampled ImageNet


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
        return finish(
            "npz",
            x,
            y,
            0.2 if val_fraction is None else val_fraction,
            seed,
            _classes(y, len(y), int(y.max())),
        )
    unused("val_fraction", val_fraction, "with validation images (val_path, or x_val and y_val)")
    xv = _nchw(arrays["x_val"], "x_val", layout)
    yv = _labels(arrays["y_val"], "y_val", len(xv))
    if xv.shape[1:] != x.shape[1:]:
        raise ParamError("path", f"x_val images are {xv.shape[1:]} where x images are {x.shape[1:]}")
    return build("npz", x, y, xv, yv, _classes(y, len(y) + len(yv), int(max(y.max(), yv.max()))))

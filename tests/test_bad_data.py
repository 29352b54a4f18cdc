"""A catalogue of bad `npz` datasets: each is refused when the experiment's dataset is loaded, before
any spec is drawn or trained, with one line naming dataset.params.FIELD, the file and what is legal;
never numpy's advice to load it unsafely, never a class count found wrong 46 s later."""

from __future__ import annotations

import gzip
import io
import json
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.test_bad_inputs import refused

X = np.arange(8 * 36, dtype=np.uint8).reshape(8, 1, 6, 6)
Y = np.arange(8) % 2


def _npy(shape: tuple[int, ...], dtype: str, data: bytes) -> bytes:
    """A .npy member whose header declares `shape` and `dtype` over `data` (which may lie)."""
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _savez(**arrays):
    return lambda path: np.savez(path, **arrays)


def _bytes(data: bytes):
    return lambda path: path.write_bytes(data)


def _gzip(path: Path) -> None:
    buf = io.BytesIO()
    np.savez(buf, x=X, y=Y)
    path.write_bytes(gzip.compress(buf.getvalue()))


NOT_NPZ = "is not an .npz file (a zip archive written by numpy.savez)"
BAD_NPZ = {
    # files that are no npz archive at all
    "text": (_bytes(b"x,y\n1,2\n"), NOT_NPZ),
    "empty": (_bytes(b""), NOT_NPZ),
    "random-bytes": (_bytes(bytes(range(256)) * 4), NOT_NPZ),
    "pickle": (_bytes(pickle.dumps({"x": [1, 2], "y": [0, 1]})), NOT_NPZ),
    "gzip-of-an-npz": (_gzip, NOT_NPZ),
    "zip-header-only": (_bytes(b"PK\x03\x04 not really a zip"), NOT_NPZ),
    "single-npy": (
        lambda path: path.write_bytes(_npy(X.shape, "|u1", X.tobytes())),
        "is a single .npy array, not an .npz archive",
    ),
    # archives whose headers say no before anything is loaded
    "object-images": (
        _savez(x=np.array([{"a": 1}] * 8, dtype=object), y=Y),
        "array 'x' holds Python objects",
    ),
    "object-labels": (_savez(x=X, y=np.array(["a"] * 8, dtype=object)), "array 'y' holds Python objects"),
    "header-past-the-member": (
        lambda path: _zip(
            path,
            {"x.npy": _npy((10**6, 3, 32, 32), "|u1", b"\0" * 16), "y.npy": _npy((8,), "<i8", Y.tobytes())},
        ),
        "array 'x' declares (1000000, 3, 32, 32) uint8 (3,072,000,000 bytes) but its member holds",
    ),
    "no-arrays-of-ours": (_savez(images=X, labels_of=Y), "needs x and y"),
    "only-x": (_savez(x=X), "needs x and y"),
    "x-val-without-y-val": (_savez(x=X, y=Y, x_val=X), "x_val with y_val or neither"),
    # labels
    "label-a-billion": (
        _savez(x=X, y=np.array([0, 1, 0, 1, 0, 1, 0, 10**9])),
        "a label of 1,000,000,000 makes 1,000,000,001 classes for 8 images",
    ),
    "label-one-past": (
        _savez(x=X, y=np.array([0, 1, 0, 1, 0, 1, 0, 8])),
        "a label of 8 makes 9 classes for 8 images",
    ),
    "val-label-a-billion": (
        _savez(x=X, y=Y, x_val=X[:2], y_val=np.array([0, 10**9])),
        "a label of 1,000,000,000 makes 1,000,000,001 classes for 10 images",
    ),
    "one-class-zero": (
        _savez(x=X, y=np.zeros(8, int)),
        "array 'y' holds one class (0) only; legal: two classes or more",
    ),
    "one-class-three": (_savez(x=X, y=np.full(8, 3)), "array 'y' holds one class (3) only"),
    "one-class-with-validation": (
        _savez(x=X, y=np.zeros(8, int), x_val=X[:2], y_val=np.array([0, 1])),
        "holds one class (0) only",
    ),
    "label-negative": (_savez(x=X, y=Y - 1), "array 'y' must hold 8 (> 0) class indices >= 0"),
    "label-float": (_savez(x=X, y=Y.astype(float)), "array 'y' must hold 8 (> 0) class indices"),
    "label-bool": (_savez(x=X, y=Y.astype(bool)), "array 'y' must hold 8 (> 0) class indices"),
    "label-2d": (_savez(x=X, y=Y.reshape(4, 2)), "array 'y' must hold 8 (> 0) class indices"),
    "label-short": (_savez(x=X, y=Y[:5]), "array 'y' must hold 8 (> 0) class indices"),
    "no-images": (_savez(x=X[:0], y=Y[:0]), "array 'y' must hold 0 (> 0) class indices"),
    # images
    "images-int32": (_savez(x=X.astype(np.int32), y=Y), "dtype int32; legal: uint8 or floating point"),
    "images-complex": (_savez(x=X.astype(complex), y=Y), "dtype complex128; legal"),
    "images-nan": (
        _savez(x=np.where(X == 5, np.nan, X.astype(float)), y=Y),
        "array 'x' holds NaN or infinite values",
    ),
    "images-inf": (
        _savez(x=np.where(X == 5, np.inf, X.astype(np.float32)), y=Y),
        "array 'x' holds NaN or infinite",
    ),
    "images-2d": (_savez(x=X.reshape(8, 36), y=Y), "array 'x' has shape (8, 36); legal: (N, C, H, W)"),
    "images-5d": (_savez(x=X.reshape(8, 1, 1, 6, 6), y=Y), "array 'x' has shape (8, 1, 1, 6, 6)"),
    "val-images-other-shape": (
        _savez(x=X, y=Y, x_val=X[:2, :, :2], y_val=Y[:2]),
        "x_val images are (1, 2, 6) where x images are (1, 6, 6)",
    ),
    "ambiguous-layout": (
        _savez(x=np.zeros((8, 3, 3, 3), np.uint8), y=Y),
        "layout: cannot tell the channel axis",
    ),
    "imagenet-data-float": (
        _savez(data=np.zeros((8, 12)), labels=Y + 1),
        "'data' is float64 (8, 12); legal: (N, 3*S*S) uint8",
    ),
}


def _experiment(tmp_path: Path, params: dict) -> str:
    path = tmp_path / "exp.yaml"
    path.write_text(json.dumps({"space": "anynet_x_a", "dataset": {"name": "npz", "params": params}}))
    return str(path)


def _refused(tmp_path: Path, capsys, params: dict, *names: str) -> str:
    line = refused(["retrain", "resnet18", "--experiment", _experiment(tmp_path, params)], capsys, *names)
    assert "allow_pickle" not in line
    return line


@pytest.mark.parametrize("make, message", BAD_NPZ.values(), ids=BAD_NPZ.keys())
def test_bad_npz_files(tmp_path, capsys, make, message):
    path = tmp_path / "data.npz"
    make(path)
    field = "layout" if "layout" in message else "path"
    _refused(tmp_path, capsys, {"path": str(path)}, f"dataset.params.{field}", message)


def test_a_validation_file_is_checked_alike(tmp_path, capsys):
    np.savez(tmp_path / "train.npz", x=X, y=Y)
    (tmp_path / "val.npz").write_bytes(pickle.dumps([1, 2]))
    params = {"path": str(tmp_path / "train.npz"), "val_path": str(tmp_path / "val.npz")}
    _refused(tmp_path, capsys, params, "dataset.params.val_path", str(tmp_path / "val.npz"), NOT_NPZ)


def test_a_pattern_matching_nothing_is_named(tmp_path, capsys):
    _refused(tmp_path, capsys, {"path": str(tmp_path / "batch_*.npz")}, "dataset.params.path: no such file")


def test_arrays_over_half_the_memory_are_refused_from_their_headers(tmp_path, capsys, monkeypatch):
    """A small file inflating to arrays too large to hold: refused from the .npy headers alone."""
    np.savez_compressed(tmp_path / "bomb.npz", x=np.zeros((64, 3, 32, 32)), y=np.arange(64) % 4)
    monkeypatch.setattr("nas.training.npzfile._machine_memory", lambda: 4_000_000)
    monkeypatch.setattr(
        np, "load", lambda *a, **k: pytest.fail("loaded the arrays before checking their size")
    )
    line = _refused(tmp_path, capsys, {"path": str(tmp_path / "bomb.npz")}, "dataset.params.path", "bomb.npz")
    assert (
        "x (64, 3, 32, 32) float64" in line
        and "takes about 0.0 GB, over 50% of this machine's 0.0 GB" in line
    )


def test_float_images_are_summed_in_bounded_pieces():
    """The mean and std of a set whose images alone pass the bound come out exactly, in pieces."""
    from nas.training.pixels import channel_stats

    x = np.random.default_rng(0).normal(3.0, 2.0, (5, 2, 33, 17)).astype(np.float32)
    import torch

    pieces = channel_stats(torch.from_numpy(x), chunk=100)  # smaller than one image: rows of one
    whole = channel_stats(torch.from_numpy(x), chunk=10**9)
    assert np.allclose(pieces, whole)
    assert np.allclose(pieces[0], x.astype(np.float64).mean(axis=(0, 2, 3)))
    assert np.allclose(pieces[1], x.astype(np.float64).std(axis=(0, 2, 3)) + 1e-8)

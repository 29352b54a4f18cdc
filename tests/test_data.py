"""Datasets: digits unchanged, and cifar10, npz and imagefolder read from tiny files written here."""

import os
import pickle
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from blocks.errors import UserError
from nas.training import datasets as data

NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]


def _standard(ds, x):
    """Stored images as the network sees them: (pixels - mean) / std with the recorded statistics."""
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in (ds.mean, ds.std))
    return (x.double() - mean) / std


def _check_standardised(ds, stored=torch.float32):
    """Images are kept as `stored`; standardised, the training split has mean 0 and std 1 per channel,
    and the validation batches are exactly that standardisation of the stored validation images."""
    x = _standard(ds, ds.x_train)
    mean, std = x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3), correction=0)
    assert torch.allclose(mean, torch.zeros_like(mean), atol=1e-5)
    assert torch.allclose(std, torch.ones_like(std), atol=1e-5)
    assert ds.x_train.dtype == ds.x_val.dtype == stored
    assert ds.y_train.dtype == ds.y_val.dtype == torch.int64
    assert ds.x_train.is_contiguous() and ds.x_val.is_contiguous()
    batches = list(ds.val_batches(3, torch.device("cpu")))
    assert all(xb.dtype == torch.float32 for xb, _ in batches)
    assert torch.allclose(torch.cat([xb for xb, _ in batches]).double(), _standard(ds, ds.x_val), atol=1e-5)


def _raises(name, params, message):
    with pytest.raises(UserError) as err:
        data.load(name, params, "exp.yaml")
    assert str(err.value).startswith("exp.yaml: "), str(err.value)
    assert message in str(err.value), str(err.value)
    return str(err.value)


def test_digits_unchanged_global_standardisation_split_80_20():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images[:, None] / 16.0).astype(np.float32)
    xt, yt, xv, yv = data._split(x, bunch.target.astype(np.int64), 0.2, 0)
    mean, std = xt.mean(), xt.std() + 1e-8
    ds = data.load("digits")
    assert ds.input_shape == (1, 8, 8) and ds.num_classes == 10 and len(ds.x_train) + len(ds.x_val) == 1797
    assert np.allclose([ds.mean[0], ds.std[0]], [mean, std], atol=1e-6)
    assert torch.allclose(_standard(ds, ds.x_train).float(), torch.from_numpy((xt - mean) / std), atol=1e-5)
    assert torch.allclose(_standard(ds, ds.x_val).float(), torch.from_numpy((xv - mean) / std), atol=1e-5)
    assert torch.equal(ds.y_train, torch.from_numpy(yt)) and torch.equal(ds.y_val, torch.from_numpy(yv))


def test_synthetic_is_standardised_per_channel():
    ds = data.synthetic(num_samples=64, channels=3, size=4)  # a loader is called like a function
    assert ds.input_shape == (3, 4, 4) and len(ds.x_train) + len(ds.x_val) == 64
    _check_standardised(ds)


@pytest.mark.parametrize(
    "name, params, message",
    [
        (
            "mnist",
            {},
            "dataset.name: unknown dataset 'mnist'; legal: ['camvid', 'cifar10', 'cityscapes', 'digits'",
        ),
        (
            "synthetic",
            {"pixels": 3},
            "dataset.params.pixels: unknown parameter of dataset 'synthetic'; legal: ['channels', 'noise'",
        ),
        ("cifar10", {}, "dataset.params.root: required by dataset 'cifar10': expected str"),
        ("digits", {"val_fraction": 1.5}, "dataset.params.val_fraction: expected float in [0, 1], got 1.5"),
        (
            "digits",
            {"val_fraction": float("nan")},
            "dataset.params.val_fraction: expected float in [0, 1], got nan",
        ),
        (
            "digits",
            {"val_fraction": 1e-4},
            "dataset.params.val_fraction: 0.0001 of 1797 images leaves one split",
        ),
        ("digits", {"val_fraction": 1}, "dataset.params.val_fraction: 1.0 of 1797 images leaves one split"),
        ("synthetic", {"num_samples": 1}, "dataset.params.num_samples: expected int in [2, inf], got 1"),
    ],
)
def test_load_rejects_bad_names_and_params(name, params, message):
    _raises(name, params, message)


def test_loaders_declare_their_parameters():
    assert list(data.LOADERS) == [
        *("digits", "synthetic", "cifar10", "npz", "imagefolder"),
        *("segsynthetic", "segfolder", "voc", "cityscapes", "camvid"),
    ]
    assert data.LOADERS["synthetic"].schema.defaults() == {
        "num_samples": 512, "num_classes": 4, "channels": 3, "size": 8, "noise": 1.0, "val_fraction": 0.25, "seed": 0,
    }  # fmt: skip
    assert data.synthetic(num_samples="64", size=4).input_shape == (3, 4, 4)  # YAML numbers read as declared
    assert [k for k, p in data.LOADERS["imagefolder"].schema.items() if p.required] == ["root"]


# --- cifar10 -------------------------------------------------------------------------------------


def _cifar_batch(path, rng, n):
    """A batch in the real format: a protocol-2 pickle of a dict with bytes keys."""
    labels = [int(v) for v in rng.integers(0, 10, n)]
    pixels = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    batch = {b"batch_label": b"fake", b"labels": labels, b"data": pixels, b"filenames": [b"x.png"] * n}
    path.write_bytes(pickle.dumps(batch, protocol=2))
    return pixels, labels


def _py2_string(raw):
    return b"U" + bytes([len(raw)]) + raw if len(raw) < 256 else b"T" + struct.pack("<i", len(raw)) + raw


def _py2_cifar_batch(path, rng, n):
    """A batch as Python 2's cPickle wrote the real files: str keys, numpy.core globals."""
    labels = [int(v) for v in rng.integers(0, 10, n)]
    pixels = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    array = (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + _py2_string(b"b") + b"\x87R"
        b"(K\x01M" + struct.pack("<H", n) + b"M" + struct.pack("<H", 3072) + b"\x86"
        b"cnumpy\ndtype\n" + _py2_string(b"u1") + b"K\x00K\x01\x87R"
        b"(K\x03" + _py2_string(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
        b"\x89" + _py2_string(pixels.tobytes()) + b"tb"
    )
    listed = b"](" + b"".join(b"K" + bytes([v]) for v in labels) + b"e"
    path.write_bytes(b"\x80\x02}(" + _py2_string(b"data") + array + _py2_string(b"labels") + listed + b"u.")
    return pixels, labels


@pytest.fixture
def cifar_dir(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    rng = np.random.default_rng(0)
    parts = [_cifar_batch(root / name, rng, n) for name, n in (("data_batch_1", 20), ("data_batch_2", 20))]
    test = _py2_cifar_batch(root / "test_batch", rng, 10)
    meta = {b"num_cases_per_batch": 20, b"label_names": NAMES, b"num_vis": 3072}
    (root / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    pixels = np.concatenate([p for p, _ in parts])
    labels = sum((lab for _, lab in parts), [])
    return root, pixels, labels, test


def test_cifar10_reads_planes_labels_names_and_test_batch(cifar_dir):
    root, pixels, labels, (test_pixels, test_labels) = cifar_dir
    ds = data.load("cifar10", {"root": str(root)})
    assert ds.x_train.shape == (40, 3, 32, 32) and ds.x_val.shape == (10, 3, 32, 32)
    assert ds.y_train.tolist() == labels and ds.y_val.tolist() == test_labels
    assert ds.num_classes == 10 and ds.class_names[:2] == ("airplane", "automobile")
    _check_standardised(ds, torch.uint8)
    # kept as the R, G, B planes of each row, with the statistics of those pixels
    raw = pixels.reshape(40, 3, 32, 32)
    assert np.array_equal(ds.x_train.numpy(), raw)
    assert np.array_equal(ds.x_val.numpy(), test_pixels.reshape(10, 3, 32, 32))
    assert np.allclose(ds.mean, raw.mean(axis=(0, 2, 3))) and np.allclose(ds.std, raw.std(axis=(0, 2, 3)))
    # a quarter of the float32 bytes per image: 3072 where float32 took 12288
    assert ds.x_train[0].nbytes == 3 * 32 * 32


def test_cifar10_limit_split_and_parent_folder(cifar_dir):
    root, _, labels, _ = cifar_dir
    ds = data.load("cifar10", {"root": str(root.parent), "limit": 25})
    assert len(ds.x_train) == 25 and ds.y_train.tolist() == labels[:25]
    ds = data.load("cifar10", {"root": str(root), "validation": "split", "val_fraction": 0.25, "seed": 1})
    assert len(ds.x_train) + len(ds.x_val) == 40 and 5 <= len(ds.x_val) <= 15
    assert sorted(ds.y_train.tolist() + ds.y_val.tolist()) == sorted(labels)


def test_cifar10_refuses_pickles_that_would_run_code(cifar_dir):
    root = cifar_dir[0]

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    (root / "data_batch_1").write_bytes(pickle.dumps({b"data": Evil()}, protocol=2))
    message = _raises("cifar10", {"root": str(root)}, "dataset.params.root: cannot read")
    assert "data_batch_1" in message and "refusing" in message and "system" in message


@pytest.mark.parametrize(
    "params, message",
    [
        ({"root": "nowhere"}, "dataset.params.root: no such directory 'nowhere'"),
        ({"root": ""}, "dataset.params.root: no such directory ''"),
        ({"root": 5}, "dataset.params.root: expected str, got 5"),
        ({"validation": "val"}, "dataset.params.validation: expected str in ['test', 'split'], got 'val'"),
        ({"val_fraction": 0.1}, "dataset.params.val_fraction: not used with validation: test"),
        ({"limit": 0}, "dataset.params.limit: expected int in [1, inf] or null, got 0"),
        ({"limit": "ten"}, "dataset.params.limit: expected int in [1, inf] or null, got 'ten'"),
        (
            {"validation": "split", "val_fraction": 2},
            "dataset.params.val_fraction: expected float in [0, 1] or null",
        ),
    ],
)
def test_cifar10_bad_params(cifar_dir, params, message):
    _raises("cifar10", {"root": str(cifar_dir[0]), **params}, message)


def test_cifar10_bad_folders_and_files(tmp_path, cifar_dir):
    _raises("cifar10", {"root": str(tmp_path / "x")}, "no such directory")
    (tmp_path / "empty").mkdir()
    _raises("cifar10", {"root": str(tmp_path / "empty")}, "no data_batch_1..5 in")
    root = cifar_dir[0]
    (root / "test_batch").unlink()
    _raises("cifar10", {"root": str(root)}, "no test_batch in")
    (root / "data_batch_2").write_bytes(b"not a pickle")
    _raises("cifar10", {"root": str(root), "validation": "split"}, "cannot read '")
    (root / "data_batch_2").write_bytes(pickle.dumps({b"data": [1, 2], b"labels": [0]}, protocol=2))
    _raises("cifar10", {"root": str(root), "validation": "split"}, "data_batch_2' is not a CIFAR-10 batch")


# --- npz -----------------------------------------------------------------------------------------


def test_npz_nhwc_uint8_with_validation_arrays(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (12, 6, 5, 3), dtype=np.uint8)
    path = tmp_path / "d.npz"
    np.savez(path, x=x, y=np.arange(12) % 3, x_val=x[:4], y_val=np.array([0, 1, 2, 5]))
    ds = data.load("npz", {"path": str(path)})
    assert ds.input_shape == (3, 6, 5) and len(ds.x_train) == 12 and len(ds.x_val) == 4
    assert ds.num_classes == 6 and ds.y_val.tolist() == [0, 1, 2, 5]
    _check_standardised(ds, torch.uint8)
    # the first validation images are the first training images, put in NCHW the same way
    assert torch.equal(ds.x_val, ds.x_train[:4])
    assert np.array_equal(ds.x_train.numpy(), x.transpose(0, 3, 1, 2))


def test_npz_nchw_float_split_stratified_and_grayscale(tmp_path):
    x = np.random.default_rng(0).normal(size=(40, 2, 7, 7)).astype(np.float32)
    y = np.repeat(np.arange(4), 10)
    np.savez(tmp_path / "a.npz", x=x, y=y)
    ds = data.load("npz", {"path": str(tmp_path / "a.npz"), "val_fraction": 0.3})
    assert ds.input_shape == (2, 7, 7) and ds.num_classes == 4
    assert np.bincount(ds.y_val.numpy()).tolist() == [3, 3, 3, 3]
    _check_standardised(ds, torch.float32)
    np.savez(tmp_path / "g.npz", x=x[:, 0], y=y)
    assert data.load("npz", {"path": str(tmp_path / "g.npz")}).input_shape == (1, 7, 7)
    # tiny images: the layout cannot be guessed, but can be named
    np.savez(tmp_path / "t.npz", x=x[:, :, :3, :3], y=y)
    _raises("npz", {"path": str(tmp_path / "t.npz")}, "dataset.params.layout: cannot tell the channel axis")
    assert data.load("npz", {"path": str(tmp_path / "t.npz"), "layout": "nhwc"}).input_shape == (3, 2, 3)


def test_npz_bad_files(tmp_path):
    x, y = np.zeros((4, 1, 5, 5), np.uint8), np.arange(4)
    _raises("npz", {"path": str(tmp_path / "no.npz")}, "dataset.params.path: no such file")
    np.savez(tmp_path / "noy.npz", x=x)
    _raises("npz", {"path": str(tmp_path / "noy.npz")}, "needs x and y")
    np.savez(tmp_path / "half.npz", x=x, y=y, x_val=x)
    _raises("npz", {"path": str(tmp_path / "half.npz")}, "x_val with y_val or neither")
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}] * 4, dtype=object), y=y)
    _raises(
        "npz", {"path": str(tmp_path / "obj.npz")}, "array 'x' holds Python objects, which only unpickling"
    )
    np.savez(tmp_path / "len.npz", x=x, y=y[:3])
    _raises("npz", {"path": str(tmp_path / "len.npz")}, "array 'y' must hold 4 (> 0) class indices")
    np.savez(tmp_path / "i32.npz", x=x.astype(np.int32), y=y)
    _raises("npz", {"path": str(tmp_path / "i32.npz")}, "dtype int32; legal: uint8 or floating point")
    np.save(tmp_path / "one.npy", x)
    _raises("npz", {"path": str(tmp_path / "one.npy")}, "is a single .npy array")
    (tmp_path / "junk.npz").write_text("junk")
    _raises("npz", {"path": str(tmp_path / "junk.npz")}, "is not an .npz file (a zip archive")
    np.savez(tmp_path / "v.npz", x=x, y=y, x_val=x, y_val=y)
    _raises(
        "npz",
        {"path": str(tmp_path / "v.npz"), "val_fraction": 0.2},
        "val_fraction: not used with validation",
    )
    _raises(
        "npz", {"path": str(tmp_path / "v.npz"), "layout": "hwc"}, "layout: expected str in ['auto', 'nchw'"
    )


def _downsampled_imagenet(folder, side, batches, rng):
    """Files in the layout of downsampled ImageNet (Chrabaszcz et al. 2017): rows of R, G, B planes,
    1-based labels; returns the images as NCHW and the 0-based labels written."""
    images, labels = [], []
    for name, n in batches.items():
        x = rng.integers(0, 256, (n, 3, side, side), dtype=np.uint8)
        y = rng.integers(1, 6, n)
        np.savez(folder / name, data=x.reshape(n, -1), labels=y.tolist(), mean=x.mean(axis=0).reshape(-1))
        images.append(x)
        labels.append(y - 1)
    return images, labels


def test_npz_reads_downsampled_imagenet_batches_and_val_file(tmp_path):
    rng = np.random.default_rng(3)
    (xt1, xt2, xv), (yt1, yt2, yv) = _downsampled_imagenet(
        tmp_path, 8, {"train_data_batch_1.npz": 7, "train_data_batch_2.npz": 5, "val_data.npz": 4}, rng
    )
    params = {"path": str(tmp_path / "train_data_batch_*.npz"), "val_path": str(tmp_path / "val_data.npz")}
    ds = data.load("npz", params)
    assert ds.input_shape == (3, 8, 8) and ds.train_size == 12 and ds.val_size == 4
    assert np.array_equal(ds.x_train.numpy(), np.concatenate([xt1, xt2]))  # planes R, G, B, in file order
    assert ds.y_train.tolist() == np.concatenate([yt1, yt2]).tolist() and ds.y_val.tolist() == yv.tolist()
    assert np.array_equal(ds.x_val.numpy(), xv)
    _check_standardised(ds, torch.uint8)
    one = data.load("npz", {**params, "path": str(tmp_path / "train_data_batch_2.npz")})
    assert one.train_size == 5 and np.array_equal(one.x_train.numpy(), xt2)
    _raises("npz", {"path": str(tmp_path / "nothing_*.npz")}, "dataset.params.path: no such file")
    np.savez(tmp_path / "bad.npz", data=np.zeros((2, 10), np.uint8), labels=[1, 2])
    _raises("npz", {"path": str(tmp_path / "bad.npz")}, "'data' is uint8 (2, 10); legal: (N, 3*S*S) uint8")
    _raises("npz", {**params, "val_fraction": 0.1}, "val_fraction: not used with validation")


# --- imagefolder ---------------------------------------------------------------------------------


def _image_folder(root, sizes):
    """Class folders named out of order; each image is one flat colour per class and a size each."""
    for c, name in enumerate(["zebra", "ant", "cat"]):
        (root / name).mkdir(parents=True)
        for i, size in enumerate(sizes):
            Image.new("RGB", (size, size + i), (80 * c, 10 * i, 200 - 30 * i)).save(root / name / f"{i}.png")
    (root / "ant" / "notes.txt").write_text("not an image")


def test_imagefolder_classes_sorted_resized_and_split(tmp_path):
    _image_folder(tmp_path / "train", [6, 9, 12, 7, 10])
    ds = data.load("imagefolder", {"root": str(tmp_path / "train"), "size": 8})
    assert ds.class_names == ("ant", "cat", "zebra") and ds.num_classes == 3
    assert ds.x_train.shape == (12, 3, 8, 8) and ds.x_val.shape == (3, 3, 8, 8)
    assert sorted(ds.y_val.tolist()) == [0, 1, 2]
    _check_standardised(ds, torch.uint8)
    # red is 0 for zebra (index 2), 80 for ant (0), 160 for cat (1): order survives standardisation
    red = _standard(ds, ds.x_train)[:, 0].mean(dim=(1, 2))
    order = {int(label): float(r) for label, r in zip(ds.y_train, red)}
    assert order[2] < order[0] < order[1]


def test_imagefolder_grayscale_and_val_root(tmp_path):
    _image_folder(tmp_path / "train", [5, 5])
    (tmp_path / "val" / "cat").mkdir(parents=True)
    Image.new("L", (5, 5), 3).save(tmp_path / "val" / "cat" / "a.png")
    ds = data.load(
        "imagefolder",
        {"root": str(tmp_path / "train"), "val_root": str(tmp_path / "val"), "grayscale": True, "size": 4},
    )
    assert ds.x_train.shape == (6, 1, 4, 4) and ds.x_val.shape == (1, 1, 4, 4) and ds.y_val.tolist() == [1]


def test_declared_shape_needs_no_file_and_classes_are_checked(tmp_path):
    nowhere = str(tmp_path / "nowhere")
    assert data.declared("cifar10", {"root": nowhere}) == ((3, 32, 32), 10)
    assert data.declared("imagefolder", {"root": nowhere, "size": 64, "classes": 5}) == ((3, 64, 64), 5)
    gray = {"root": nowhere, "size": 64, "classes": 5, "grayscale": True}
    assert data.declared("imagefolder", gray) == ((1, 64, 64), 5)
    assert (
        data.declared("imagefolder", {"root": nowhere, "size": 64}) is None
    )  # classes only the folder tells
    assert data.declared("digits") is None and data.declared("npz", {"path": nowhere}) is None
    with pytest.raises(UserError, match=r"^exp.yaml: dataset.params.classes: expected int in \[1, inf\]"):
        data.declared("imagefolder", {"root": nowhere, "size": 8, "classes": 0}, "exp.yaml")
    _image_folder(tmp_path / "train", [5, 5, 5, 5, 5])
    ds = data.load("imagefolder", {"root": str(tmp_path / "train"), "size": 4, "classes": 3})
    assert ds.num_classes == 3
    message = _raises(
        "imagefolder", {"root": str(tmp_path / "train"), "size": 4, "classes": 1000}, "classes: 1000"
    )
    assert message.endswith("holds 3 class folders; legal: 3")


def test_imagefolder_errors_name_field_and_file(tmp_path):
    _raises("imagefolder", {"root": str(tmp_path / "x")}, "dataset.params.root: no such directory")
    (tmp_path / "flat").mkdir()
    _raises("imagefolder", {"root": str(tmp_path / "flat")}, "root: no class sub-folders in")
    root = tmp_path / "train"
    _image_folder(root, [5, 6])
    message = _raises("imagefolder", {"root": str(root)}, "dataset.params.size: not set, and '")
    assert "1.png" in message
    _raises(
        "imagefolder", {"root": str(root), "size": 0}, "dataset.params.size: expected int in [1, inf] or null"
    )
    _raises("imagefolder", {"root": str(root), "grayscale": "yes"}, "dataset.params.grayscale: expected bool")
    (tmp_path / "val" / "dog").mkdir(parents=True)
    Image.new("RGB", (5, 5)).save(tmp_path / "val" / "dog" / "a.png")
    params = {"root": str(root), "size": 5, "val_root": str(tmp_path / "val")}
    _raises("imagefolder", params, "dataset.params.val_root: class folder '")
    _raises("imagefolder", {**params, "val_fraction": 0.5}, "val_fraction: not used with val_root")
    (root / "cat" / "broken.png").write_bytes(b"\x89PNG nope")
    message = _raises(
        "imagefolder", {"root": str(root), "size": 5}, "dataset.params.root: cannot read image '"
    )
    assert "broken.png" in message
    (root / "cat" / "broken.png").unlink()
    (root / "empty").mkdir()
    _raises("imagefolder", {"root": str(root), "size": 5}, "empty' has no images; legal suffixes")


def test_in_memory_batches_standardise_per_batch_and_on_moves_the_set():
    ds = data.synthetic(num_samples=40, channels=2, size=6)
    stored = ds.x_train.clone()
    moved = ds.on("cpu")
    assert type(moved) is data.Dataset and torch.equal(moved.x_train, ds.x_train) and moved.mean == ds.mean
    gen = torch.Generator().manual_seed(4)
    batches = list(ds.train_batches(8, gen, data.Augment(cutout=6), torch.device("cpu"), workers=3))
    assert [len(y) for _, y in batches] == [8, 8, 8, 6] and all(x.dtype == torch.float32 for x, _ in batches)
    order = torch.randperm(30, generator=torch.Generator().manual_seed(4))
    # a 6-pixel cutout on 6 x 6 images zeroes a quarter to all of each one; the rest is standardised
    first = batches[0][0]
    want = _standard(ds, ds.x_train[order[:8]]).float()
    kept = first != 0
    assert torch.allclose(first[kept], want[kept], atol=1e-5) and 0.2 < (~kept).float().mean() < 1
    assert torch.equal(ds.x_train, stored)  # float32 storage: standardising a batch never writes to it

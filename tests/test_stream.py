"""Streamed image folders: crop geometry, reproducible epochs whatever the worker count, the
preprocessing record, a small pickle, one-line errors, and flat memory on a multi-GB folder."""

import json
import multiprocessing
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from blocks.errors import UserError
from nas.training import datasets as data
from nas.training import stream
from nas.training.augment import Augment

CPU = torch.device("cpu")
REPO = Path(__file__).resolve().parents[1]


def _folder(root, n=6, shape=(40, 60)):
    """Two classes of noisy JPEGs, `n` each, height x width `shape`."""
    rng = np.random.default_rng(0)
    for c in ("cat", "ant"):
        (root / c).mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / c / f"{i}.jpg", quality=90)
    return root


def _load(root, **params):
    return data.load("imagefolder", {"root": str(root), "stream": "true", "size": 16, **params}, "exp.yaml")


def _epoch(ds, seed, workers, augment=None):
    augment = augment or Augment()
    gen = torch.Generator().manual_seed(seed)
    return [(x, y) for x, y in ds.train_batches(5, gen, augment, CPU, workers)]


@settings(max_examples=200, deadline=None)
@given(st.integers(100, 3000), st.integers(100, 3000), st.integers(0, 2**32))
def test_random_resized_crop_stays_inside_with_legal_area_and_ratio(width, height, seed):
    left, top, w, h = stream.crop_box(width, height, np.random.default_rng(seed))
    assert left >= 0 and top >= 0 and left + w <= width and top + h <= height
    assert 0.75 * 0.95 <= w / h <= 4 / 3 * 1.05  # rounding to whole pixels moves the ratio a little
    extreme = max(width / height, height / width) > 4 / 3 / 0.08  # no fitting draw: the centred fallback
    assert extreme or w * h >= 0.08 * width * height * 0.95


def test_crop_box_fallback_is_the_largest_centred_legal_box():
    # a 1000 x 10 strip: no draw fits, so the widest 4:3 box, centred
    assert stream.crop_box(1000, 10, np.random.default_rng(0)) == (493.5, 0.0, 13, 10)


def test_centre_crop_is_the_resize_then_centre_crop_geometry():
    # a 400 x 300 image for size 224: shorter side to 256 (= 224 / 0.875), centre 224, i.e. a
    # centred square of 0.875 x 300 = 262.5 pixels of the original
    assert stream.centre_box(400, 300) == (68.75, 18.75, 262.5, 262.5)
    # white around the centred 140 x 140 box (and 15 pixels beyond, the filter's reach) on black:
    # the validation crop is all white, where squashing the whole image would bring black in
    img = Image.new("RGB", (320, 160))
    img.paste((255, 255, 255), (75, 0, 245, 160))
    out = np.asarray(stream.crop_resize(img, stream.centre_box(320, 160), 16, False))
    assert out.shape == (16, 16, 3) and out.min() >= 250


def test_training_crop_keeps_the_aspect_ratio_of_its_box():
    # a 200 x 100 image whose left half is red: a box of ratio r resized to a square shows the
    # same share of red as the box holds, whatever its scale
    img = Image.new("RGB", (200, 100), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 100, 100))
    for seed in range(20):
        left, top, w, h = stream.crop_box(200, 100, np.random.default_rng(seed))
        red_share = min(max(100 - left, 0), w) / w
        out = np.asarray(stream.crop_resize(img.copy(), (left, top, w, h), 32, False))
        assert abs((out[..., 0] > 127).mean() - red_share) <= 2 / 32 + 1e-9


def test_epochs_are_reproducible_from_the_generator_whatever_the_workers(tmp_path):
    ds = _load(_folder(tmp_path / "f"))
    assert type(ds) is stream.StreamingDataset and (ds.train_size, ds.val_size) == (10, 2)
    one, two, other = _epoch(ds, 1, 0), _epoch(ds, 1, 2), _epoch(ds, 2, 0)
    assert [len(y) for _, y in one] == [5, 5]
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(one, two))
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(one, other))
    x = torch.cat([x for x, _ in one])
    assert x.dtype == torch.float32 and x.shape == (10, 3, 16, 16)
    # training.augment applies on the device after standardising: cutout zeroes (the mean colour)
    cut = torch.cat([x for x, _ in _epoch(ds, 1, 0, Augment(cutout=8))])
    assert (cut == 0).float().mean() > 0.1 and (x == 0).float().mean() < 0.01


def test_workers_decode_in_their_own_processes(tmp_path):
    ds = _load(_folder(tmp_path / "f"))
    seen = []
    for _ in ds.val_batches(1, CPU, workers=2):
        seen.append(len(multiprocessing.active_children()))
    assert seen and max(seen) == 2
    assert all(len(multiprocessing.active_children()) == 0 for _ in ds.val_batches(1, CPU, workers=0))


def test_statistics_and_record_say_what_training_used(tmp_path, monkeypatch):
    monkeypatch.setattr(stream, "STATS_IMAGES", 4)
    ds = _load(_folder(tmp_path / "f"), seed=3)
    prep = ds.preprocessing()
    assert prep["input_shape"] == [3, 16, 16] and prep["channel_order"] == "RGB"
    assert prep["class_names"] == ["ant", "cat"] and prep["streamed"] is True
    assert prep["train_crop"]["scale"] == [0.08, 1.0] and prep["train_crop"]["ratio"] == [0.75, 4 / 3]
    assert prep["val_crop"] == {
        "kind": "resize the shorter side to size / crop_fraction, then centre crop size x size",
        "resize_shorter_side_to": 18.286,
        "crop_fraction": 0.875,
    }
    assert prep["mean_std_from"].startswith("4 training images") and ds.stats_images == 4
    json.dumps(prep)
    # the statistics are those of the validation crops of the 4 chosen training images
    order = np.sort(np.random.default_rng(3).permutation(ds.train_size)[:4])
    crops = torch.stack([stream.Decode(ds.train, order, 16, False, None)[i][0] for i in range(4)]).double()
    assert np.allclose(ds.mean, crops.mean(dim=(0, 2, 3))) and np.allclose(
        ds.std, crops.std(dim=(0, 2, 3), correction=0)
    )
    # standardised validation batches from those statistics
    x = torch.cat([x for x, _ in ds.val_batches(4, CPU)])
    raw = torch.stack([stream.Decode(ds.val, np.arange(2), 16, False, None)[i][0] for i in range(2)])
    assert torch.allclose(
        x, (raw.float() - torch.tensor(ds.mean).view(1, 3, 1, 1)) / torch.tensor(ds.std).view(1, 3, 1, 1)
    )


def test_pickles_paths_not_pixels(tmp_path):
    small, large = (
        _load(_folder(tmp_path / "s", 30, (20, 20))),
        _load(_folder(tmp_path / "l", 30, (400, 500))),
    )
    assert len(pickle.dumps(large)) == len(pickle.dumps(small)) < 3000
    assert pickle.loads(pickle.dumps(large)) == large


def test_auto_streams_above_the_threshold_and_gray_works(tmp_path, monkeypatch):
    root = _folder(tmp_path / "f")
    params = {"root": str(root), "size": 16, "grayscale": True}
    assert type(data.load("imagefolder", params)) is data.Dataset
    monkeypatch.setattr(
        "nas.training.imagefolder.STREAM_GB", 6 * 2 * 16 * 16 / 1e9 * 0.99
    )  # just under the decoded size
    ds = data.load("imagefolder", params)
    assert type(ds) is stream.StreamingDataset and ds.input_shape == (1, 16, 16)
    assert next(ds.val_batches(2, CPU))[0].shape == (2, 1, 16, 16)


def test_bad_input_is_one_line_naming_field_and_file(tmp_path):
    root = _folder(tmp_path / "f")
    with pytest.raises(UserError, match=r"^exp.yaml: dataset.params.size: required when streaming"):
        data.load("imagefolder", {"root": str(root), "stream": "true"}, "exp.yaml")
    (root / "empty").mkdir()
    with pytest.raises(UserError, match=r"dataset.params.root: class folder '.*empty' has no images"):
        _load(root)
    (root / "empty").rmdir()
    with pytest.raises(
        UserError, match=r"dataset.params.stream: expected str in \['auto', 'true', 'false'\]"
    ):
        _load(root, stream="yes")
    # a corrupt image met by a worker mid-epoch: a clear error naming the file
    ds = _load(root)
    broken = Path(ds.train.root) / ds.train.names[0]
    broken.write_bytes(b"\xff\xd8 not a jpeg")
    with pytest.raises(UserError) as err:
        _epoch(ds, 0, 2)
    assert str(err.value).startswith("dataset.params.root: cannot read image '") and broken.name in str(
        err.value
    )
    assert "\n" not in str(err.value)


def test_unreadable_files_are_refused_before_training_all_named_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(stream, "SAY_EVERY", 0.0)
    root = _folder(tmp_path / "f", n=6)
    broken = [root / "cat" / f"{i}.jpg" for i in range(3)] + [root / "ant" / f"{i}.jpg" for i in range(4)]
    for path in broken:
        path.write_bytes(path.read_bytes()[:200])  # truncated: the header reads, the pixels do not
    with pytest.raises(UserError) as err:
        _load(root)
    line = str(err.value)
    assert line.startswith(
        "exp.yaml: dataset.params.root: 7 of 12 images cannot be decoded: cannot read image '"
    )
    assert line.count("cannot read image '") == stream.SHOWN_BAD and line.count("; and 2 more.") == 1
    assert "dataset.params.verify: false" in line and "\n" not in line
    progress = capsys.readouterr().err
    assert "checking that 12 images decode: " in progress and "s left" in progress
    # verify: false skips the check: the first unreadable file met (here by the mean/std sample,
    # else by a worker during training) stops with one line naming it alone
    with pytest.raises(UserError, match=r"^exp.yaml: dataset.params.root: cannot read image '") as err:
        _load(root, verify=False)
    assert "images cannot be decoded" not in str(err.value)


def test_an_unreadable_validation_file_names_val_root(tmp_path):
    root, val = _folder(tmp_path / "f", n=2), _folder(tmp_path / "v", n=2)
    (val / "ant" / "1.jpg").write_bytes(b"")
    with pytest.raises(
        UserError, match=r"dataset.params.val_root: 1 of 8 images cannot be decoded: .*1\.jpg"
    ):
        _load(root, val_root=str(val))


def test_the_image_check_benchmark_runs():
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "image_check.py"), "--quick"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("40 JPEGs of 500 x 375") and len(lines) == 4
    assert all("ms/image" in line for line in lines[1:]) and "x full decode" in lines[2]


MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys, torch
    from nas.training import datasets, stream
    from nas.training.augment import Augment
    stream.STATS_IMAGES = 64
    ds = datasets.load("imagefolder", {"root": sys.argv[1], "size": 32, "stream": "true", "val_fraction": 0.1})
    gen = torch.Generator().manual_seed(0)
    seen = sum(len(y) for _, y in ds.train_batches(32, gen, Augment(), torch.device("cpu"), 2))
    seen += sum(len(y) for _, y in ds.val_batches(64, torch.device("cpu"), 2))
    rss = [resource.getrusage(who).ru_maxrss * 1024 for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    print(json.dumps({"kind": type(ds).__name__, "seen": seen, "self": rss[0], "children": rss[1]}))
    """
)


@pytest.mark.slow
def test_memory_stays_flat_on_a_folder_of_several_gigabytes(tmp_path):
    # one smooth 2400 x 1800 JPEG hard-linked 1,600 times: 20.7 GB decoded, a few MB on disk
    ramp = np.linspace(0, 255, 2400, dtype=np.float32)
    pixels = np.stack([np.add.outer(ramp[:1800] * 0.5, ramp * 0.5)] * 3, axis=-1).astype(np.uint8)
    source = tmp_path / "one.jpg"
    Image.fromarray(pixels).save(source, quality=85)
    for c in range(4):
        (tmp_path / "f" / f"c{c}").mkdir(parents=True)
        for i in range(400):
            os.link(source, tmp_path / "f" / f"c{c}" / f"{i}.jpg")
    decoded = 1600 * 2400 * 1800 * 3
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(tmp_path / "f")],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["kind"] == "StreamingDataset" and got["seen"] == 1600
    peak = got["self"] + 2 * got["children"]  # bounds the tree: the process and 2 workers at their largest
    seen = f"decoded {decoded / 1e9:.1f} GB; peak RSS {got['self'] / 1e6:.0f} MB + 2 x {got['children'] / 1e6:.0f} MB"
    print(seen)
    # resident sizes swing by a few hundred MB with the kernel's huge pages; loading the folder
    # would take the whole decoded size, streaming stays within a small, fixed share of it
    assert peak < decoded / 8, seen

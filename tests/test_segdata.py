"""Segmentation data: the synthetic set, the folder layouts (plain, VOC, Cityscapes, CamVid), mask
checks refused in one line naming the file, and joint augmentation keeping image and mask aligned."""

import numpy as np
import pytest
import torch
from PIL import Image

from blocks.errors import UserError
from nas.training import datasets
from nas.training.jointaug import JointAugment
from nas.training.masks import voc_palette

S = 16  # side of every test image


def _png(path, array, mode=None, palette=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(np.asarray(array, dtype=np.uint8), mode)
    if palette is not None:
        img.putpalette([v for rgb in palette for v in rgb])
    img.save(path)


def _image(seed, size=S):
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def _mask(seed, classes=3, size=S):
    return np.random.default_rng(seed + 1000).integers(0, classes, (size, size), dtype=np.uint8)


def _folder(root, n=5, classes=3):
    for i in range(n):
        _png(root / "images" / f"im{i}.png", _image(i))
        _png(root / "masks" / f"im{i}.png", _mask(i, classes))
    return root


def test_synthetic_is_seeded_and_holds_thin_structures():
    a = datasets.load("segsynthetic", {"num_samples": 8, "size": S, "seed": 3})
    b = datasets.load("segsynthetic", {"num_samples": 8, "size": S, "seed": 3})
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_val, b.y_val)
    assert a.x_train.shape == (6, 3, S, S) and a.y_train.shape == (6, S, S) and a.val_size == 2
    assert a.num_classes == 4 and a.class_names == ("background", "line", "ring", "blob")
    counts = torch.bincount(torch.cat([a.y_train, a.y_val]).flatten().long(), minlength=4)
    assert all(counts > 0) and counts[0] > counts[1:].sum()  # thin structures on a mostly empty field
    binary = datasets.load("segsynthetic", {"num_samples": 8, "size": S, "classes": 2, "seed": 3})
    assert torch.equal(binary.y_train, a.y_train.clamp(max=1))
    assert datasets.declared("segsynthetic", {"size": 24}) == ((3, 24, 24), 4)


def test_batches_are_standardised_images_with_int64_masks():
    ds = datasets.load("segsynthetic", {"num_samples": 10, "size": S})
    gen = torch.Generator().manual_seed(0)
    batches = list(ds.train_batches(4, gen, datasets.Augment(), torch.device("cpu")))
    assert [len(y) for _, y in batches] == [4, 4]  # 8 training images (2 of 10 held out)
    x, y = batches[0]
    assert x.dtype == torch.float32 and y.dtype == torch.int64 and y.shape == (4, S, S)
    ((xv, yv),) = list(ds.val_batches(8, torch.device("cpu")))
    assert torch.equal(yv, ds.y_val.long())
    mean = torch.tensor(ds.mean).view(1, 3, 1, 1)
    std = torch.tensor(ds.std).view(1, 3, 1, 1)
    assert torch.allclose(xv, (ds.x_val.float() - mean) / std)


def test_plain_folder_reads_pairs_and_holds_out_a_split(tmp_path):
    ds = datasets.load("segfolder", {"root": str(_folder(tmp_path)), "val_fraction": 0.4, "seed": 1})
    assert ds.train_size == 3 and ds.val_size == 2 and ds.num_classes == 3
    masks = {bytes(_mask(i)) for i in range(5)}
    assert {bytes(m.numpy()) for m in torch.cat([ds.y_train, ds.y_val])} == masks
    small = datasets.load(
        "segfolder", {"root": str(tmp_path), "size": 8, "classes": 4, "class_names": list("abcd")}
    )
    assert small.input_shape == (3, 8, 8) and small.num_classes == 4 and small.class_names == tuple("abcd")


@pytest.mark.parametrize(
    "spoil, message",
    [
        (
            lambda r: _png(r / "masks" / "im2.png", _mask(2, size=8)),
            "mask '{r}/masks/im2.png' is 8x8 where its image is 16x16",
        ),
        (
            lambda r: (r / "masks" / "im1.png").unlink(),
            "image '{r}/images/im1.png' has no mask 'im1.*' in '{r}/masks'",
        ),
        (
            lambda r: _png(r / "masks" / "im0.png", np.full((S, S), 7)),
            "mask '{r}/masks/im0.png' has label 7; legal: 0..2 or 255 (ignored)",
        ),
        (
            lambda r: _png(r / "masks" / "im3.png", np.zeros((S, S, 3))),
            "mask '{r}/masks/im3.png' holds colours; legal: an index (palette or gray) PNG",
        ),
    ],
)
def test_bad_folders_are_refused_in_one_line_naming_the_file(tmp_path, spoil, message):
    root = _folder(tmp_path)
    spoil(root)
    with pytest.raises(UserError) as err:
        datasets.load("segfolder", {"root": str(root), "classes": 3})
    assert str(err.value).endswith(message.format(r=root))
    assert "\n" not in str(err.value)


def test_rgb_masks_map_through_the_palette_or_are_refused(tmp_path):
    root = _folder(tmp_path)
    pal = voc_palette()
    for i in range(5):
        _png(root / "masks" / f"im{i}.png", np.array(pal, dtype=np.uint8)[_mask(i)])
    ds = datasets.load("segfolder", {"root": str(root), "palette": "voc", "val_fraction": 0.4})
    assert {bytes(m.numpy()) for m in torch.cat([ds.y_train, ds.y_val])} == {
        bytes(_mask(i)) for i in range(5)
    }
    _png(root / "masks" / "im4.png", np.full((S, S, 3), 7))
    with pytest.raises(UserError, match=r"im4.png' has colour \(7, 7, 7\), which the palette does not map"):
        datasets.load("segfolder", {"root": str(root), "palette": "voc"})


def test_voc_layout_keeps_the_border_ignored(tmp_path):
    root = tmp_path / "VOCdevkit" / "VOC2012"
    for split, ids in (("train", ["a", "b"]), ("val", ["c"])):
        (root / "ImageSets" / "Segmentation").mkdir(parents=True, exist_ok=True)
        (root / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("\n".join(ids) + "\n")
        for k, i in enumerate(ids):
            (root / "JPEGImages").mkdir(exist_ok=True)
            Image.fromarray(_image(k)).save(root / "JPEGImages" / f"{i}.jpg")
            mask = _mask(k, 21)
            mask[0] = 255
            _png(root / "SegmentationClass" / f"{i}.png", mask, "P", voc_palette())
    ds = datasets.load("voc", {"root": str(tmp_path)})
    assert ds.train_size == 2 and ds.val_size == 1 and ds.num_classes == 21
    assert ds.class_names[15] == "person" and ds.palette[1] == (128, 0, 0)
    assert (ds.y_train[:, 0] == 255).all() and torch.equal(
        ds.y_train[0, 1:], torch.from_numpy(_mask(0, 21)[1:])
    )


def test_cityscapes_label_ids_become_train_ids(tmp_path):
    ids = np.array([[7, 26, 0, 33]] * 4, dtype=np.uint8)
    for split in ("train", "val"):
        _png(
            tmp_path / "leftImg8bit" / split / "aachen" / "aachen_000000_000019_leftImg8bit.png", _image(0, 4)
        )
        _png(tmp_path / "gtFine" / split / "aachen" / "aachen_000000_000019_gtFine_labelIds.png", ids)
    ds = datasets.load("cityscapes", {"root": str(tmp_path)})
    assert ds.num_classes == 19 and ds.y_val[0, 0].tolist() == [0, 13, 255, 18]
    _png(tmp_path / "gtFine" / "val" / "aachen" / "aachen_000000_000019_gtFine_labelIds.png", ids + 10)
    with pytest.raises(UserError, match=r"labelIds.png' has label 36; legal: 0..18 or 255"):
        datasets.load("cityscapes", {"root": str(tmp_path)})


def test_camvid_unlabelled_is_ignored(tmp_path):
    for split in ("train", "val"):
        for i in range(2):
            _png(tmp_path / split / f"f{i}.png", _image(i, 4))
            _png(tmp_path / f"{split}annot" / f"f{i}.png", np.full((4, 4), 11 if i else 3))
    ds = datasets.load("camvid", {"root": str(tmp_path)})
    assert (
        ds.num_classes == 11
        and ds.y_train[0].unique().tolist() == [3]
        and ds.y_train[1].unique().tolist() == [255]
    )


def test_missing_root_names_the_field():
    with pytest.raises(UserError, match=r"^dataset: dataset.params.root: no such directory '/nonexistent'$"):
        datasets.load("voc", {"root": "/nonexistent"})


def _aligned(n=32):
    """Images whose every channel equals their mask, so a joint transform keeps them equal."""
    y = torch.randint(0, 5, (n, S, S), generator=torch.Generator().manual_seed(0))
    return y.float()[:, None].repeat(1, 3, 1, 1), y


def test_joint_augment_off_returns_the_batch_itself():
    x, y = _aligned()
    gen = torch.Generator().manual_seed(0)
    state = gen.get_state()
    assert JointAugment().apply(x, y, gen) == (x, y) and torch.equal(gen.get_state(), state)


def test_joint_crop_and_flip_move_image_and_mask_alike():
    x, y = _aligned()
    xa, ya = JointAugment(crop=10, hflip=True).apply(x, y, torch.Generator().manual_seed(1))
    assert xa.shape == (32, 3, 10, 10) and ya.shape == (32, 10, 10)
    assert torch.equal(xa[:, 0].round().long(), ya)  # whole-pixel offsets at scale 1: exact copies
    flipped = 0
    for img, crop in zip(y, ya):
        spots = [
            (dy, dx, f)
            for dy in range(7)
            for dx in range(7)
            for f in (False, True)
            if torch.equal(crop, (img.flip(1) if f else img)[dy : dy + 10, dx : dx + 10])
        ]
        assert spots
        flipped += spots[0][2]
    assert 5 < flipped < 27


def test_joint_padding_is_ignored_in_the_mask_and_zero_in_the_image():
    x, y = _aligned(8)
    xa, ya = JointAugment(crop=24).apply(x + 1, y, torch.Generator().manual_seed(2))
    outside = ya == 255
    assert int(outside.sum(dim=(1, 2)).min()) == 24 * 24 - S * S  # every image padded by 320 pixels
    assert xa[:, 0][outside].abs().max() < 1e-4 and torch.equal(
        xa[:, 0][~outside].round().long() - 1, ya[~outside]
    )


def test_joint_scale_keeps_mask_labels_nearest():
    x, y = _aligned(8)
    xa, ya = JointAugment(scale_min=0.5, scale_max=2.0, crop=S).apply(x, y, torch.Generator().manual_seed(3))
    assert set(ya.unique().tolist()) <= {0, 1, 2, 3, 4, 255} and xa.shape == (8, 3, S, S)
    # doubled and cropped to the doubled size: each label becomes a 2 x 2 block, nearest-neighbour
    _, doubled = JointAugment(scale_min=2.0, scale_max=2.0, crop=2 * S).apply(x, y, torch.Generator())
    assert torch.equal(doubled, y.repeat_interleave(2, 1).repeat_interleave(2, 2))


def test_a_set_too_large_for_memory_is_refused_before_decoding(tmp_path, monkeypatch):
    from nas.training import segdata

    monkeypatch.setattr(segdata, "MEMORY_SHARE", 1e-12)
    with pytest.raises(
        UserError, match=r"dataset.params.size: 4 images of 8x8 take 0.0 GB decoded, over 0% of"
    ):
        datasets.load("segfolder", {"root": str(_folder(tmp_path)), "size": 8})


def test_val_root_validates_and_image_only_augmentation_is_refused(tmp_path):
    ds = datasets.load(
        "segfolder", {"root": str(_folder(tmp_path / "a", 4)), "val_root": str(_folder(tmp_path / "b", 2))}
    )
    assert ds.train_size == 4 and ds.val_size == 2 and torch.equal(ds.y_val[1], torch.from_numpy(_mask(1)))
    with pytest.raises(
        UserError, match=r"^training.augment: augments images alone; segmentation sets take scale"
    ):
        next(ds.train_batches(2, torch.Generator(), datasets.Augment(hflip=True), torch.device("cpu")))


def test_a_streamed_set_gives_the_batches_the_in_memory_one_gives(tmp_path):
    import pickle

    root = str(_folder(tmp_path, 6))
    params = {"root": root, "size": 12, "classes": 3, "val_fraction": 0.34, "seed": 2}
    held = datasets.load("segfolder", {**params, "stream": "false"})
    flow = datasets.load("segfolder", {**params, "stream": "true"})
    assert type(flow).__name__ == "StreamedSegDataset" and len(pickle.dumps(flow)) < 2000
    assert (flow.train_size, flow.val_size, flow.input_shape) == (held.train_size, held.val_size, (3, 12, 12))
    assert flow.mean == pytest.approx(held.mean) and flow.std == pytest.approx(held.std)
    cpu = torch.device("cpu")
    for (xa, ya), (xb, yb) in zip(held.val_batches(4, cpu), flow.val_batches(4, cpu, workers=1), strict=True):
        assert torch.allclose(xa, xb) and torch.equal(ya, yb)
    order = [torch.Generator().manual_seed(5) for _ in range(2)]
    mem, st = (list(d.train_batches(3, g, datasets.Augment(), cpu)) for d, g in zip((held, flow), order))
    assert all(torch.allclose(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(mem, st, strict=True))
    assert (
        flow.preprocessing()["streamed"]
        and flow.preprocessing()["palette"] == held.preprocessing()["palette"]
    )


def test_streaming_refuses_bad_pairs_naming_the_file(tmp_path):
    root, val = _folder(tmp_path / "a"), _folder(tmp_path / "b", 2)
    base = {"root": str(root), "size": 8, "stream": "true"}
    with pytest.raises(UserError, match=r"^dataset: dataset.params.classes: required when streaming"):
        datasets.load("segfolder", base)
    with pytest.raises(UserError, match=r"^dataset: dataset.params.size: required when streaming"):
        datasets.load("segfolder", {**base, "size": None, "classes": 3})
    _png(val / "masks" / "im1.png", np.full((S, S), 9))
    flow = datasets.load("segfolder", {**base, "classes": 3, "val_root": str(val)})  # met when decoded
    with pytest.raises(UserError, match=r"b/masks/im1.png' has label 9; legal: 0..2 or 255 \(ignored\)$"):
        list(flow.val_batches(2, torch.device("cpu")))
    _png(root / "masks" / "im0.png", np.full((S, S), 9))  # among the images mean and std come from
    with pytest.raises(
        UserError, match=r"^dataset: dataset.params.root: mask '.*a/masks/im0.png' has label 9"
    ):
        datasets.load("segfolder", {**base, "classes": 3})
    _png(root / "masks" / "im1.png", _mask(1, size=4))  # found from the headers, before any decode
    with pytest.raises(UserError, match=r"mask '.*a/masks/im1.png' is 4x4 where its image is 16x16$"):
        datasets.load("segfolder", {**base, "classes": 3})


def test_gray_alpha_and_16_bit_masks_read_as_labels(tmp_path):
    from nas.training.masks import read_mask

    la = np.stack([_mask(0), np.full((S, S), 255, np.uint8)], axis=-1)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    assert np.array_equal(read_mask(tmp_path / "la.png", "root", (S, S), 3), _mask(0))
    Image.fromarray(_mask(1).astype(np.uint16) * 200).save(tmp_path / "wide.png")
    with pytest.raises(UserError, match=r"^root: mask '.*wide.png' has label 400; legal: 0..255$"):
        read_mask(tmp_path / "wide.png", "root", (S, S), 3)
    Image.fromarray(_mask(1).astype(np.uint16)).save(tmp_path / "narrow.png")
    assert np.array_equal(read_mask(tmp_path / "narrow.png", "root", (S, S), 3), _mask(1))

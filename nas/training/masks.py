"""Segmentation masks: reading one (index PNG, palette PNG, or RGB colours mapped through a
palette), the label maps of the known layouts (Cityscapes' labelIds to its 19 train ids, CamVid's
Unlabelled to ignore), the VOC colour palette, and the checks that refuse a bad mask in one line
naming the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from blocks.errors import ParamError
from nas.training.pixels import read_image
from nas.training.segmetrics import IGNORE_INDEX


def voc_palette(n: int = 256) -> list[tuple[int, int, int]]:
    """The PASCAL VOC colour of each class index: the index's bits spread over R, G and B from the
    top bit down (class 1 is (128, 0, 0), class 255, the border, (224, 224, 192))."""
    out = []
    for i in range(n):
        rgb, c = [0, 0, 0], i
        for shift in range(7, -1, -1):
            for ch in range(3):
                rgb[ch] |= ((c >> ch) & 1) << shift
            c >>= 3
        out.append((rgb[0], rgb[1], rgb[2]))
    return out


VOC_CLASSES = [
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
]

# Cityscapes: labelId -> trainId for the 19 evaluated classes; every other id is ignored
CITYSCAPES_TRAIN_IDS = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
    23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18,
}  # fmt: skip
CITYSCAPES_CLASSES = [
    "road",
    "sidewalk",
    "building",
    "wall",
    "fence",
    "pole",
    "traffic_light",
    "traffic_sign",
    "vegetation",
    "terrain",
    "sky",
    "person",
    "rider",
    "car",
    "truck",
    "bus",
    "train",
    "motorcycle",
    "bicycle",
]
CITYSCAPES_PALETTE = [
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153), (153, 153, 153),
    (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60),
    (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
]  # fmt: skip
CITYSCAPES_IDS = 34  # label ids 0..33 in *_gtFine_labelIds.png
# CamVid as SegNet ships it (trainannot/...): 11 classes, 11 = Unlabelled
CAMVID_CLASSES = [
    "sky",
    "building",
    "pole",
    "road",
    "pavement",
    "tree",
    "sign_symbol",
    "fence",
    "car",
    "pedestrian",
    "bicyclist",
]


def lookup(mapping: dict[int, int], known: int, ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """A 256-entry table sending each stored label to its class (`mapping`), every other label
    below `known` (the layout's ids) to ignore; labels from `known` up stay, for the class check."""
    table = np.arange(256, dtype=np.uint8)
    table[:known] = ignore_index
    for src, dst in mapping.items():
        table[src] = dst
    return table


def _colours(pixels: np.ndarray, palette: list[tuple[int, int, int]], path: Path, field: str) -> np.ndarray:
    """An RGB mask (H, W, 3) as class indices: the colour's position in `palette`; a colour that is
    not there is refused, naming the file and the colour."""
    keys = (pixels[..., 0].astype(np.int64) << 16) | (pixels[..., 1].astype(np.int64) << 8) | pixels[..., 2]
    codes = {(r << 16) | (g << 8) | b: i for i, (r, g, b) in enumerate(palette)}
    found, inverse = np.unique(keys, return_inverse=True)
    missing = [int(k) for k in found if int(k) not in codes]
    if missing:
        k = missing[0]
        raise ParamError(
            field,
            f"mask '{path}' has colour {(k >> 16, (k >> 8) & 255, k & 255)}, which the palette does not "
            f"map; legal: the {len(palette)} palette colours",
        )
    return np.array([codes[int(k)] for k in found], dtype=np.uint8)[inverse].reshape(keys.shape)


def read_mask(
    path: Path,
    field: str,
    image_size: tuple[int, int],
    classes: int | None,
    ignore_index: int = IGNORE_INDEX,
    table: np.ndarray | None = None,
    palette: list[tuple[int, int, int]] | None = None,
) -> np.ndarray:
    """One mask (H, W) uint8 of class indices, checked against its image's (width, height): a
    palette PNG or gray PNG gives its indices (through `table` when the layout maps them), an RGB
    one its colours' places in `palette`. Refused in one line naming the file: a size other than
    the image's, a colour mask without a palette, a label outside 0..classes-1 and not ignore."""
    raw = read_image(path, field, lambda img: img)
    if raw.shape[1::-1] != image_size:
        raise ParamError(
            field,
            f"mask '{path}' is {raw.shape[1]}x{raw.shape[0]} where its image is {image_size[0]}x{image_size[1]}",
        )
    if raw.ndim == 3 and raw.shape[2] == 2:  # gray with alpha: the gray values are the labels
        raw = raw[..., 0]
    if raw.ndim == 3:
        if palette is None:
            raise ParamError(field, f"mask '{path}' holds colours; legal: an index (palette or gray) PNG")
        mask = _colours(raw[..., :3], palette, path, field)
    else:
        if raw.max(initial=0) > 255:
            raise ParamError(field, f"mask '{path}' has label {int(raw.max())}; legal: 0..255")
        mask = raw.astype(np.uint8)
    if table is not None:
        mask = table[mask]
    if classes is not None:
        bad = (mask >= classes) & (mask != ignore_index)
        if bad.any():
            raise ParamError(
                field,
                f"mask '{path}' has label {int(mask[bad][0])}; legal: 0..{classes - 1} or {ignore_index} (ignored)",
            )
    return mask

"""`nas predict`: run an exported network on one image file, prepared as its training prepared
images (the preprocessing record in its spec.yaml: channels, size, mean and std). A segmentation
network's per-pixel classes are written as a palette PNG in the record's colours, at the image's
own size (nearest neighbour), for a person to look at; a classifier's top class is returned."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from blocks import yamlio
from blocks.errors import ArgError, UserError, literal
from blocks.spec import ArchSpec, from_dict
from nas.exporting.formats import FILES
from nas.records.weights import load_weights
from nas.training.pixels import read_image

OUT = {"out": "`out`"}  # the mask's argument, as a Python caller reads it

RECORD_KEYS = ("input_shape", "mean", "std", "class_names")


@dataclass(frozen=True)
class Prediction:
    """What `predict` found: the task, and either the mask file with each class's share of its
    pixels (segmentation) or the top class with its probability (classification)."""

    task: str
    image: Path
    out: Path | None = None
    shares: dict[str, float] = field(default_factory=dict)  # class name -> share of the mask's pixels
    label: str = ""
    probability: float = 0.0


def read_export(source: str | Path) -> tuple[ArchSpec, dict[str, Any], Path]:
    """The spec, preprocessing record and weights file of an export folder (or of its spec.yaml,
    the weights beside it); each missing piece is one UserError naming the file."""
    path = Path(source)
    spec_file = path / FILES["spec"] if path.is_dir() else path
    if not spec_file.is_file():
        raise UserError(f"{source}: no such export folder or spec file (an export holds {FILES['spec']})")
    body = yamlio.read(spec_file)
    if not isinstance(body, dict) or not isinstance(body.get("spec"), dict):
        raise UserError(f"{spec_file}: not a spec file of an export (no 'spec' mapping)")
    record = body.get("preprocessing")
    if not isinstance(record, dict) or any(k not in record for k in RECORD_KEYS):
        raise UserError(
            f"{spec_file}: no preprocessing record with {list(RECORD_KEYS)}; export the model "
            "from its run folder, whose dataset says how images were prepared"
        )
    if not str(record.get("pixels", "")).startswith("uint8 values 0..255"):
        raise UserError(
            f"{spec_file}: trained on '{record.get('dataset')}', whose pixels are {record.get('pixels')!r}, "
            "not decoded image files; legal: a model trained on images (imagefolder, cifar10, a segmentation set)"
        )
    weights = spec_file.with_name(FILES["weights"])
    if not weights.is_file():
        raise UserError(f"{spec_file}: no {FILES['weights']} beside it; export with trained weights")
    return from_dict(body["spec"], str(spec_file)), record, weights


def prepare(image: str | Path, record: dict[str, Any]) -> tuple[torch.Tensor, tuple[int, int]]:
    """The image as the network's input (1, C, H, W): converted to the record's channels, resized
    bilinear to its size, standardised with its mean and std; and the image's own (width, height)."""
    from PIL import Image

    channels, height, width = record["input_shape"]
    size: list[tuple[int, int]] = []

    def fit(img: Any) -> Any:
        size.append(img.size)
        img = img.convert("L" if channels == 1 else "RGB")
        return img.resize((width, height), Image.Resampling.BILINEAR)

    path = Path(image)
    if not path.is_file():
        raise UserError(f"{image}: no such image file")
    pixels = read_image(path, "image", fit)
    x = torch.from_numpy(pixels.reshape(height, width, channels).transpose(2, 0, 1).copy()).float()
    mean = torch.tensor(record["mean"], dtype=torch.float32).view(-1, 1, 1)
    std = torch.tensor(record["std"], dtype=torch.float32).view(-1, 1, 1)
    return ((x - mean) / std)[None], size[0]


def segment(model: nn.Module, record: dict[str, Any], image: str | Path) -> np.ndarray:
    """Each pixel's class (H, W) uint8 at the image's own size: the network's argmax at its input
    size, resized nearest-neighbour."""
    from PIL import Image

    x, (width, height) = prepare(image, record)
    with torch.no_grad():
        classes = model.eval()(x).argmax(1)[0].to(torch.uint8).numpy()
    return np.asarray(Image.fromarray(classes).resize((width, height), Image.Resampling.NEAREST))


def write_mask(mask: np.ndarray, palette: list[list[int]], out: str | Path) -> Path:
    """The mask as a palette PNG: pixel values are class indices, shown in the palette's colours."""
    from PIL import Image

    img = Image.fromarray(mask, mode="P")
    img.putpalette([int(v) for colour in palette for v in colour])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out)
    return out


def predict(source: str | Path, image: str | Path, out: str | Path | None = None) -> Prediction:
    """Run the export `source` on `image`: a segmentation network's mask written to `out` (required
    for one), a classifier's top class returned."""
    spec, record, weights = read_export(source)
    model = load_weights(spec, weights)
    names = record["class_names"]
    if record.get("task") == "segmentation":
        if out is None:
            raise ArgError(
                "", f"{literal(source)}: a segmentation network; give {{out}} MASK.png for its mask", OUT
            )
        mask = segment(model, record, image)
        path = write_mask(mask, record["palette"], out)
        counts = np.bincount(mask.ravel(), minlength=len(names))
        shares = {names[i]: counts[i] / mask.size for i in np.flatnonzero(counts)}
        return Prediction("segmentation", Path(image), path, shares)
    if out is not None:
        raise ArgError("", f"{literal(source)}: a classifier has no mask to write; leave out {{out}}", OUT)
    x, _ = prepare(image, record)
    with torch.no_grad():
        probs = torch.softmax(model.eval()(x)[0], 0)
    top = int(probs.argmax())
    return Prediction("classification", Path(image), label=names[top], probability=float(probs[top]))

"""How stored pixels become network input, shared by in-memory and streamed datasets: decoding an
image file, per-channel statistics, the standardisation applied per batch on its device, and the
record of all of it that exports and retraining read."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from blocks.errors import ParamError

PILLOW_ERRORS = (OSError, ValueError, EOFError, SyntaxError)  # what Pillow's plugins raise on a bad file


def read_image(path: Path, field: str, fit: Callable[[Any], Any]) -> np.ndarray:
    """One image's pixels (H, W[, C]) uint8 after `fit` (given the opened Pillow image, returns it
    in its final mode and size); a corrupt file or one too large to decode safely (Pillow's decompression-bomb
    limit, a warning there counting as an error) is named with why."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                return np.asarray(fit(img))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ParamError(field, f"image '{path}' is too large to decode safely: {err}") from None
    except PILLOW_ERRORS as err:
        raise ParamError(field, f"cannot read image '{path}': {err}") from None


def channel_stats(x: torch.Tensor, chunk: int = 1 << 22) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std (population) of (N, C, H, W) images, summed in float64 over pieces
    of at most `chunk` values (whole images, or rows of one image when it alone is larger), so no
    more than `chunk` values exist as float64 at once, whatever the images' count or size."""
    n, c = x.shape[:2]
    flat = x.reshape(n, c, -1)
    pixels = flat.shape[2]
    images, span = max(1, chunk // (c * pixels)), max(1, min(pixels, chunk // c))
    total = torch.zeros(c, dtype=torch.float64)
    squares = torch.zeros(c, dtype=torch.float64)
    for i in range(0, n, images):
        for j in range(0, pixels, span):
            part = flat[i : i + images, :, j : j + span].double()
            total += part.sum(dim=(0, 2))
            squares += part.square().sum(dim=(0, 2))
    count = n * pixels
    mean = total / count
    std = (squares / count - mean.square()).clamp_(min=0).sqrt_() + 1e-8
    return tuple(mean.tolist()), tuple(std.tolist())


def standardiser(mean: tuple[float, ...], std: tuple[float, ...], device: torch.device) -> Callable:
    """A function turning stored pixels, moved to `device`, into float32 (pixels - mean) / std."""
    m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1).to(device)
    s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1).to(device)
    return lambda x: (x.to(device, non_blocking=True).float() - m).div_(s)  # never in place: x may be stored


def record(data: Any, pixels: str) -> dict[str, Any]:
    """The preprocessing record every data source shares: shape, channel order, statistics, classes."""
    channels = data.input_shape[0]
    order = "gray" if channels == 1 else "RGB" if data.name in ("cifar10", "imagefolder") else "as stored"
    return {
        "dataset": data.name,
        "input_shape": list(data.input_shape),
        "layout": "NCHW",
        "channel_order": order,
        "pixels": pixels,
        "mean": list(data.mean),
        "std": list(data.std),
        "standardise": "input = (pixels - mean) / std, per channel",
        "class_names": list(data.class_names) or [str(i) for i in range(data.num_classes)],
    }


def seg_record(data: Any) -> dict[str, Any]:
    """The preprocessing record of a segmentation set, in memory or streamed: the shared one, plus
    the task, the output's form, the classes' colours and the ignored label."""
    pixels = "uint8 values 0..255 as Pillow decodes them (RGB; resized bilinear to size x size when set)"
    if data.name == "segsynthetic":
        pixels = "uint8 values 0..255 (generated)"
    return {
        **record(data, pixels),
        "channel_order": "RGB",
        "task": "segmentation",
        "output": "logits (N, K, H, W); class = argmax over K",
        "palette": [list(c) for c in data.palette],
        "ignore_index": data.ignore_index,
    }

"""What a network is trained to do, declared once per task: what a dataset item holds, the loss,
the metric, and how a row's `error` (lower is better, in percent) comes from it, so that every
analysis (EDFs, KS tests, power, sequential comparison, refine, Optuna, ASHA) reads any task alike.

- classification: an item is an image and one class index; cross-entropy (with the training's
  label smoothing); error = top-1 error.
- segmentation: an item is an image and a mask (H, W) of class indices, `ignore_index` pixels
  counted nowhere; per-pixel cross-entropy; a confusion matrix on the device gives mIoU, pixel
  accuracy, per-class IoU (and Dice for two classes); error = 100 - mIoU.

Auxiliary outputs (a network's training tuple after the main logits) add the same loss, weighted
by the loop's AUX_WEIGHT, whatever the task."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nas.training.segmetrics import IGNORE_INDEX, Confusion


class Top1:
    """Wrong top-1 predictions counted on the device, over `total` items."""

    def __init__(self, total: int, device: torch.device):
        self.total = total
        self.wrong = torch.zeros((), dtype=torch.int64, device=device)

    def add(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        self.wrong += (logits.argmax(1) != target).sum()

    def result(self) -> tuple[float, dict[str, Any]]:
        """Top-1 error in percent (one read of the device) and no further scores."""
        return 100.0 * self.wrong.item() / self.total, {}


class PixelScores(Confusion):
    """The per-pixel confusion matrix; its error is 100 - mIoU in percent."""

    def result(self) -> tuple[float, dict[str, Any]]:
        """100 - mIoU (percent) and the scores: miou, pixel_accuracy, class_iou (and dice), in percent."""
        raw = self.scores()
        scores = {
            k: [100.0 * v for v in val] if isinstance(val, list) else 100.0 * val for k, val in raw.items()
        }
        return 100.0 - scores["miou"], scores


Meter = Top1 | PixelScores


@dataclass(frozen=True)
class Task:
    """One task's declaration (see the module's docstring)."""

    name: str
    item: str  # what a dataset item holds
    metric: str  # what a row's `error` is
    # the loss of one output: (data, label smoothing, reduction) -> criterion
    criterion: Callable[[Any, float, str], nn.Module]
    # a fresh accumulator of the metric: (data, items it will count, device) -> meter
    meter: Callable[[Any, int, torch.device], Meter]
    # how many loss terms a batch's targets add to a summed loss: items, or counted pixels
    counted: Callable[[Any, torch.Tensor], torch.Tensor | int]
    # one item's (input shape, target shape) in training (True) or validation batches
    shapes: Callable[[Any, bool], tuple[tuple[int, ...], tuple[int, ...]]]


def _dense_shapes(shape: tuple[int, ...], crop: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """An image's and its mask's shapes, cropped to crop x crop when training crops."""
    c, h, w = shape
    h, w = (crop, crop) if crop else (h, w)
    return (c, h, w), (h, w)


CLASSIFICATION = Task(
    "classification",
    "an image and its class index",
    "top-1 error, %",
    lambda data, smoothing, reduction: nn.CrossEntropyLoss(label_smoothing=smoothing, reduction=reduction),
    lambda data, total, device: Top1(total, device),
    lambda data, target: len(target),
    lambda data, training: (tuple(data.input_shape), ()),
)
SEGMENTATION = Task(
    "segmentation",
    f"an image and its mask of class indices ({IGNORE_INDEX}: ignored)",
    "100 - mIoU, % (mIoU over the classes seen in labels or predictions)",
    lambda data, smoothing, reduction: nn.CrossEntropyLoss(
        ignore_index=data.ignore_index, label_smoothing=smoothing, reduction=reduction
    ),
    lambda data, total, device: PixelScores(data.num_classes, device, data.ignore_index),
    lambda data, target: (target != data.ignore_index).sum(),
    lambda data, training: _dense_shapes(data.input_shape, data.joint.crop if training else 0),
)
TASKS = {t.name: t for t in (CLASSIFICATION, SEGMENTATION)}


def of(data: Any) -> Task:
    """The task a dataset is for: segmentation sets say so (`task`), every other set classifies."""
    return TASKS[getattr(data, "task", CLASSIFICATION.name)]

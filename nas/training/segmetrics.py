"""Segmentation metrics from one confusion matrix, accumulated on the batch's device with
torch.bincount (no read back per batch): per-class IoU, mIoU, pixel accuracy, and Dice for
binary tasks (as UNeXt reports). Pixels labelled `ignore_index` count nowhere.

A class that appears neither in the labels nor in the predictions has no IoU (NaN) and is
left out of the mean, as mmsegmentation and torchvision's reference scripts do."""

from __future__ import annotations

import math
from typing import Any

import torch

IGNORE_INDEX = 255  # the label of pixels no metric or loss counts (VOC's borders, Cityscapes' void)


def confusion(
    pred: torch.Tensor, target: torch.Tensor, classes: int, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor:
    """The (classes x classes) int64 counts of pixels with true class i (row) predicted j (column);
    `pred` and `target` hold class indices of the same shape."""
    cells = classes * classes
    # ignored pixels go to one extra bin, dropped after counting (cheaper than selecting the others)
    index = torch.where(target == ignore_index, cells, target.long() * classes + pred.long())
    return torch.bincount(index.flatten(), minlength=cells + 1)[:cells].reshape(classes, classes)


class Confusion:
    """A running confusion matrix of logits (N, K, H, W) against masks (N, H, W), on their device."""

    def __init__(self, classes: int, device: torch.device | str, ignore_index: int = IGNORE_INDEX):
        self.classes, self.ignore_index = classes, ignore_index
        self.matrix = torch.zeros(classes, classes, dtype=torch.int64, device=device)

    def add(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        """Count a batch's per-pixel argmax against its mask (`max`'s indices: on the CPU several
        times faster than `argmax` over the channel axis of an NCHW tensor)."""
        self.matrix += confusion(logits.max(1).indices, target, self.classes, self.ignore_index)

    def scores(self) -> dict[str, Any]:
        """The matrix's metrics (one read of the device)."""
        return scores(self.matrix.cpu())


def class_iou(matrix: torch.Tensor) -> list[float]:
    """Each class's intersection over union, TP / (TP + FP + FN); NaN for a class seen nowhere."""
    m = matrix.double()
    tp = m.diag()
    union = m.sum(0) + m.sum(1) - tp
    return [float(t / u) if u > 0 else math.nan for t, u in zip(tp.tolist(), union.tolist())]


def mean_iou(matrix: torch.Tensor) -> float:
    """The mean IoU over the classes that have one (NaN when no pixel was counted)."""
    seen = [v for v in class_iou(matrix) if not math.isnan(v)]
    return sum(seen) / len(seen) if seen else math.nan


def pixel_accuracy(matrix: torch.Tensor) -> float:
    """The share of counted pixels predicted right (NaN when none was counted)."""
    total = int(matrix.sum())
    return int(matrix.diag().sum()) / total if total else math.nan


def dice(matrix: torch.Tensor) -> float:
    """Dice of the foreground (class 1) of a binary task, 2 TP / (2 TP + FP + FN); NaN when the
    foreground appears neither in labels nor predictions."""
    if matrix.shape != (2, 2):
        raise ValueError(f"Dice is for binary tasks; the matrix is {tuple(matrix.shape)}")
    tp, fp, fn = int(matrix[1, 1]), int(matrix[0, 1]), int(matrix[1, 0])
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else math.nan


def scores(matrix: torch.Tensor) -> dict[str, Any]:
    """mIoU, pixel accuracy and per-class IoU of a confusion matrix, in [0, 1]; Dice too for two classes."""
    out: dict[str, Any] = {
        "miou": mean_iou(matrix),
        "pixel_accuracy": pixel_accuracy(matrix),
        "class_iou": class_iou(matrix),
    }
    if matrix.shape == (2, 2):
        out["dice"] = dice(matrix)
    return out

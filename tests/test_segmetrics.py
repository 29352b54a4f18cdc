"""Segmentation metrics on hand-counted masks: confusion matrix, per-class IoU, mIoU, pixel accuracy, Dice."""

import math

import pytest
import torch

from nas.training.segmetrics import Confusion, class_iou, confusion, dice, mean_iou, pixel_accuracy, scores

# a 3 x 4 mask and a prediction; one pixel is ignored (255)
TARGET = torch.tensor([[0, 0, 1, 1], [0, 2, 1, 1], [2, 2, 255, 1]])
PRED = torch.tensor([[0, 1, 1, 1], [0, 2, 2, 1], [2, 0, 0, 1]])


def test_confusion_counts_each_true_predicted_pair_and_skips_ignored():
    m = confusion(PRED, TARGET, 3)
    # rows are true classes, columns predictions; 11 counted pixels (12 less the ignored one)
    assert m.tolist() == [[2, 1, 0], [0, 4, 1], [1, 0, 2]]
    assert int(m.sum()) == 11


def test_iou_miou_and_pixel_accuracy_by_hand():
    m = confusion(PRED, TARGET, 3)
    # class 0: TP 2, FP 1 (true 2), FN 1 -> 2/4; class 1: TP 4, FP 1, FN 1 -> 4/6; class 2: TP 2, FP 1, FN 1 -> 2/4
    assert class_iou(m) == pytest.approx([0.5, 4 / 6, 0.5])
    assert mean_iou(m) == pytest.approx((0.5 + 4 / 6 + 0.5) / 3)
    assert pixel_accuracy(m) == pytest.approx(8 / 11)


def test_a_class_seen_nowhere_has_no_iou_and_is_left_out_of_the_mean():
    m = confusion(torch.tensor([[0, 1]]), torch.tensor([[0, 1]]), 4)
    iou = class_iou(m)
    assert iou[:2] == [1.0, 1.0] and math.isnan(iou[2]) and math.isnan(iou[3])
    assert mean_iou(m) == 1.0


def test_dice_of_a_binary_task_by_hand():
    target = torch.tensor([[1, 1, 0, 0], [1, 0, 0, 255]])
    pred = torch.tensor([[1, 0, 1, 0], [1, 0, 0, 1]])
    m = confusion(pred, target, 2)
    # foreground: TP 2, FP 1, FN 1 -> Dice 4 / 6; the ignored pixel's prediction counts nowhere
    assert dice(m) == pytest.approx(4 / 6)
    out = scores(m)
    assert out["dice"] == pytest.approx(4 / 6) and out["pixel_accuracy"] == pytest.approx(5 / 7)
    assert "dice" not in scores(confusion(PRED, TARGET, 3))


def test_running_matrix_over_batches_equals_the_whole():
    logits = torch.nn.functional.one_hot(PRED, 3).permute(2, 0, 1).float()[None]
    meter = Confusion(3, "cpu")
    meter.add(logits[..., :2], TARGET[None, :, :2])
    meter.add(logits[..., 2:], TARGET[None, :, 2:])
    assert torch.equal(meter.matrix, confusion(PRED, TARGET, 3))
    assert meter.scores()["miou"] == pytest.approx((0.5 + 4 / 6 + 0.5) / 3)

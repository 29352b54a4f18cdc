"""The training loop on a segmentation task: per-pixel loss with ignored pixels, error = 100 - mIoU,
the scores a result carries, auxiliary outputs weighted like classification's."""

import math

import pytest
import torch
from torch import nn

from blocks.errors import UserError
from nas.training import datasets, tasks
from nas.training.config import TrainingConfig
from nas.training.loop import AUX_WEIGHT, _Step, evaluate, fit


class TinySeg(nn.Module):
    """A few convolutions mapping (N, 3, H, W) to logits (N, K, H, W); with `aux`, training returns
    (main, aux) as a network with an auxiliary head does."""

    def __init__(self, classes: int, aux: bool = False):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=2, dilation=2),
        )
        self.head = nn.Conv2d(8, classes, 1)
        self.aux = nn.Conv2d(8, classes, 1) if aux else None

    def forward(self, x):
        f = torch.relu(self.body(x))
        if self.training and self.aux is not None:
            return self.head(f), self.aux(f)
        return self.head(f)


class Constant(nn.Module):
    """Predicts class `k` at every pixel."""

    def __init__(self, classes: int, k: int):
        super().__init__()
        self.classes, self.k = classes, k

    def forward(self, x):
        out = torch.zeros(len(x), self.classes, *x.shape[2:])
        out[:, self.k] = 1
        return out


def _data(**params):
    return datasets.load("segsynthetic", {"num_samples": 24, "size": 16, **params})


def test_evaluate_a_constant_prediction_by_hand():
    data = _data()
    counts = torch.bincount(data.y_val.flatten().long(), minlength=4)
    error, loss, scores = evaluate(Constant(4, 0), data, 8, torch.device("cpu"))
    # class 0 everywhere: IoU_0 = background / all pixels, IoU of each other (present) class 0
    iou0 = counts[0].item() / counts.sum().item()
    assert scores["class_iou"] == pytest.approx([100 * iou0, 0.0, 0.0, 0.0])
    assert scores["miou"] == pytest.approx(100 * iou0 / 4) and error == pytest.approx(100 - 100 * iou0 / 4)
    assert scores["pixel_accuracy"] == pytest.approx(100 * iou0) and "dice" not in scores
    # logits (1, 0, 0, 0): cross-entropy log(e + 3) - 1 on background pixels, log(e + 3) on the others
    wrong = (counts.sum() - counts[0]).item()
    want = (
        counts[0].item() * (math.log(math.e + 3) - 1) + wrong * math.log(math.e + 3)
    ) / counts.sum().item()
    assert loss == pytest.approx(want, rel=1e-5)


def test_ignored_pixels_count_in_neither_loss_nor_metric():
    data = _data(classes=2)
    spoiled = data.y_val.clone()
    spoiled[:, :8] = 255
    masked = type(data)(**{**data.__dict__, "y_val": spoiled})
    kept = data.y_val[:, 8:]
    error, _, scores = evaluate(Constant(2, 1), masked, 8, torch.device("cpu"))
    fg, total = int((kept == 1).sum()), kept.numel()
    # everything predicted foreground: IoU_1 = fg / counted, IoU_0 = 0; Dice = 2 fg / (fg + counted)
    assert scores["class_iou"] == pytest.approx([0.0, 100 * fg / total])
    assert scores["dice"] == pytest.approx(100 * 2 * fg / (fg + total))
    assert error == pytest.approx(100 - 50 * fg / total)


def test_a_segmentation_network_trains_and_reports_miou():
    torch.manual_seed(0)
    data = _data(hflip=True, crop=12, scale=[0.75, 1.25])
    cfg = TrainingConfig(epochs=2, batch_size=6, lr=0.05)
    seen = []
    result = fit(TinySeg(4), data, cfg, seed=1, on_epoch=lambda e, m: seen.append(m))
    assert result.epochs == 2 and len(result.val_errors) == 2 and len(result.train_errors) == 2
    s = result.scores
    assert set(s) == {"miou", "pixel_accuracy", "class_iou"} and len(s["class_iou"]) == 4
    assert result.error == pytest.approx(100 - s["miou"])
    assert s["miou"] == pytest.approx(sum(s["class_iou"]) / 4)
    assert seen[-1]["miou"] == s["miou"] and seen[-1]["val_error"] == result.error
    assert result.losses[-1] < result.losses[0]
    assert tasks.of(data) is tasks.SEGMENTATION and tasks.of(datasets.load("digits")) is tasks.CLASSIFICATION


def test_auxiliary_logits_add_their_weighted_per_pixel_loss():
    data = _data()
    torch.manual_seed(0)
    net = TinySeg(4, aux=True).train()
    ce = tasks.SEGMENTATION.criterion(data, 0.0, "mean")
    step = _Step(net, torch.optim.SGD(net.parameters(), lr=0.0), None, ce, None, False)
    x, y = data.x_train[:2].float(), data.y_train[:2].long()
    y[:, 0] = 255
    _, loss = step.forward(x, y)
    main, aux = net(x)
    torch.testing.assert_close(loss, ce(main, y) + AUX_WEIGHT * ce(aux, y))
    assert ce(main, y).item() == pytest.approx(
        nn.functional.cross_entropy(main[..., 1:, :], y[:, 1:]).item(), rel=1e-6
    )


SEG = {
    "space": "anynet_x_a",
    "task": "segmentation",
    "dataset": {"name": "segsynthetic"},
    "segmentation": {"decoder": "fcn"},
}


def test_the_task_field_defaults_to_classification_and_is_checked_against_the_dataset():
    from nas import config

    assert config.parse({"space": "anynet_x_a"}, "e.yaml").task == "classification"
    assert config.parse(SEG, "e.yaml").task == "segmentation"
    bad = [
        (
            {**SEG, "task": "detection"},
            "task: expected str in ['classification', 'segmentation'], got 'detection'",
        ),
        (
            {**SEG, "task": "classification"},
            "dataset.name: 'segsynthetic' is a segmentation set, but task is classification; legal for task "
            "classification: ['cifar10', 'digits', 'imagefolder', 'npz', 'synthetic']",
        ),
        (
            {**SEG, "dataset": {"name": "digits"}},
            "dataset.name: 'digits' is a classification set, but task is segmentation; legal for task "
            "segmentation: ['camvid', 'cityscapes', 'segfolder', 'segsynthetic', 'voc']",
        ),
        (
            {**SEG, "training": {"augment": {"hflip": True}}},
            "training.augment: augments images alone; for task segmentation set dataset.params scale, crop",
        ),
        (
            {**SEG, "dataset": {"name": "segsynthetic", "params": {"scale": [2.0, 1.0]}}},
            "dataset.params.scale: empty range [2.0, 1.0]",
        ),
    ]
    for data, message in bad:
        with pytest.raises(UserError) as err:
            config.parse(data, "e.yaml")
        assert str(err.value).startswith(f"e.yaml: {message}")

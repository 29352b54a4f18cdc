"""Training: the schedule, learning on synthetic data, divergence detection."""

import math

import pytest

from blocks.spec import from_dict
from nas.config import TrainingConfig
from nas.training.datasets import digits, synthetic
from nas.training.loop import Diverged, lr_at, train

SPEC = from_dict(
    {
        "input_shape": [3, 8, 8],
        "stem": {"type": "simple", "width": 8, "params": {"stride": 1}},
        "stages": [{"block": "res_basic", "depth": 1, "width": 16, "stride": 2}],
        "head": {"num_classes": 4},
    }
)


def test_lr_schedule_warmup_then_cosine():
    assert lr_at(0, 100, 10, 1.0) == pytest.approx(0.1)
    assert lr_at(5, 100, 10, 1.0) == pytest.approx(0.55)
    assert lr_at(10, 100, 10, 1.0) == pytest.approx(1.0)
    assert lr_at(55, 100, 10, 1.0) == pytest.approx(0.5)
    assert lr_at(100, 100, 10, 1.0) == pytest.approx(0.0, abs=1e-12)
    assert lr_at(30, 100, 0, 2.0) == pytest.approx(1.0 + math.cos(math.pi * 0.3))


def test_learns_synthetic_data_and_reports_every_epoch():
    data = synthetic(num_samples=256, num_classes=4, noise=0.5)
    seen = []
    res = train(
        SPEC, data, TrainingConfig(epochs=3, batch_size=32, lr=0.05), on_epoch=lambda e, m: seen.append(e)
    )
    assert seen == [1, 2, 3] and res.epochs == 3 and len(res.val_errors) == 3
    assert res.error < 20.0  # chance is 75 %
    assert res.images_per_sec > 0 and res.train_time > 0


def test_same_seed_same_result():
    data = synthetic(num_samples=128)
    cfg = TrainingConfig(epochs=1, batch_size=32)
    assert train(SPEC, data, cfg, seed=3).val_errors == train(SPEC, data, cfg, seed=3).val_errors


def test_divergence_is_detected():
    data = synthetic(num_samples=64)
    with pytest.raises(Diverged, match="loss became"):
        train(SPEC, data, TrainingConfig(epochs=2, lr=1e12, momentum=0.0, batch_size=16))


def test_digits_is_bundled_and_split():
    d = digits()
    assert d.input_shape == (1, 8, 8) and d.num_classes == 10
    assert len(d.x_train) + len(d.x_val) == 1797


def test_augmentation_is_applied_in_training():
    from nas.training.augment import Augment

    data = synthetic(num_samples=128)
    plain = TrainingConfig(epochs=1, batch_size=32)
    flipped = TrainingConfig(epochs=1, batch_size=32, augment=Augment(crop_padding=2, hflip=True))
    a = train(SPEC, data, plain, seed=3)
    b = train(SPEC, data, flipped, seed=3)
    assert a.losses != b.losses  # same seed, different inputs seen

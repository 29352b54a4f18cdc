"""Training: the schedule, learning on synthetic data, divergence detection."""

import math

import pytest
import torch

from blocks.spec import from_dict
from nas.config import TrainingConfig
from nas.training.augment import Augment
from nas.training.datasets import digits, synthetic
from nas.training.loop import Diverged, lr_at, seeded, train

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
    data = synthetic(num_samples=128)
    plain = TrainingConfig(epochs=1, batch_size=32)
    flipped = TrainingConfig(epochs=1, batch_size=32, augment=Augment(crop_padding=2, hflip=True))
    a = train(SPEC, data, plain, seed=3)
    b = train(SPEC, data, flipped, seed=3)
    assert a.losses != b.losses  # same seed, different inputs seen


def test_training_leaves_the_callers_rng_and_threads_alone():
    torch.manual_seed(123)
    state, threads = torch.get_rng_state(), torch.get_num_threads()
    inside = 2 if threads == 1 else 1
    seen = []
    train(
        SPEC,
        synthetic(num_samples=64),
        TrainingConfig(epochs=1, batch_size=32),
        seed=5,
        threads=inside,
        on_epoch=lambda e, m: seen.append(torch.get_num_threads()),
    )
    assert seen == [inside]  # the thread count holds while it trains ...
    assert torch.get_num_threads() == threads  # ... and is the caller's again after
    assert torch.initial_seed() == 123 and torch.equal(torch.get_rng_state(), state)


def test_result_depends_on_the_seed_not_on_the_callers_rng():
    data = synthetic(num_samples=128)
    cfg = TrainingConfig(epochs=1, batch_size=32, augment=Augment(crop_padding=2, hflip=True))
    torch.manual_seed(1)
    a = train(SPEC, data, cfg, seed=3)
    torch.manual_seed(2)
    torch.rand(10)
    b = train(SPEC, data, cfg, seed=3)
    assert a.losses == b.losses and a.val_errors == b.val_errors


def test_seeded_block_restores_state_even_when_it_raises():
    torch.manual_seed(9)
    state = torch.get_rng_state()
    with pytest.raises(ZeroDivisionError), seeded(4, threads=1):
        assert torch.initial_seed() == 4
        raise ZeroDivisionError
    assert torch.equal(torch.get_rng_state(), state)


def test_digits_result_for_a_seed_is_pinned():
    """Seed 7 on digits gives the numbers it gave before training stopped seeding torch globally."""
    spec = from_dict({**SPEC.to_dict(), "input_shape": [1, 8, 8], "head": {"num_classes": 10}})
    cfg = TrainingConfig(epochs=2, batch_size=64, lr=0.1, augment=Augment(crop_padding=1, hflip=True))
    res = train(spec, digits(), cfg, seed=7)
    assert [round(e * 359 / 100) for e in res.val_errors] == [290, 203]  # wrong of 359 held out
    assert res.losses == pytest.approx([2.191658500172664, 1.8799584129092093], rel=1e-6)

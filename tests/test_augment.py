"""Batch augmentation: what each option does to each image, validation, determinism."""

import pytest
import torch

from blocks.errors import UserError
from nas import config
from nas.training.augment import Augment, cutout, random_crop, random_hflip


def _batch(n=64, c=3, h=6, w=7):
    """Images whose pixels are all distinct and non-zero, so shifts, flips and holes show."""
    return torch.arange(1, n * c * h * w + 1, dtype=torch.float32).reshape(n, c, h, w)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _shift(img, dy, dx):
    """img moved down by dy and right by dx, zeros where nothing moved in."""
    out = torch.zeros_like(img)
    h, w = img.shape[-2:]
    out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = img[
        :, max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def test_disabled_is_identity_and_draws_nothing():
    aug, gen, x = Augment(), _gen(), _batch()
    state = gen.get_state()
    assert not aug.enabled and aug.apply(x, gen) is x
    assert torch.equal(gen.get_state(), state)
    assert Augment(hflip=True).enabled and Augment(crop_padding=4).enabled and Augment(cutout=2).enabled


def test_hflip_flips_exactly_some_samples():
    x = _batch()
    out = random_hflip(x, _gen())
    flipped = [torch.equal(o, i.flip(2)) for o, i in zip(out, x)]
    kept = [torch.equal(o, i) for o, i in zip(out, x)]
    assert all(f != k for f, k in zip(flipped, kept))  # every sample is exactly one of the two
    assert 10 < sum(flipped) < 54


def test_crop_shifts_each_image_within_padding_with_zero_borders():
    x, pad = _batch(), 2
    out = random_crop(x, pad, _gen())
    assert out.shape == x.shape
    shifts = []
    for o, i in zip(out, x):
        found = [
            (dy, dx)
            for dy in range(-pad, pad + 1)
            for dx in range(-pad, pad + 1)
            if torch.equal(o, _shift(i, dy, dx))
        ]
        assert len(found) == 1
        shifts.append(found[0])
    assert len(set(shifts)) > 10 and (out == 0).any()


def test_cutout_zeroes_one_clipped_square_in_every_channel():
    x, size = _batch(), 3
    out = cutout(x, size, _gen())
    holes = out == 0
    assert torch.equal(out[~holes], x[~holes])
    assert torch.equal(holes, holes[:, :1].expand_as(holes))  # same hole in every channel
    for hole in holes[:, 0]:
        rows, cols = hole.any(1).nonzero().flatten(), hole.any(0).nonzero().flatten()
        assert 1 <= len(rows) <= size and 1 <= len(cols) <= size
        assert hole.sum() == len(rows) * len(cols)  # a full rectangle
        assert rows.diff().eq(1).all() and cols.diff().eq(1).all()
    assert (holes[:, 0].sum((1, 2)) == size * size).any()


def test_apply_keeps_shape_and_is_deterministic_given_the_generator():
    aug, x = Augment(crop_padding=2, hflip=True, cutout=2), _batch()
    a, b = aug.apply(x, _gen(3)), aug.apply(x, _gen(3))
    assert a.shape == x.shape and torch.equal(a, b)
    assert not torch.equal(a, aug.apply(x, _gen(4)))
    assert torch.equal(aug.apply(x.contiguous(memory_format=torch.channels_last), _gen(3)), a)


def _read(augment):
    """`training.augment` of an experiment file."""
    return config.parse({"space": "x", "training": {"augment": augment}}, "exp.yaml").training.augment


def test_read_defaults_and_values():
    assert _read(None) == Augment() and config.parse({"space": "x"}).training.augment == Augment()
    assert _read({"crop_padding": 4, "hflip": True}) == Augment(4, True, 0)
    assert _read({"cutout": 8.0}).cutout == 8 and _read({"cutout": "8"}).cutout == 8


@pytest.mark.parametrize(
    "data, message",
    [
        (
            [4],
            "training.augment: expected a mapping with fields ['crop_padding', 'hflip', 'cutout'], got [4]",
        ),
        ({"flip": True}, "training.augment.flip: unknown field; legal: ['crop_padding', 'cutout', 'hflip']"),
        ({"crop_padding": -1}, "training.augment.crop_padding: expected int in [0, 1024], got -1"),
        ({"crop_padding": True}, "training.augment.crop_padding: expected int in [0, 1024], got True"),
        ({"cutout": 2.5}, "training.augment.cutout: expected int in [0, 1024], got 2.5"),
        ({"hflip": "yes"}, "training.augment.hflip: expected bool, got 'yes'"),
    ],
)
def test_read_rejects_bad_values(data, message):
    with pytest.raises(UserError) as err:
        _read(data)
    assert str(err.value) == f"exp.yaml: {message}"


def test_a_gpu_epoch_draws_its_augmentation_on_the_gpu_seeded_once_from_the_trial(monkeypatch):
    """On the CPU the trial's generator itself; elsewhere one generator per epoch on that device,
    seeded by a single draw from the trial's (the device generator is faked: no GPU here)."""
    from nas.training.augment import draws_on

    gen = torch.Generator().manual_seed(5)
    assert draws_on(gen, torch.device("cpu")) is gen
    expected = torch.Generator().manual_seed(5)
    seed = int(torch.randint(2**62, (1,), generator=expected))

    class OnDevice:
        def __init__(self, device):
            self.device, self.seed = device, None

        def manual_seed(self, value):
            self.seed = value
            return self

    monkeypatch.setattr(torch, "Generator", OnDevice)
    local = draws_on(gen, "cuda:0")
    assert (local.device, local.seed) == ("cuda:0", seed)  # one draw from the trial's generator
    assert torch.equal(gen.get_state(), expected.get_state())  # and only one

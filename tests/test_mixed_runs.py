"""Specs whose maps shrink away are refused and redrawn: every `mixed` spec drawn at 8x8 runs."""

import numpy as np
import pytest
import torch

import spaces
from blocks.network import build
from blocks.spec import StemSpec
from spaces.base import Context
from spaces.draw import Reject, RngDraw

MIXED = spaces.get("mixed")


@pytest.fixture
def one_thread():
    """Tiny models run several times faster on one thread; the setting is restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("shape", [(3, 8, 8), (1, 8, 8)])
def test_every_mixed_spec_at_8x8_runs(shape, one_thread):
    ctx = Context(shape, 10, StemSpec("simple", 8, {"stride": 2}))  # 4x4 after the stem
    options = {"max_width": 16, "max_depth": 1}  # tiny widths: every family still fits
    samples = spaces.sample(MIXED, 150, 0, ctx=ctx, options=options)
    assert {st.block for s in samples for st in s.spec.stages} == set(MIXED.options["families"].default)
    with torch.no_grad():
        for s in samples:
            assert build(s.spec).eval()(torch.zeros(1, *shape)).shape == (1, 10), s.spec.to_json()


def test_specs_that_shrink_away_are_drawn_and_refused():
    """With the default stem and options at 8x8, about one spec in five with legal parameters
    has a map that shrinks away (the issue's count); define refuses each, so sampling redraws."""
    opts, rng, legal, refused = MIXED.resolve({}), np.random.default_rng(0), 0, []
    for _ in range(500):
        try:
            MIXED.define(RngDraw(rng), opts, Context((3, 8, 8), 10))
            legal += 1
        except Reject as why:
            refused += [str(why)] if "the input is too small" in str(why) else []
    assert len(refused) > 0.1 * (legal + len(refused))
    assert any("output map 0x0 from a 1x1 input (stride 2)" in r for r in refused)

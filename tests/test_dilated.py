"""HDC-dilated stage: analytic == measured complexity, per-conv rates, gridding rejected at load."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from blocks import library
from blocks.dilated import conv_rates
from blocks.gridding import check_schedule, hole_free_schedules
from blocks.network import build
from blocks.spec import SpecError
from tests.cxcheck import assert_matches, one_stage_spec

_SCHEDULES = [s for n in (1, 2, 3) for s in hole_free_schedules(n, 3, 7)]


@settings(max_examples=15, deadline=None)
@given(
    w_in=st.integers(1, 4).map(lambda x: 8 * x),
    w_out=st.integers(1, 4).map(lambda x: 8 * x),
    stride=st.sampled_from([1, 2]),
    depth=st.integers(1, 3),
    hw=st.integers(3, 12),
    dilations=st.sampled_from(_SCHEDULES),
)
def test_dilated_analytic_equals_measured(w_in, w_out, stride, depth, hw, dilations):
    assert_matches(
        one_stage_spec("hdc_dilated", w_in, w_out, stride, depth, hw, {"dilations": list(dilations)})
    )


def test_rates_cycle_over_the_convs_in_forward_order():
    assert conv_rates(1, 2, (1, 2, 5)) == [1, 2, 5, 1]
    assert conv_rates(2, 2, (1, 2, 5)) == [1, 2, 5]
    spec = one_stage_spec("hdc_dilated", 8, 16, 2, 3, 16, {"dilations": [1, 2, 5]})
    convs = [m for m in build(spec).stages.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert [c.dilation[0] for c in convs] == [1, 1, 2, 5, 1, 2]
    assert [c.stride[0] for c in convs] == [2, 1, 1, 1, 1, 1]


def test_default_schedule_builds():
    spec = one_stage_spec("hdc_dilated", 8, 8, 1, 2, 9, {})
    assert_matches(spec)


def test_holey_schedule_is_rejected_naming_the_holes():
    with pytest.raises(SpecError, match=r"stages\[0\].*gridding holes at offsets ±1, ±3"):
        one_stage_spec("hdc_dilated", 8, 8, 1, 2, 9, {"dilations": [2, 2]})


def test_check_runs_on_the_rates_the_stage_applies():
    assert check_schedule([2, 1], 3) == []
    with pytest.raises(
        SpecError,
        match=r"cycled over the stage's convs: schedule \[2\] with kernel 3 leaves gridding holes at offsets ±1",
    ):
        one_stage_spec("hdc_dilated", 8, 8, 2, 1, 9, {"dilations": [2, 1]})


@pytest.mark.parametrize(
    "bad, needle", [([], "non-empty"), ([1, 0], r"\[1, 64\]"), ([1, 2.5], "list of int")]
)
def test_illegal_dilations_are_rejected(bad, needle):
    with pytest.raises(SpecError, match=needle):
        one_stage_spec("hdc_dilated", 8, 8, 1, 1, 9, {"dilations": bad})


def test_every_listed_hole_free_schedule_is_legal_at_any_depth_and_stride():
    fam = library.get("stage", "hdc_dilated")
    for dilations in _SCHEDULES:
        for depth in (1, 2, 3):
            for stride in (1, 2):
                assert not fam.errors(
                    {"dilations": list(dilations)}, w_in=8, w_out=8, stride=stride, depth=depth
                )

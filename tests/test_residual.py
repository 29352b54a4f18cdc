"""Residual families: exact published parameter counts and analytic == measured complexity."""

from hypothesis import given, settings
from hypothesis import strategies as st

from blocks.complexity import complexity, measure
from blocks.network import build
from blocks.spec import from_dict
from tests.cxcheck import assert_matches, one_stage_spec


def _resnet(block: str, widths, depths, params_of=lambda w: {}):
    return from_dict(
        {
            "input_shape": [3, 224, 224],
            "stem": {"type": "resnet", "width": 64},
            "stages": [
                {
                    "block": block,
                    "depth": d,
                    "width": w,
                    "stride": 1 if i == 0 else 2,
                    "params": params_of(w),
                }
                for i, (w, d) in enumerate(zip(widths, depths))
            ],
            "head": {"num_classes": 1000},
        }
    )


def test_resnet18_matches_torchvision_counts():
    spec = _resnet("res_basic", [64, 128, 256, 512], [2, 2, 2, 2])
    cx = complexity(spec)
    assert cx.params == 11_689_512  # torchvision resnet18
    assert cx.flops == 1_814_073_344  # 1.8 GMACs as published
    assert measure(build(spec), spec.input_shape) == cx


def test_resnet50_bottleneck_counts():
    spec = _resnet(
        "res_bottleneck_x",
        [256, 512, 1024, 2048],
        [3, 4, 6, 3],
        lambda w: {"bottleneck_ratio": 4.0, "group_width": w // 4},
    )
    cx = complexity(spec)
    assert cx.params == 25_557_032  # torchvision resnet50
    assert cx.flops == 4_089_184_256  # 4.1 GMACs as published


@settings(max_examples=25, deadline=None)
@given(
    block=st.sampled_from(["res_basic", "res_bottleneck_x", "res_bottleneck_y"]),
    w_in=st.integers(1, 6).map(lambda x: 8 * x),
    w_mult=st.integers(1, 6),
    b=st.sampled_from([1.0, 2.0, 4.0]),
    stride=st.sampled_from([1, 2]),
    depth=st.integers(1, 3),
    hw=st.integers(3, 13),
    se=st.sampled_from([0.0, 0.25, 0.5]),
)
def test_residual_analytic_equals_measured(block, w_in, w_mult, b, stride, depth, hw, se):
    w_out = 8 * w_mult
    params = {}
    if block != "res_basic":
        w_b = int(round(w_out / b))
        params = {"bottleneck_ratio": b, "group_width": max(1, w_b // 2) if w_b % 2 == 0 else w_b}
        if block == "res_bottleneck_y":
            params["se_ratio"] = se
    assert_matches(one_stage_spec(block, w_in, w_out, stride, depth, hw, params))


def test_a_narrow_y_block_keeps_one_se_channel_as_mbconv_does():
    """SE width is one rule for every family (blocks.layers.se_width): round(0.25 * 2) is 0, so a
    Y block on a 2-channel input gets the one-channel SE that MBConv gets, costed exactly."""
    from blocks.layers import se_width

    assert se_width(2, 0.25) == 1 and se_width(40, 0.25) == 10
    spec = one_stage_spec(
        "res_bottleneck_y", 2, 8, 1, 2, 5, {"bottleneck_ratio": 1.0, "group_width": 8, "se_ratio": 0.25}
    )
    model = build(spec)
    assert model.stages[0][0].se.reduce.out_channels == 1
    assert_matches(spec)

"""MobileNetV3-Large and its LR-ASPP segmentation network: MobileNetV3's SE rule by hand, and
both networks computing torchvision's outputs when given its weights."""

import pytest
import torch
from torch import nn

from blocks.complexity import complexity, measure
from blocks.layers import make_divisible, se_width
from blocks.network import build
from blocks.segment import segment
from blocks.spec import from_dict
from nas import zoo
from tests.cxcheck import assert_matches
from tests.familycheck import exports_match
from tests.test_classics import copy_by_position, randomize_bn, torchvision_model


@pytest.mark.parametrize(
    "expanded, width",
    # torchvision's fc1 widths in mobilenet_v3_large: 72 // 4 = 18 rounds to 16, 10% below, so 24
    [(72, 24), (120, 32), (480, 120), (672, 168), (960, 240)],
)
def test_mobilenet_v3_se_is_a_quarter_of_the_expanded_width_divisible_by_8(expanded, width):
    assert se_width(24, 0.25, "expanded8", expanded) == width
    assert se_width(24, 0.25) == 6  # EfficientNet's rule reads the input width


def test_make_divisible_rounds_to_the_nearest_multiple_and_never_10_percent_below():
    assert [make_divisible(v, 8) for v in (3, 12, 18, 19.9, 20, 36)] == [8, 16, 24, 24, 24, 40]


def test_mobilenet_v3_large_rounds_to_torchvisions_published_gflops():
    assert round(complexity(zoo.get("mobilenet_v3_large")).flops / 1e9, 3) == 0.217  # its _ops


def test_lraspp_runs_its_last_stage_at_rate_2_and_output_stride_16():
    spec = zoo.get("lraspp_mobilenet_v3_large")
    with torch.device("meta"):
        model = build(spec)
    depthwise = [m for m in model.stages[9].modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert [(c.stride, c.dilation, c.padding) for c in depthwise] == [((1, 1), (2, 2), (4, 4))] * 3
    # the decoder reads the first 40-channel block's output (feature 4: the stem's is feature 0)
    assert (spec.output_stride, model.decoder.low, spec.stages[3].width, spec.stages[3].depth) == (
        16,
        4,
        40,
        1,
    )


def test_lraspp_costs_what_pytorch_measures_and_torchvision_publishes():
    spec = zoo.get("lraspp_mobilenet_v3_large")
    cx = complexity(spec)
    assert round(cx.flops / 1e9, 3) == 2.086  # torchvision's _ops at 520x520, in multiply-adds
    with torch.device("meta"):
        assert measure(build(spec), spec.input_shape) == cx


def _eps_as_ours(reference: nn.Module) -> nn.Module:
    """torchvision's MobileNetV3 BN has eps 1e-3; the spec's BN keeps PyTorch's 1e-5."""
    for m in reference.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eps = 1e-5
    randomize_bn(reference)
    return reference.eval()


def _copied(reference: nn.Module, name: str) -> nn.Module:
    torch.manual_seed(0)
    ours = build(zoo.get(name))
    copy_by_position(reference, ours)
    return ours.eval()


def test_mobilenet_v3_large_outputs_equal_torchvisions():
    reference = _eps_as_ours(torchvision_model("mobilenet_v3_large"))
    ours = _copied(reference, "mobilenet_v3_large")
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        want = reference(x)
        torch.testing.assert_close(ours(x), want, rtol=1e-4, atol=1e-4 * want.abs().max().item())


def test_lraspp_mobilenet_v3_large_outputs_equal_torchvisions():
    reference = _eps_as_ours(
        torchvision_model("lraspp_mobilenet_v3_large", num_classes=21, weights_backbone=None)
    )
    ours = _copied(reference, "lraspp_mobilenet_v3_large")
    x = torch.randn(1, 3, 96, 80)
    with torch.no_grad():
        want = reference(x)["out"]
        assert want.shape == (1, 21, 96, 80)
        torch.testing.assert_close(ours(x), want, rtol=1e-4, atol=1e-4 * want.abs().max().item())


@pytest.mark.slow
def test_a_small_mobilenet_v3_lraspp_exports_to_torchscript_and_torch_export(tmp_path):
    v3 = {"activation": "hardswish", "se_ratio": 0.25, "se_round": "expanded8", "se_activation": "relu"}
    v3["se_gate"] = "hard_sigmoid"
    spec = from_dict(
        {
            "input_shape": [3, 32, 32],
            "stem": {"type": "conv_bn_act", "width": 8, "params": {"activation": "hardswish"}},
            "stages": [
                {"block": "mbconv", "depth": 2, "width": 16, "stride": 2, "params": {"kernel": 5, **v3}},
                {"block": "mbconv", "depth": 1, "width": 24, "stride": 2, "params": v3},
                {"block": "conv_bn_act", "depth": 1, "width": 48, "stride": 1},
            ],
            "head": {"type": "dense", "num_classes": 3},
            "decoder": {"type": "lraspp", "params": {"low_stride": 4, "low_at": "first", "width": 16}},
            "output_stride": 8,
        }
    )
    assert_matches(spec)
    exports_match(spec, tmp_path)


def test_segmenting_the_classifier_at_stride_16_gives_lraspps_count_with_a_hole_free_schedule():
    spec = segment(zoo.get("mobilenet_v3_large"), decoder="lraspp", num_classes=21, output_stride=16)
    assert complexity(spec).params == 3_221_538  # the 960 conv stays, the pooled classifier goes
    assert spec.stages[9].dilations == (1, 5, 9)  # the widest hole-free schedule for 5x5 convs
    assert spec.to_dict()["gridding"] == {"stages[9]": "hole-free"}

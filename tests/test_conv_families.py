"""Inception, DenseNet and MBConv families: exact zoo counts, analytic == measured, validation."""

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from blocks import library
from blocks.complexity import complexity, measure
from blocks.inception import VARIANTS
from blocks.mbconv import ACTIVATIONS, MBConv
from blocks.network import build
from blocks.spec import SpecError, from_dict
from nas import zoo
from tests.cxcheck import assert_matches, one_stage_spec

SETTINGS = settings(max_examples=20, deadline=None)
widths = st.integers(8, 48)
hws = st.integers(4, 12)


@pytest.mark.parametrize(
    "name, params, flops",
    [
        ("mobilenet_v2", 3_504_872, 300_774_272),  # torchvision; 300M MACs in the paper
        ("efficientnet_b0", 5_288_548, 385_814_752),  # torchvision; 0.39B FLOPs in the paper
        ("mobilenet_v3_large", 5_483_032, 216_589_760),  # torchvision; 219M MAdds in the paper
        ("densenet121", 7_978_856, 2_834_161_664),  # torchvision; 2.83 GFLOPS there
        ("googlenet", 6_998_552, 1_582_671_872),  # paper's reference net; ~1.5B mult-adds quoted
    ],
)
def test_zoo_counts_are_exact_and_measured(name, params, flops):
    spec = zoo.get(name)
    cx = complexity(spec)
    assert (cx.params, cx.flops) == (params, flops)
    assert measure(build(spec), spec.input_shape) == cx


def test_googlenet_with_bn_relates_to_torchvision():
    """BN adds one parameter per conv channel over biases; 3x3 '5x5' convs drop 16*reduce*out each."""
    data = zoo.get("googlenet").to_dict()
    data["stem"]["params"]["norm"] = "bn"
    for stage in data["stages"]:
        stage["params"]["norm"] = "bn"
    with_bn = complexity(from_dict(data)).params
    five_by_five = sum(16 * r5 * w5 for s in data["stages"] for r5, w5 in _pairs(s["params"]["branches"]))
    assert with_bn == 6_998_552 + 7_280
    assert with_bn - five_by_five == 6_624_904  # torchvision googlenet(aux_logits=False)


def _pairs(branches):
    return [(branches[i + 3], branches[i + 4]) for i in range(0, len(branches), 6)]


@st.composite
def inception_params(draw, depth):
    params = {
        "variant": draw(st.sampled_from(VARIANTS)),
        "n": draw(st.sampled_from([3, 5, 7])),
        "norm": draw(st.sampled_from(["bn", "none"])),
    }
    if draw(st.booleans()):
        count = draw(st.sampled_from([6, 6 * depth]))
        params["branches"] = draw(st.lists(st.integers(2, 9), min_size=count, max_size=count))
        return params, sum(params["branches"][-6:][i] for i in (0, 2, 4, 5))
    params.update(
        ratio_3x3=draw(st.sampled_from([0.25, 0.375, 0.5])),
        ratio_5x5=draw(st.sampled_from([0.125, 0.25])),
        ratio_pool=draw(st.sampled_from([0.0625, 0.125])),
        reduce_3x3=draw(st.sampled_from([0.25, 0.75, 1.5])),
        reduce_5x5=draw(st.sampled_from([0.125, 0.5, 2.0])),
    )
    return params, draw(widths)


def _legal(block: str, w_in: int, w_out: int, stride: int, depth: int, params: dict) -> bool:
    fam = library.get("stage", block)
    return not fam.errors(params, w_in=w_in, w_out=w_out, stride=stride, depth=depth)


@SETTINGS
@given(data=st.data(), w_in=widths, stride=st.sampled_from([1, 2]), depth=st.integers(1, 3), hw=hws)
def test_inception_analytic_equals_measured(data, w_in, stride, depth, hw):
    params, w_out = data.draw(inception_params(depth))
    assume(_legal("inception", w_in, w_out, stride, depth, params))
    assert_matches(one_stage_spec("inception", w_in, w_out, stride, depth, hw, params))


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("norm", ["bn", "none"])
def test_every_inception_variant_with_ratios_and_branches(variant, norm):
    base = {"variant": variant, "norm": norm, "n": 5}
    assert_matches(one_stage_spec("inception", 16, 40, 2, 2, 9, base))
    branches = {**base, "branches": [3, 4, 6, 2, 5, 2, 8, 3, 7, 3, 4, 5]}
    assert_matches(one_stage_spec("inception", 16, 24, 1, 2, 6, branches))


@SETTINGS
@given(
    w_in=widths,
    w_t=st.one_of(st.none(), widths),
    stride=st.sampled_from([1, 2]),
    depth=st.integers(1, 3),
    growth_rate=st.integers(1, 12),
    bn_size=st.integers(1, 4),
    hw=hws,
)
def test_dense_analytic_equals_measured(w_in, w_t, stride, depth, growth_rate, bn_size, hw):
    w_out = (w_in if w_t is None else w_t) + depth * growth_rate  # None: no transition at stride 1
    params = {"growth_rate": growth_rate, "bn_size": bn_size}
    assert_matches(one_stage_spec("dense", w_in, w_out, stride, depth, hw, params))


@SETTINGS
@given(
    w_in=widths,
    w_out=st.one_of(st.none(), widths),
    stride=st.sampled_from([1, 2]),
    depth=st.integers(1, 3),
    expand_ratio=st.sampled_from([1.0, 2.5, 4.0, 6.0]),
    kernel=st.sampled_from([3, 5, 7]),
    se_ratio=st.sampled_from([0.0, 0.05, 0.25, 0.5]),
    activation=st.sampled_from(sorted(ACTIVATIONS)),
    drop_path=st.sampled_from([0.0, 0.2]),
    hw=hws,
)
def test_mbconv_analytic_equals_measured(
    w_in, w_out, stride, depth, expand_ratio, kernel, se_ratio, activation, drop_path, hw
):
    params = {
        "expand_ratio": expand_ratio,
        "kernel": kernel,
        "se_ratio": se_ratio,
        "activation": activation,
        "drop_path": drop_path,
    }
    w_out = w_in if w_out is None else w_out  # None: residual blocks throughout at stride 1
    assert_matches(one_stage_spec("mbconv", w_in, w_out, stride, depth, hw, params))


@SETTINGS
@given(
    stem=st.sampled_from(
        [
            ("conv_bn_act", {"kernel": 5, "stride": 1, "activation": "silu"}),
            ("conv_bn_act", {"kernel": 3, "stride": 2, "activation": "relu"}),
            ("googlenet", {"width_7x7": 16, "norm": "bn"}),
            ("googlenet", {"width_7x7": 24, "norm": "lrn"}),
        ]
    ),
    head=st.sampled_from(
        [
            ("conv_classifier", {"width": 40, "activation": "silu", "dropout": 0.2}),
            ("conv_classifier", {"width": 8, "activation": "relu6", "dropout": 0.0}),
            ("bn_classifier", {"dropout": 0.0}),
            ("bn_classifier", {"dropout": 0.5}),
        ]
    ),
    w_stem=widths,
    hw=st.integers(8, 24),
)
def test_stems_and_heads_analytic_equals_measured(stem, head, w_stem, hw):
    spec = from_dict(
        {
            "input_shape": [3, hw, hw],
            "stem": {"type": stem[0], "width": w_stem, "params": stem[1]},
            "stages": [{"block": "mbconv", "depth": 1, "width": 16, "stride": 1}],
            "head": {"type": head[0], "num_classes": 5, "params": head[1]},
        }
    )
    assert_matches(spec)


@pytest.mark.parametrize(
    "block, width, depth, params",
    [
        ("inception", 8, 1, {"ratio_3x3": 0.5, "ratio_5x5": 0.25, "ratio_pool": 0.25}),  # no 1x1 left
        ("inception", 24, 1, {"branches": [4, 4, 8, 4, 8]}),  # five ints
        ("inception", 24, 2, {"branches": [4, 4, 8, 4, 8, 4] * 3}),  # neither 6 nor 6*depth
        ("inception", 25, 1, {"branches": [4, 4, 8, 4, 8, 4]}),  # outputs sum to 24
        ("inception", 24, 1, {"branches": [4, 4, 8, 4, 8, 0]}),  # empty branch
        ("inception", 24, 1, {"variant": "v3_wide", "branches": [13, 4, 8, 4, 1, 2]}),  # cannot split 1
        ("inception", 24, 1, {"variant": "v4"}),
        ("inception", 24, 1, {"n": 4}),
        ("inception", 24, 1, {"norm": "ln"}),
        ("inception", 24, 1, {"ratio_3x3": 0.9}),
        ("dense", 96, 3, {"growth_rate": 32}),  # width must exceed depth * k
        ("dense", 96, 3, {"growth_rate": 0}),
        ("dense", 96, 3, {"bn_size": 16}),
        ("dense", 96, 3, {"compression": 0.5}),  # implied by the width, not a parameter
        ("mbconv", 24, 1, {"kernel": 4}),
        ("mbconv", 24, 1, {"activation": "gelu"}),
        ("mbconv", 24, 1, {"se_ratio": 0.75}),
        ("mbconv", 24, 1, {"expand_ratio": 0.5}),
        ("mbconv", 24, 1, {"drop_path": 0.9}),
    ],
)
def test_validate_rejects_bad_stage_params(block, width, depth, params):
    with pytest.raises(SpecError, match=r"stages\[0\]"):
        one_stage_spec(block, 16, width, 1, depth, 8, params)


@pytest.mark.parametrize(
    "stem, head",
    [
        (("googlenet", {"norm": "gn"}), ("classifier", {})),
        (("conv_bn_act", {"stride": 3}), ("classifier", {})),
        (("conv_bn_act", {}), ("conv_classifier", {"width": 0})),
        (("conv_bn_act", {}), ("bn_classifier", {"dropout": 1.0})),
    ],
)
def test_validate_rejects_bad_stem_and_head_params(stem, head):
    spec = {
        "stem": {"type": stem[0], "width": 16, "params": stem[1]},
        "stages": [{"block": "mbconv", "depth": 1, "width": 16}],
        "head": {"type": head[0], "params": head[1]},
    }
    with pytest.raises(SpecError, match="stem|head"):
        from_dict(spec)


def test_drop_path_drops_whole_samples_in_training_only():
    torch.manual_seed(0)
    params = library.get("stage", "mbconv").resolve({"expand_ratio": 2.0, "drop_path": 0.5})
    block = MBConv(8, 8, 1, **params)
    x = torch.randn(64, 8, 5, 5)
    block.train()
    branch = block.branch(x)
    torch.manual_seed(1)
    delta = block(x) - x
    kept = delta.flatten(1).abs().sum(1) > 0
    assert 0 < kept.sum() < 64
    torch.testing.assert_close(delta[kept], branch[kept] / 0.5)
    block.eval()
    torch.testing.assert_close(block(x), x + block.branch(x))

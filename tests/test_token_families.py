"""Token families (swin, vit, swin_mlp, shift_mlp): exact zoo counts, analytic == measured,
the shifted-window mask, the relative position index and the validation rules."""

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from blocks.complexity import complexity, measure
from blocks.network import build
from blocks.shiftmlp import shift_groups
from blocks.spec import SpecError, from_dict
from blocks.swin import WindowAttention, relative_position_index, shift_mask
from blocks.tokens import LAYER_NORM_EPS, PreNormBlock
from nas import zoo
from tests.cxcheck import assert_matches, one_stage_spec


@pytest.mark.parametrize(
    "name, params, flops",
    [
        ("swin_t", 28_288_354, 4_490_566_656),  # torchvision swin_t: 28,288,354 params, 4.49 GFLOPS
        ("vit_b_16", 86_567_656, 17_563_828_224),  # torchvision vit_b_16: 86,567,656, 17.56 GFLOPS
    ],
)
def test_zoo_transformers_match_torchvision(name, params, flops):
    spec = zoo.get(name)
    cx = complexity(spec)
    assert (cx.params, cx.flops) == (params, flops)
    assert measure(build(spec), spec.input_shape) == cx


SHAPES = dict(
    w_in=st.integers(1, 6).map(lambda x: 8 * x),
    heads=st.integers(1, 3),
    head_dim=st.sampled_from([4, 8]),
    stride=st.sampled_from([1, 2]),
    depth=st.integers(1, 3),
    hw=st.integers(3, 17),
    extra=st.integers(0, 4),
    mlp_ratio=st.sampled_from([1.0, 2.0, 4.0]),
)
# pinned cases: a map larger than the window but not a multiple of it (padding + shift), a
# stride-2 map that lands inside one window, a small window tiling the map exactly
PAD = dict(w_in=16, heads=2, head_dim=8, stride=1, depth=2, hw=10, extra=3, mlp_ratio=4.0)
SMALL = dict(w_in=8, heads=1, head_dim=8, stride=2, depth=2, hw=9, extra=0, mlp_ratio=2.0)
EXACT = dict(w_in=24, heads=3, head_dim=4, stride=1, depth=3, hw=16, extra=0, mlp_ratio=1.0)


def _check(block, w_in, w_out, stride, depth, hw, extra, params):
    assert_matches(one_stage_spec(block, w_in, w_out, stride, depth, hw, params, width=hw + extra))


@settings(max_examples=15, deadline=None)
@given(window=st.integers(2, 7), qkv_bias=st.booleans(), **SHAPES)
@example(window=7, qkv_bias=True, **PAD)
@example(window=7, qkv_bias=False, **SMALL)
@example(window=4, qkv_bias=True, **EXACT)
def test_swin_analytic_equals_measured(
    window, qkv_bias, w_in, heads, head_dim, stride, depth, hw, extra, mlp_ratio
):
    params = {"window_size": window, "head_dim": head_dim, "qkv_bias": qkv_bias, "mlp_ratio": mlp_ratio}
    _check("swin", w_in, head_dim * heads, stride, depth, hw, extra, params)


@settings(max_examples=15, deadline=None)
@given(window=st.integers(2, 7), **SHAPES)
@example(window=7, **PAD)
@example(window=7, **SMALL)
@example(window=4, **EXACT)
def test_swin_mlp_analytic_equals_measured(
    window, w_in, heads, head_dim, stride, depth, hw, extra, mlp_ratio
):
    params = {"window_size": window, "head_dim": head_dim, "mlp_ratio": mlp_ratio}
    _check("swin_mlp", w_in, head_dim * heads, stride, depth, hw, extra, params)


@settings(max_examples=15, deadline=None)
@given(class_token=st.booleans(), pos_grid=st.sampled_from([0, 1, 4, 14]), **SHAPES)
@example(class_token=True, pos_grid=4, **PAD)
@example(class_token=False, pos_grid=3, **SMALL)
def test_vit_analytic_equals_measured(
    class_token, pos_grid, w_in, heads, head_dim, stride, depth, hw, extra, mlp_ratio
):
    params = {"head_dim": head_dim, "class_token": class_token, "pos_grid": pos_grid, "mlp_ratio": mlp_ratio}
    _check("vit", w_in, head_dim * heads, stride, depth, hw, extra, params)


@settings(max_examples=15, deadline=None)
@given(
    w_in=st.integers(1, 6).map(lambda x: 8 * x),
    w_out=st.integers(2, 48),
    stride=st.sampled_from([1, 2]),
    depth=st.integers(1, 3),
    hw=st.integers(3, 17),
    extra=st.integers(0, 4),
    shift_size=st.sampled_from([3, 5, 7]),
    mlp_ratio=st.sampled_from([0.5, 1.0, 2.0]),
)
@example(w_in=16, w_out=16, stride=1, depth=1, hw=5, extra=0, shift_size=5, mlp_ratio=1.0)
def test_shift_mlp_analytic_equals_measured(w_in, w_out, stride, depth, hw, extra, shift_size, mlp_ratio):
    params = {"shift_size": shift_size, "mlp_ratio": mlp_ratio}
    _check("shift_mlp", w_in, w_out, stride, depth, hw, extra, params)


@pytest.mark.parametrize(
    "stem_norm, block, params, head",
    [
        (True, "swin", {"head_dim": 8, "window_size": 3}, "norm_pool"),
        (False, "vit", {"head_dim": 8, "class_token": True, "pos_grid": 3}, "vit"),
    ],
)
def test_patch_embed_stem_and_token_heads(stem_norm, block, params, head):
    pool = {"pool": "cls"} if head == "vit" else {}
    spec = from_dict(
        {
            "input_shape": [3, 18, 14],
            "stem": {"type": "patch_embed", "width": 16, "params": {"patch": 2, "norm": stem_norm}},
            "stages": [{"block": block, "depth": 2, "width": 16, "stride": 2, "params": params}],
            "head": {"type": head, "num_classes": 5, "params": pool},
        }
    )
    assert_matches(spec)


def test_shift_mask_keeps_wrapped_regions_apart():
    mask = shift_mask(14, 14, (7, 7), (3, 3))
    assert mask.shape == (4, 49, 49)  # as many windows as without the shift
    assert (mask[0] == 0).all()  # the top-left window holds no wrapped-around tokens
    assert (mask[1] == 0).sum() == 28**2 + 21**2  # 7x4 own columns, 7x3 wrapped from the left edge
    assert (mask[3] == 0).sum() == 16**2 + 12**2 + 12**2 + 9**2  # four corners meet here


def test_shifted_window_attention_does_not_leak_across_the_roll():
    torch.manual_seed(0)
    attn = WindowAttention(8, 7, 2, True, shifted=True).eval()
    x = torch.randn(1, 14, 14, 8)
    y = x.clone()
    y[0, 0, 0] += 10.0
    a, b = attn(x), attn(y)
    # the roll puts (0, 0) in the bottom-right window beside (13, 13); the mask keeps them apart
    assert torch.allclose(a[0, 13, 13], b[0, 13, 13])
    assert not torch.allclose(a[0, 2, 2], b[0, 2, 2])  # while its true neighbours still see it


def test_small_maps_are_one_unshifted_window():
    torch.manual_seed(0)
    plain = WindowAttention(8, 7, 2, True, shifted=False)
    shifted = WindowAttention(8, 7, 2, True, shifted=True)
    shifted.load_state_dict(plain.state_dict())
    x = torch.randn(2, 5, 7, 8)
    assert torch.allclose(plain(x), shifted(x))


@pytest.mark.parametrize("m", [2, 3, 7, 8])
def test_relative_position_index_covers_the_table(m):
    index = relative_position_index(m)
    assert index.shape == (m * m, m * m)
    assert index.unique().numel() == (2 * m - 1) ** 2
    assert (index.min(), index.max()) == (0, (2 * m - 1) ** 2 - 1)
    assert (index.diagonal() == index[0, 0]).all()  # zero offset: one shared entry


def test_shift_groups_moves_each_channel_group():
    x = torch.randn(1, 6, 5, 5)  # five channels: one per group, shifts -2..2
    y = shift_groups(x, 5, 1)
    assert torch.equal(y[0, :4, :, 0], x[0, 2:, :, 0]) and (y[0, 4:, :, 0] == 0).all()
    assert torch.equal(y[..., 2], x[..., 2])
    assert torch.equal(y[0, 2:, :, 4], x[0, :4, :, 4]) and (y[0, :2, :, 4] == 0).all()


def test_pre_norm_block_is_residual():
    block = PreNormBlock(8, torch.nn.Identity(), 2.0, 0.0, LAYER_NORM_EPS)
    torch.nn.init.zeros_(block.mlp.fc2.weight)
    torch.nn.init.zeros_(block.mlp.fc2.bias)
    x = torch.randn(2, 5, 8)
    assert torch.allclose(block(x), x + torch.nn.functional.layer_norm(x, (8,)))


@pytest.mark.parametrize(
    "block, width, stride, params, match",
    [
        ("swin", 48, 1, {"head_dim": 32}, "multiple of head_dim"),
        ("vit", 96, 1, {"head_dim": 64}, "multiple of head_dim"),
        ("swin_mlp", 24, 2, {"head_dim": 16}, "multiple of head_dim"),
        ("swin", 64, 3, {}, "stride must be 1 or 2"),
        ("vit", 64, 3, {}, "stride must be 1 or 2"),
        ("shift_mlp", 2, 1, {"mlp_ratio": 0.25}, "no hidden units"),
        ("shift_mlp", 16, 1, {"shift_size": 4}, "shift_size"),
        ("swin", 32, 1, {"window_size": 1}, "window_size"),
        ("vit", 64, 1, {"pool": "cls"}, "unknown parameter"),
    ],
)
def test_validation_rejects_bad_combinations(block, width, stride, params, match):
    with pytest.raises(SpecError, match=match):
        one_stage_spec(block, 16, width, stride, 1, 8, params)


def test_vit_head_rejects_unknown_pool():
    spec = zoo.get("vit_b_16").to_dict()
    spec["head"]["params"]["pool"] = "max"
    with pytest.raises(SpecError, match="pool"):
        from_dict(spec)

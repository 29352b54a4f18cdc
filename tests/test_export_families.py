"""Every registered family (stage, stem, head and decoder) exports to TorchScript, torch.export and ONNX, and
each file, loaded back, computes what the eager network computes: Swin's shifted windows and
masks, shift-MLP's rolls, ViT's class token and resized position grid included. Families the
hand-picked table does not use get a network drawn from their own declaration."""

import importlib.util

import pytest

from blocks import library, registry
from blocks.spec import ArchSpec, from_dict
from tests.familycheck import decoder_spec, exports_match, part_spec, stage_spec


def net(
    block, width, params, *, stride=1, depth=2, hw=10, stem=("simple", {"stride": 1}), head=("classifier", {})
):
    """A small network around one stage of `block`, on a hw x hw RGB input, 5 classes."""
    return from_dict(
        {
            "input_shape": [3, hw, hw],
            "stem": {"type": stem[0], "width": 8, "params": stem[1]},
            "stages": [{"block": block, "depth": depth, "width": width, "stride": stride, "params": params}],
            "head": {"type": head[0], "num_classes": 5, "params": head[1]},
        }
    )


NETS = {
    "dense": net("dense", 16, {"growth_rate": 4, "bn_size": 2}, stride=2, head=("bn_classifier", {})),
    "hdc_dilated": net("hdc_dilated", 8, {"dilations": [1, 2]}, hw=16, stem=("resnet", {})),
    "inception": net(
        "inception",
        16,
        {"variant": "v3_nx1", "n": 3},
        depth=1,
        hw=32,
        stem=("googlenet", {"width_7x7": 8, "norm": "lrn"}),
    ),
    "mbconv": net(
        "mbconv",
        16,
        {"expand_ratio": 2.0, "se_ratio": 0.25, "kernel": 5, "activation": "silu"},
        stride=2,
        stem=("conv_bn_act", {"stride": 1, "activation": "silu"}),
        head=("conv_classifier", {"width": 32, "activation": "silu"}),
    ),
    "res_basic": net("res_basic", 16, {}, stride=2),
    "res_bottleneck_x": net("res_bottleneck_x", 16, {"bottleneck_ratio": 2.0, "group_width": 4}, stride=2),
    "res_bottleneck_y": net("res_bottleneck_y", 16, {"group_width": 4, "se_ratio": 0.25}, stride=2),
    "shift_mlp": net("shift_mlp", 16, {"shift_size": 5}, stride=2, hw=11),
    # 10x10 tokens, 3x3 windows: padded to 12x12, the second block shifted and masked
    "swin": net(
        "swin",
        16,
        {"window_size": 3, "head_dim": 8},
        hw=20,
        stem=("patch_embed", {"patch": 2}),
        head=("norm_pool", {}),
    ),
    "swin_mlp": net("swin_mlp", 16, {"window_size": 3, "head_dim": 8}),
    # 8x8 tokens on a 4x4 position grid: the embedding is resized (bicubic) in the graph
    "vit": net(
        "vit",
        16,
        {"head_dim": 8, "class_token": True, "pos_grid": 4},
        hw=16,
        stem=("patch_embed", {"patch": 2, "norm": False}),
        head=("vit", {"pool": "cls"}),
    ),
}
ONNX = all(importlib.util.find_spec(p) for p in ("onnx", "onnxscript"))


def cases() -> dict[str, ArchSpec]:
    """The hand-picked networks, plus one for every registered family none of them uses: a new
    family is exported without anyone adding it here."""
    out = dict(NETS)
    used = {"stem": {s.stem.type for s in NETS.values()}, "head": {s.head.type for s in NETS.values()}}
    used["stage"] = {st.block for s in NETS.values() for st in s.stages}
    used["decoder"] = set()
    make = {"stage": stage_spec, "decoder": decoder_spec}
    for kind in registry.KINDS:
        for name in sorted(set(library.names(kind)) - used[kind]):
            out[f"{kind} {name}"] = make[kind](name) if kind in make else part_spec(kind, name)
    return out


CASES = cases()


@pytest.mark.parametrize("case", sorted(CASES))
def test_torchscript_and_torch_export_match_eager(case, tmp_path):
    exports_match(CASES[case], tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(not ONNX, reason="ONNX export needs the onnx and onnxscript packages (the [onnx] extra)")
@pytest.mark.parametrize("case", sorted(CASES))
def test_onnx_matches_eager(case, tmp_path):
    exports_match(CASES[case], tmp_path, ("onnx",))

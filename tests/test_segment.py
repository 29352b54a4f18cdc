"""Segmentation specs: the fields a decoder brings, `segment` from a classification backbone,
dilation schedules checked as `nas hdc` checks them, and the experiment's `segmentation` section."""

import json

import numpy as np
import pytest
import torch

from blocks import dilation, library
from blocks.complexity import complexity
from blocks.cx import Cx
from blocks.errors import ParamError, SpecError, UserError
from blocks.gridding import hole_free_schedules
from blocks.network import build
from blocks.segment import segment
from blocks.spec import feature_strides, from_dict
from nas import config, zoo
from nas.sweeping.plan import plan_space
from spaces import Context
from tests.cxcheck import assert_matches, one_stage_spec
from tests.familycheck import decoder_spec, exports_match
from tests.test_export_families import ONNX

SEG_TASK = {"task": "segmentation", "dataset": {"name": "segsynthetic"}}  # what a segmentation section needs


def test_a_classification_spec_serialises_without_the_segmentation_fields():
    spec = zoo.get("resnet18")
    assert set(spec.to_dict()) == {"name", "input_shape", "stem", "stages", "head"}
    assert all("dilations" not in s for s in spec.to_dict()["stages"])
    assert spec.model_id == "3cc7d467d266"  # as tests/test_spec.py pins it


def test_a_segmentation_spec_round_trips_and_its_verdicts_stay_out_of_the_model_id():
    spec = segment(zoo.get("resnet50"), decoder="aspp", num_classes=21, output_stride=8)
    data = spec.to_dict()
    assert data["output_stride"] == 8 and data["decoder"] == {"type": "aspp", "params": {}}
    assert [s["stride"] for s in data["stages"]] == [1, 2, 1, 1]
    # without a generator each dilated stage takes the widest hole-free schedule: 1, 3, 9
    assert [s.get("dilations") for s in data["stages"]] == [None, None, [1, 3, 9], [1, 3, 9]]
    assert data["gridding"] == {"stages[2]": "hole-free", "stages[3]": "hole-free"}
    back = from_dict(data)
    assert back == spec and back.model_id == spec.model_id
    data["gridding"] = {"stages[2]": "anything"}
    assert from_dict(data).model_id == spec.model_id


def test_dilation_is_set_on_the_dilatable_convs_in_order_and_keeps_every_map():
    spec = segment(zoo.get("resnet50"), decoder="fcn", num_classes=3, output_stride=16)
    with torch.device("meta"):  # the layers' settings, without ResNet-50's weights
        model = build(spec)
    kept = dilation.dilatable(model.stages[2])  # stage 2 keeps its stride: its first 3x3 is strided
    assert len(kept) == 5 and all(c.dilation == (1, 1) for c in kept)
    traded = [
        m for m in model.stages[3].modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)
    ]
    assert spec.stages[3].dilations == (1, 3, 9)
    assert [(c.dilation, c.padding, c.stride) for c in traded] == [
        ((r, r), (r, r), (1, 1)) for r in (1, 3, 9)
    ]


def test_gridded_schedules_have_holes_with_a_hole_free_ones_receptive_field():
    backbone = zoo.get("resnet50")
    free = segment(backbone, decoder="aspp", num_classes=2, output_stride=16, rng=np.random.default_rng(1))
    grid = segment(
        backbone,
        decoder="aspp",
        num_classes=2,
        output_stride=16,
        schedule="gridded",
        rng=np.random.default_rng(1),
    )
    assert free.to_dict()["gridding"] == {"stages[3]": "hole-free"}
    assert "leaves gridding holes" in grid.to_dict()["gridding"]["stages[3]"]
    # the gridded draw's receptive field equals a hole-free schedule's (the same sum of rates)
    assert any(sum(s) == sum(grid.stages[3].dilations) for s in hole_free_schedules(3, 3, 9))
    assert grid.model_id != free.model_id


def test_an_output_stride_the_backbone_cannot_reach_names_the_legal_ones():
    # resnet18 on a stride-1 stem: features at strides 1, 1, 2, 4, 8
    stem = {"type": "simple", "width": 8, "params": {"stride": 1}}
    stages = [{"block": "res_basic", "depth": 1, "width": 8, "stride": s} for s in (1, 2, 2, 2)]
    small = from_dict({"input_shape": [3, 32, 32], "stem": stem, "stages": stages, "head": {}})
    with pytest.raises(
        ParamError, match=r"output_stride: 16 is not reached .* \[1, 1, 2, 4, 8\]; legal: \[8\]"
    ):
        segment(small, decoder="fcn", num_classes=2, output_stride=16)
    with pytest.raises(ParamError, match=r"output_stride: expected one of \[8, 16, 32\], got 4"):
        segment(small, decoder="fcn", num_classes=2, output_stride=4)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"output_stride": 8}, r"output_stride: 8, but the stem's and stages' strides reach 16"),
        ({"output_stride": 12}, r"output_stride: expected one of \[8, 16, 32\], got 12"),
        (
            {"head": {"type": "classifier", "num_classes": 5}},
            r"head: a segmentation spec's head is type 'dense'",
        ),
        ({"decoder": {"type": "psp"}}, r"decoder.type: unknown decoder 'psp'; legal: \['aspp', 'duc'"),
        (
            {"decoder": {"type": "aspp", "params": {"rates": [0]}}},
            r"decoder.params.rates: expected list of int",
        ),
    ],
)
def test_bad_segmentation_fields_are_refused_naming_the_field(change, message):
    data = {**decoder_spec("aspp").to_dict(), **change}
    with pytest.raises(SpecError, match=message):
        from_dict(data, "seg.yaml")


def test_dilations_are_refused_without_a_decoder_and_on_families_that_set_their_own():
    data = zoo.get("resnet18").to_dict()
    data["stages"][3]["dilations"] = [1, 2, 5]
    with pytest.raises(SpecError, match=r"stages\[3\].dilations: only a segmentation spec"):
        from_dict(data)
    seg = decoder_spec("fcn").to_dict()
    seg["stages"][2] = {"block": "hdc_dilated", "depth": 1, "width": 32, "stride": 2, "dilations": [1, 2]}
    with pytest.raises(SpecError, match=r"stages\[2\].dilations: stage 'hdc_dilated' sets its own rates"):
        from_dict(seg)


def test_the_d_block_refuses_rates_that_reach_past_its_map():
    seg = decoder_spec("regseg").to_dict()  # 32x32 input: the last stage's map is 2x2
    seg["stages"][2] = {
        "block": "d_block",
        "depth": 2,
        "width": 32,
        "stride": 2,
        "params": {"dilations": [1, 2]},
    }
    with pytest.raises(SpecError, match=r"params.dilations: rates \[2\] reach past the 2-pixel side"):
        from_dict(seg)
    seg["stages"][2]["params"]["dilations"] = [1]
    assert build(from_dict(seg))(torch.randn(1, 3, 32, 32)).shape == (1, 5, 32, 32)


def test_the_segmentation_section_turns_each_drawn_backbone_into_a_segmentation_spec():
    data = {
        **SEG_TASK,
        "space": "anynet_x_a",
        "samples": 2,
        "segmentation": {"decoder": "fcn", "output_stride": 8, "schedule": "gridded"},
    }
    exp = config.parse(data, "seg.yaml")
    assert exp.segmentation.schedule == "gridded" and "segmentation" in exp.to_dict()
    assert "segmentation" not in config.parse({"space": "anynet_x_a"}).to_dict()
    ctx = Context((3, 64, 64), 4)
    plan = plan_space(exp, 0, ctx)
    for entry in plan:
        spec = from_dict(entry.spec)
        assert spec.decoder.type == "fcn" and spec.output_stride == 8 and spec.head.num_classes == 4
        assert all("leaves gridding holes" in v for v in entry.spec["gridding"].values())
        assert entry.complexity["params"] > 0


@pytest.mark.parametrize(
    "section, message",
    [
        ({"decoder": "psp"}, r"seg.yaml: segmentation.decoder: unknown decoder 'psp'"),
        (
            {"decoder": "aspp", "output_stride": 4},
            r"segmentation.output_stride: expected int in \[8, 16, 32\]",
        ),
        (
            {"decoder": "aspp", "decoder_params": {"width": 1}},
            r"segmentation.decoder_params.width: expected int",
        ),
        ({"output_stride": 8}, r"segmentation.decoder: required"),
    ],
)
def test_a_bad_segmentation_section_names_the_file_and_field(section, message):
    with pytest.raises(UserError, match=message):
        config.parse({"space": "anynet_x_a", "segmentation": section}, "seg.yaml")


# TuSimple-DUC's get_resnet_hdc: torchvision's ResNet-101 less fc (42,500,160), its 7x7 stem
# (9,408 + BN 128) replaced by 3x3 convs 3-64, 64-64, 64-128 with BN, so res2a reads 128 channels
# (its 1x1 reduce to 64 and projection to 256 grow by 64 x 64 and 64 x 256); the DUC sums four
# biased 3x3 convs from 2048 to 19 classes x 16 cells (ds_rate 8 / cell_width 2)
HDC_STEM = 3 * 64 * 9 + 64 * 64 * 9 + 64 * 128 * 9 + 2 * (64 + 64 + 128)
HDC_BACKBONE = 42_500_160 - (9_408 + 128) + HDC_STEM + 64 * 64 + 64 * 256
HDC_DUC = 4 * (2048 * 9 * 19 * 16 + 19 * 16)
# the rates of res4_1 .. res4_23 and res5_1 .. res5_3 as the reference code lists them
HDC_RES4 = [2, 2, 5, 9, 1, 2, 5, 9, 1, 2, 5, 9, 1, 2, 5, 9, 1, 2, 5, 9, 1, 2, 5]
HDC_RES5 = [5, 9, 17]


@pytest.mark.parametrize(
    "name, params",
    [
        ("unext", 1_471_921),  # the official code's count at one class
        ("unext_s", 253_561),  # the official UNext_S module list; the paper's table says 0.32M
        ("deeplabv3_resnet50_aux", 42_004_074),  # torchvision's, weights with the aux head
        (
            "deeplabv3_resnet50",
            42_004_074 - 2_365_205,
        ),  # less FCNHead(1024, 21): 9*1024*256 + 512 + 256*21 + 21
        ("fcn_resnet50_aux", 35_322_218),
        ("fcn_resnet50", 35_322_218 - 2_365_205),
        ("lraspp_mobilenet_v3_large", 3_221_538),  # torchvision's, at 21 classes
        ("regseg", 3_334_951),  # the paper's 3.34M; the official exp48_decoder26 at 19 classes
        ("resnet101_duc_hdc", HDC_BACKBONE + HDC_DUC),  # TuSimple's reference code, see below
    ],
)
def test_zoo_segmentation_networks_have_their_published_parameter_counts(name, params):
    assert complexity(zoo.get(name)).params == params


def test_resnet101_duc_hdc_has_the_reference_codes_rates_stem_and_half_resolution_cells():
    assert HDC_BACKBONE + HDC_DUC == 65_038_464
    spec = zoo.get("resnet101_duc_hdc")
    with torch.device("meta"):
        model = build(spec)
    rates = [
        [m.dilation[0] for m in stage.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
        for stage in model.stages
    ]
    assert rates == [[1] * 3, [1] * 4, HDC_RES4, HDC_RES5]
    assert [c.dilation[0] for c in model.decoder.convs] == [6, 12, 18, 24] and model.decoder.cell == 4
    res3a = model.stages[1][0]  # Caffe's ResNet: the first 1x1 strides, the 3x3 does not
    assert (res3a.a.stride, res3a.b.stride, res3a.proj.conv.stride) == ((2, 2), (1, 1), (2, 2))
    assert spec.to_dict()["gridding"]["stages[2]"] == "hole-free"
    # MXNet's unpadded 3x3/2 pool: 1024x2048 -> 512x1024 -> 255x511, and res3 halves that to 128x256
    assert (
        Cx(1024, 2048).h
        and library.get("stem", "deep").complexity(Cx(1024, 2048), 3, 128, pool_padding=0).h == 255
    )


@pytest.mark.parametrize("stride_at", ["3x3", "1x1"])
def test_a_bottleneck_strides_its_1x1_or_its_3x3_at_the_same_parameters(stride_at):
    spec = one_stage_spec(
        "res_bottleneck_x", 16, 32, 2, 2, 9, {"bottleneck_ratio": 2.0, "stride_at": stride_at}
    )
    assert_matches(spec)
    assert (
        complexity(spec).params
        == complexity(one_stage_spec("res_bottleneck_x", 16, 32, 2, 2, 9, {"bottleneck_ratio": 2.0})).params
    )


def test_a_duc_with_cell_width_2_predicts_at_half_resolution():
    spec = decoder_spec("duc", {"rates": [1, 2], "cell_width": 2})
    model = build(spec).eval()
    assert model.decoder(model_features(model, torch.randn(1, 3, 32, 32))).shape == (1, 5, 16, 16)
    assert_matches(spec)
    with pytest.raises(SpecError, match=r"decoder.params.cell_width: expected int in \[1, 2, 4, 8\], got 3"):
        decoder_spec("duc", {"cell_width": 3})


def model_features(model, x):
    """The stem's and every stage's outputs, as the network hands them to its decoder."""
    feats = [model.stem(x)]
    for stage in model.stages:
        feats.append(stage(feats[-1]))
    return feats


def test_torchvisions_rates_grid_in_layer4_and_the_spec_says_so():
    grid = zoo.get("deeplabv3_resnet50").to_dict()["gridding"]
    assert grid["stages[2]"] == "hole-free"
    assert grid["stages[3]"].startswith(
        "schedule [2, 4, 4] with kernel 3 leaves gridding holes at offsets ±1, ±3"
    )


def _small_dilated():
    stem = {"type": "simple", "width": 8}  # stride 2: features at strides 2, 4, 8, 16
    stages = [{"block": "res_basic", "depth": 1, "width": 8, "stride": 2} for _ in range(3)]
    backbone = from_dict({"input_shape": [3, 32, 32], "stem": stem, "stages": stages, "head": {}})
    return segment(backbone, decoder="fcn", num_classes=3, output_stride=8, rng=np.random.default_rng(0))


@pytest.mark.slow
def test_a_dilated_segmentation_network_exports_to_torchscript_and_torch_export(tmp_path):
    spec = _small_dilated()
    assert spec.stages[2].dilations and spec.stages[2].stride == 1
    exports_match(spec, tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(not ONNX, reason="ONNX export needs the onnx and onnxscript packages (the [onnx] extra)")
def test_a_dilated_segmentation_network_exports_to_onnx(tmp_path):
    exports_match(_small_dilated(), tmp_path, ("onnx",))


def test_the_lraspp_decoder_has_torchvisions_head_count_on_mobilenet_v3_large_features():
    # torchvision's lraspp_mobilenet_v3_large at 21 classes: 3,221,538 = its MobileNetV3-Large
    # features (5,483,032 less the 2,511,080 of the classifier) + the head on the 40-channel
    # stride-8 feature and the 960-channel last one
    fam = library.get("decoder", "lraspp")
    sizes = ((16, 16), (8, 8), (4, 4))
    head = fam.complexity(Cx(4, 4), (24, 40, 960), (4, 8, 16), 21, sizes=sizes).params
    assert head == 3_221_538 - (5_483_032 - 2_511_080)


def test_skips_come_from_before_the_deepest_feature_when_dilation_keeps_strides_equal():
    # at output stride 8 the last two stages both run at 1/8: RegSeg's 1/8 skip is the first of them
    stem = {"type": "simple", "width": 8}
    stages = [{"block": "res_basic", "depth": 1, "width": w, "stride": 2} for w in (8, 16, 16)]
    backbone = from_dict({"input_shape": [3, 32, 32], "stem": stem, "stages": stages, "head": {}})
    spec = segment(backbone, decoder="regseg", num_classes=3, output_stride=8)
    assert feature_strides(spec) == (2, 4, 8, 8)
    model = build(spec)
    assert (model.decoder.i4, model.decoder.i8) == (1, 2)
    assert_matches(spec)


def test_optimize_mode_draws_segmentation_specs_too():
    import optuna

    from nas.sweeping.optimize import DefineByRun
    from spaces import Limits, get

    exp = config.parse(
        {**SEG_TASK, "space": "anynet_x_a", "segmentation": {"decoder": "fcn", "output_stride": 16}}
    )
    options = get("anynet_x_a").resolve({})
    define = DefineByRun("anynet_x_a", options, Context((3, 64, 64), 4), Limits(), 0, [0], exp.segmentation)
    entry = json.loads(define(optuna.create_study().ask())["nas_entry"])
    spec = from_dict(entry["spec"])
    assert (spec.decoder.type, spec.output_stride, spec.head.type) == ("fcn", 16, "dense")


@pytest.mark.parametrize(
    "name", ["unext_s", "regseg"]
)  # unext: unext_s wider, checked by `nas build --check`
def test_zoo_segmentation_networks_cost_what_pytorch_measures(name):
    # at 64x64 (RegSeg's 1/16 map is then 4x4: its rates of 4 and 14 are refused, so rates 1, 2)
    data = zoo.get(name).to_dict()
    data["input_shape"] = [3, 64, 64]
    for stage in data["stages"]:
        if stage["block"] == "d_block":
            stage["params"]["dilations"] = [min(r, 2) for r in stage["params"].get("dilations", [1])]
    assert_matches(from_dict(data))


def test_swin_stages_hand_their_patch_merged_maps_to_a_u_shaped_decoder():
    swin = {"window_size": 2, "head_dim": 8}
    backbone = from_dict(
        {
            "input_shape": [3, 32, 32],
            "stem": {"type": "patch_embed", "width": 8, "params": {"patch": 2}},
            "stages": [
                {"block": "swin", "depth": 2, "width": w, "stride": s, "params": swin}
                for w, s in ((8, 1), (16, 2), (32, 2))
            ],
            "head": {"type": "norm_pool"},
        }
    )
    spec = segment(backbone, decoder="unext", num_classes=2, output_stride=8)
    assert feature_strides(spec) == (2, 2, 4, 8) and all(not st.dilations for st in spec.stages)
    assert_matches(spec)

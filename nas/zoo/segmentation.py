"""Segmentation networks: UNeXt and UNeXt-S (Valanarasu & Patel 2022, official code's layout),
torchvision's DeepLabv3-ResNet50 and FCN-ResNet50 (with and without the auxiliary head) and
LR-ASPP MobileNetV3-Large, RegSeg
(Gao 2021, official code's `exp48_decoder26`) and ResNet-101-DUC-HDC (Wang et al. 2018).

The torchvision ones are ResNet-50 at output stride 8, as `replace_stride_with_dilation=[False,
True, True]` builds it: the first 3x3 of a traded stage keeps the rate before it, the others take
the doubled one, so layer3 runs at rates 1, 2, 2, 2, 2, 2 and layer4 at 2, 4, 4 (which grids,
as the spec's `gridding` records).
"""

from __future__ import annotations

from typing import Any

from blocks.spec import ArchSpec, from_dict
from nas.zoo.mobile import mobilenet_v3_stages
from nas.zoo.registry import register
from nas.zoo.resnet import resnet


def dilated_resnet(
    depths: list[int],
    name: str,
    decoder: str,
    params: dict[str, Any],
    classes: int,
    rates: list[list[int]],
    shape: list[int],
) -> ArchSpec:
    """A bottleneck ResNet whose last two stages trade their stride for the given rates (output stride 8)."""
    data = resnet(depths, True, name).to_dict()
    for stage, r in zip(data["stages"][2:], rates):
        stage["stride"], stage["dilations"] = 1, r
    data.update(
        input_shape=shape,
        head={"type": "dense", "num_classes": classes},
        decoder={"type": decoder, "params": params},
        output_stride=8,
    )
    return from_dict(data)


TORCHVISION_RATES = [[1, 2, 2, 2, 2, 2], [2, 4, 4]]
VOC = [3, 520, 520]  # torchvision's segmentation reference resizes to 520 for evaluation


for _aux in (False, True):
    _tail = "_aux" if _aux else ""
    register(f"deeplabv3_resnet50{_tail}")(
        lambda a=_aux, t=_tail: dilated_resnet(
            [3, 4, 6, 3], f"deeplabv3_resnet50{t}", "aspp", {"aux": a}, 21, TORCHVISION_RATES, VOC
        )
    )
    register(f"fcn_resnet50{_tail}")(
        lambda a=_aux, t=_tail: dilated_resnet(
            [3, 4, 6, 3], f"fcn_resnet50{t}", "fcn", {"aux": a}, 21, TORCHVISION_RATES, VOC
        )
    )


# ResNet-101-DUC-HDC as the authors' released Cityscapes network builds it (TuSimple/TuSimple-DUC,
# tusimple_duc/networks/resnet.py `get_resnet_hdc` and network_duc_hdc.py, configs/train/
# train_cityscapes.cfg): the deep stem (3x3 convs 64/2, 64, 128, 3x3/2 max pool unpadded);
# res4's 23 blocks at rates 2, 2, 5, 9, then 1, 2, 5, 9 four times, then 1, 2, 5 (res4a keeps
# stride 1 at rate 2); res5 at 5, 9, 17; DUC as four summed 3x3 convs at rates 6, 12, 18, 24 to
# 19 x 16 channels (ds_rate 8 / cell_width 2: 4x4 cells, logits at half resolution, resized).
# res3a strides its first 1x1 (Caffe's ResNet; `stride_at: 1x1`), where torchvision's the 3x3.
HDC_RATES = [[2, 2, 5, 9] + [1, 2, 5, 9] * 4 + [1, 2, 5], [5, 9, 17]]


@register("resnet101_duc_hdc")
def resnet101_duc_hdc() -> ArchSpec:
    """The reference code's network at 19 classes and 1024x2048: 65,038,464 parameters."""
    duc = {"rates": [6, 12, 18, 24], "cell_width": 2}
    data = dilated_resnet(
        [3, 4, 23, 3], "resnet101_duc_hdc", "duc", duc, 19, HDC_RATES, [3, 1024, 2048]
    ).to_dict()
    data["stem"] = {"type": "deep", "width": 128, "params": {"pool_padding": 0}}
    data["stages"][1]["params"]["stride_at"] = "1x1"
    return from_dict(data)


@register("lraspp_mobilenet_v3_large")
def lraspp_mobilenet_v3_large() -> ArchSpec:
    """torchvision's LR-ASPP on MobileNetV3-Large built `dilated`: the last bottleneck stage keeps
    stride 1 at rate 2 (output stride 16); the decoder reads the first stride-8 block's output (40
    channels) and the 960-channel conv. 21 classes at 520x520: 3,221,538 parameters, as torchvision's."""
    stages = mobilenet_v3_stages()
    stages[-2].update(stride=1, dilations=[2])
    return from_dict(
        {
            "name": "lraspp_mobilenet_v3_large",
            "input_shape": VOC,
            "stem": {"type": "conv_bn_act", "width": 16, "params": {"activation": "hardswish"}},
            "stages": stages,
            "head": {"type": "dense", "num_classes": 21},
            "decoder": {"type": "lraspp", "params": {"low_at": "first"}},
            "output_stride": 16,
        }
    )


def unext(widths: list[int], name: str, classes: int = 1) -> ArchSpec:
    """Three conv levels (3x3 conv with bias, BN, 2x2 max pool, ReLU), two tokenised shifted-MLP
    levels at stride 2, and UNeXt's decoder; 256x256 inputs as in the paper's ISIC and BUSI runs."""
    conv = {"norm": "bn"}
    return from_dict(
        {
            "name": name,
            "input_shape": [3, 256, 256],
            "stem": {"type": "vgg_pool", "width": widths[0], "params": conv},
            "stages": [
                {"block": "vgg", "depth": 1, "width": widths[1], "stride": 2, "params": conv},
                {"block": "vgg", "depth": 1, "width": widths[2], "stride": 2, "params": conv},
                {"block": "shift_mlp", "depth": 1, "width": widths[3], "stride": 2},
                {"block": "shift_mlp", "depth": 1, "width": widths[4], "stride": 2},
            ],
            "head": {"type": "dense", "num_classes": classes},
            "decoder": {"type": "unext"},
            "output_stride": 32,
        }
    )


register("unext")(lambda: unext([16, 32, 128, 160, 256], "unext"))
register("unext_s")(lambda: unext([8, 16, 32, 64, 128], "unext_s"))


@register("regseg")
def regseg() -> ArchSpec:
    """RegSeg on Cityscapes (19 classes, 1024x2048): stem 32, D-block stages 48 (1/4), 128 x3 (1/8),
    256 x13 at rates 1, 1, 2, 4 x4, 14 x6 and 320 at 14 (1/16), and the light decoder."""
    d_block = "d_block"
    return from_dict(
        {
            "name": "regseg",
            "input_shape": [3, 1024, 2048],
            "stem": {"type": "simple", "width": 32},
            "stages": [
                {"block": d_block, "depth": 1, "width": 48, "stride": 2},
                {"block": d_block, "depth": 3, "width": 128, "stride": 2},
                {
                    "block": d_block,
                    "depth": 13,
                    "width": 256,
                    "stride": 2,
                    "params": {"dilations": [1, 1, 2] + [4] * 4 + [14] * 6},
                },
                {"block": d_block, "depth": 1, "width": 320, "stride": 1, "params": {"dilations": [14]}},
            ],
            "head": {"type": "dense", "num_classes": 19},
            "decoder": {"type": "regseg"},
            "output_stride": 16,
        }
    )

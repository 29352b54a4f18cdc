"""MobileNetV1 1.0-224 (Howard et al. 2017), MobileNetV2 (Sandler et al. 2018), EfficientNet-B0
(Tan & Le 2019) and MobileNetV3-Large (Howard et al. 2019), the last three in torchvision's layouts.

One mbconv stage per row of each paper's block table. EfficientNet's stochastic depth grows
linearly to 0.2 over its 16 blocks as in torchvision, but per stage here: each stage takes the
rate of its first block. Parameter counts equal torchvision's (3,504,872 and 5,288,548).

MobileNetV3-Large is one mbconv stage per run of Table 1's rows that share expansion ratio,
kernel, SE and activation (torchvision's `_mobilenet_v3_conf`), then the 1x1 conv to 960 as a
stage (LR-ASPP reads it) and the pooled 1280-wide hard-swish classifier: 5,483,032 parameters as
torchvision's. torchvision's BN there has eps 1e-3 and momentum 0.01; the mbconv family keeps
PyTorch's defaults (the count is the same; the outputs differ by the eps).
"""

from __future__ import annotations

from blocks.spec import ArchSpec, from_dict
from nas.zoo.registry import register

# (output width, blocks, stride of the first) per resolution of the paper's Table 1; its last
# "Conv dw / s2" runs at stride 1 (the 7x7 map stays 7x7, as its output column says)
MOBILENET_V1 = [(64, 1, 1), (128, 2, 2), (256, 2, 2), (512, 6, 2), (1024, 2, 2)]
# (expand ratio t, kernel, output width, blocks n, stride s) per row
MOBILENET_V2 = [
    (1, 3, 16, 1, 1),
    (6, 3, 24, 2, 2),
    (6, 3, 32, 3, 2),
    (6, 3, 64, 4, 2),
    (6, 3, 96, 3, 1),
    (6, 3, 160, 3, 2),
    (6, 3, 320, 1, 1),
]
EFFICIENTNET_B0 = [
    (1, 3, 16, 1, 1),
    (6, 3, 24, 2, 2),
    (6, 5, 40, 2, 2),
    (6, 3, 80, 3, 2),
    (6, 5, 112, 3, 1),
    (6, 5, 192, 4, 2),
    (6, 3, 320, 1, 1),
]

# (expand ratio, kernel, output width, blocks, stride of the first, SE, hard swish): Table 1's rows,
# expanded widths 16, 64, 72, 72 120 120, 240, 200, 184 184, 480 672, 672 960 960
MOBILENET_V3_LARGE = [
    (1.0, 3, 16, 1, 1, False, False),
    (4.0, 3, 24, 1, 2, False, False),
    (3.0, 3, 24, 1, 1, False, False),
    (3.0, 5, 40, 1, 2, True, False),  # apart: torchvision's LR-ASPP reads this block's output
    (3.0, 5, 40, 2, 1, True, False),
    (6.0, 3, 80, 1, 2, False, True),
    (2.5, 3, 80, 1, 1, False, True),
    (2.3, 3, 80, 2, 1, False, True),
    (6.0, 3, 112, 2, 1, True, True),
    (6.0, 5, 160, 3, 2, True, True),
]
# MobileNetV3's SE: a quarter of the expanded width to a multiple of 8, ReLU inside, hard-sigmoid gate
MOBILENET_V3_SE = {
    "se_ratio": 0.25,
    "se_round": "expanded8",
    "se_activation": "relu",
    "se_gate": "hard_sigmoid",
}


def mobilenet_v3_stages() -> list[dict]:
    """MobileNetV3-Large's stages: the bottleneck rows, then the 1x1 conv to 960 with hard swish."""
    stages = []
    for t, k, width, n, s, se, hs in MOBILENET_V3_LARGE:
        params = {"expand_ratio": t, "kernel": k, "activation": "hardswish" if hs else "relu"}
        stages.append(
            {
                "block": "mbconv",
                "depth": n,
                "width": width,
                "stride": s,
                "params": params | (MOBILENET_V3_SE if se else {}),
            }
        )
    stages.append({"block": "conv_bn_act", "depth": 1, "width": 960, "stride": 1, "params": {"kernel": 1}})
    return stages


@register("mobilenet_v3_large")
def mobilenet_v3_large() -> ArchSpec:
    """Stem 3x3/2 to 16 with hard swish, the stages, pool, linear to 1280, hard swish, dropout 0.2."""
    return from_dict(
        {
            "name": "mobilenet_v3_large",
            "input_shape": [3, 224, 224],
            "stem": {"type": "conv_bn_act", "width": 16, "params": {"activation": "hardswish"}},
            "stages": mobilenet_v3_stages(),
            "head": {"type": "pool_mlp", "num_classes": 1000, "params": {"width": 1280, "dropout": 0.2}},
        }
    )


def mobile_net(
    rows: list[tuple[int, int, int, int, int]], activation: str, se_ratio: float, drop_path: float, name: str
) -> ArchSpec:
    """Conv stem 32, one mbconv stage per row, 1x1 conv head to 1280 with dropout 0.2."""
    total, before, stages = sum(r[3] for r in rows), 0, []
    for t, k, width, n, s in rows:
        params = {"expand_ratio": float(t), "kernel": k, "se_ratio": se_ratio, "activation": activation}
        if drop_path:
            params["drop_path"] = drop_path * before / total
        stages.append({"block": "mbconv", "depth": n, "width": width, "stride": s, "params": params})
        before += n
    return from_dict(
        {
            "name": name,
            "input_shape": [3, 224, 224],
            "stem": {"type": "conv_bn_act", "width": 32, "params": {"activation": activation}},
            "stages": stages,
            "head": {
                "type": "conv_classifier",
                "num_classes": 1000,
                "params": {"width": 1280, "activation": activation, "dropout": 0.2},
            },
        }
    )


register("mobilenet_v2")(lambda: mobile_net(MOBILENET_V2, "relu6", 0.0, 0.0, "mobilenet_v2"))
register("efficientnet_b0")(lambda: mobile_net(EFFICIENTNET_B0, "silu", 0.25, 0.2, "efficientnet_b0"))


@register("mobilenet_v1")
def mobilenet_v1() -> ArchSpec:
    """Table 1: a full 3x3/2 conv of 32, thirteen separable blocks, 7x7 average pool and classifier."""
    return from_dict(
        {
            "name": "mobilenet_v1",
            "input_shape": [3, 224, 224],
            "stem": {"type": "conv_bn_act", "width": 32, "params": {"activation": "relu"}},
            "stages": [
                {"block": "separable", "depth": n, "width": w, "stride": s, "params": {"activation": "relu"}}
                for w, n, s in MOBILENET_V1
            ],
            "head": {"num_classes": 1000},
        }
    )

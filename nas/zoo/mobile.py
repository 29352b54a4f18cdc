"""MobileNetV1 1.0-224 (Howard et al. 2017), MobileNetV2 (Sandler et al. 2018) and EfficientNet-B0
(Tan & Le 2019), the last two in torchvision's layouts.

One mbconv stage per row of each paper's block table. EfficientNet's stochastic depth grows
linearly to 0.2 over its 16 blocks as in torchvision, but per stage here: each stage takes the
rate of its first block. Parameter counts equal torchvision's (3,504,872 and 5,288,548).
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

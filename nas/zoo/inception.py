"""GoogLeNet (Szegedy et al. 2015) without its auxiliary classifiers, Inception-v3 (Szegedy et
al. 2016) as torchvision builds it, Inception-v4 and Inception-ResNet-v2 (Szegedy et al. 2017)
as timm does, all at 299x299.

GoogLeNet:

Follows the paper's Table 1 and its reference Caffe net (bvlc_googlenet): true 5x5 convs in
the 5x5 branch, biased convs without BN, LRN after the stem's first max pool and after its
3x3 conv, 3x3/2 max pools between the inception groups, 40% dropout before the classifier.
That is 6,998,552 parameters. torchvision's `googlenet(aux_logits=False)` has 6,624,904:
it puts 3x3 convs in the "5x5" branch (-16 * reduce * out weights per module, 380,928 in
all) and replaces each conv bias by BN's weight and bias (+1 per conv channel, 7,280 in all).
Max pools use padding 1 where Caffe used ceil mode; the sizes agree at 224px.
"""

from __future__ import annotations

from blocks.inception_resnet import BLOCKS
from blocks.spec import ArchSpec, from_dict
from nas.zoo.registry import register

# (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj) per module, grouped by resolution (Table 1)
GOOGLENET = {
    "3": [(64, 96, 128, 16, 32, 32), (128, 128, 192, 32, 96, 64)],
    "4": [
        (192, 96, 208, 16, 48, 64),
        (160, 112, 224, 24, 64, 64),
        (128, 128, 256, 24, 64, 64),
        (112, 144, 288, 32, 64, 64),
        (256, 160, 320, 32, 128, 128),
    ],
    "5": [(256, 160, 320, 32, 128, 128), (384, 192, 384, 48, 128, 128)],
}


@register("googlenet")
def googlenet() -> ArchSpec:
    """GoogLeNet at 224x224 for 1000 classes: the googlenet stem, three inception stages, a classifier."""
    stages = [
        {
            "block": "inception",
            "depth": len(modules),
            "width": sum(modules[-1][i] for i in (0, 2, 4, 5)),
            "stride": 1 if group == "3" else 2,
            "params": {"norm": "none", "branches": [w for m in modules for w in m]},
        }
        for group, modules in GOOGLENET.items()
    ]
    return from_dict(
        {
            "name": "googlenet",
            "input_shape": [3, 224, 224],
            "stem": {"type": "googlenet", "width": 192, "params": {"norm": "lrn"}},
            "stages": stages,
            "head": {"num_classes": 1000, "params": {"dropout": 0.4}},
        }
    )


@register("inception_v3")
def inception_v3(aux: bool = False) -> ArchSpec:
    """torchvision's inception_v3 without its auxiliary classifier (aux_logits=False): 23,834,568
    parameters; the stem to 192 at 35x35, Mixed_5b-d, Mixed_6a-e, Mixed_7a-c, dropout 0.5. With
    `aux` (inception_v3_aux), torchvision's default: AuxLogits on Mixed_6e, 27,161,264."""
    a = [(64, 48, 64, 64, 96, pool) for pool in (32, 64, 64)]
    c = [(192, c7, 192, c7, 192, 192) for c7 in (128, 160, 160, 192)]
    e = (320, 384, 384, 448, 384, 192)
    stages = [
        ("a", 288, 1, a, [], 0),
        ("c", 768, 2, c, [384, 64, 96], 1000 if aux else 0),
        ("e", 2048, 2, [e, e], [192, 320, 192], 0),
    ]
    return from_dict(
        {
            "name": "inception_v3_aux" if aux else "inception_v3",
            "input_shape": [3, 299, 299],
            "stem": {"type": "inception_v3", "width": 192},
            "stages": [
                {
                    "block": "inception_v3",
                    "depth": len(modules),
                    "width": width,
                    "stride": stride,
                    "params": {
                        "module": kind,
                        "branches": [w for m in modules for w in m],
                        "reduction": red,
                        **({"aux_classes": classes} if classes else {}),
                    },
                }
                for kind, width, stride, modules, red, classes in stages
            ],
            "head": {"num_classes": 1000, "params": {"dropout": 0.5}},
        }
    )


register("inception_v3_aux")(lambda: inception_v3(aux=True))


@register("inception_v4")
def inception_v4() -> ArchSpec:
    """timm's inception_v4: 42,679,816 parameters; the stem to 384 at 35x35, four Inception-A,
    Reduction-A and seven Inception-B, Reduction-B and three Inception-C, a plain classifier."""
    stages = [
        ("a", 384, 1, 4, (96, 64, 96, 64, 96, 96), []),
        ("b", 1024, 2, 7, (384, 192, 224, 256, 192, 224, 256, 128), [384, 192, 224, 256]),
        ("c", 1536, 2, 3, (256, 384, 256, 384, 448, 512, 256, 256), [192, 192, 256, 320]),
    ]
    return from_dict(
        {
            "name": "inception_v4",
            "input_shape": [3, 299, 299],
            "stem": {"type": "inception_v4", "width": 384},
            "stages": [
                {
                    "block": "inception_v4",
                    "depth": depth,
                    "width": width,
                    "stride": stride,
                    "params": {"module": kind, "branches": list(widths), "reduction": red},
                }
                for kind, width, stride, depth, widths, red in stages
            ],
            "head": {"num_classes": 1000},
        }
    )


@register("inception_resnet_v2")
def inception_resnet_v2() -> ArchSpec:
    """timm's inception_resnet_v2: 55,843,464 parameters; the stem with Mixed_5b to 320 at 35x35,
    ten A blocks (scale 0.17), Mixed_6a and twenty B blocks (0.1), Mixed_7a and nine C blocks
    (0.2), a last C block (scale 1, no ReLU), the 1x1 conv to 1536 and the classifier."""
    stages = [
        ("a", 320, 1, 10, 0.17, True, []),
        ("b", 1088, 2, 20, 0.1, True, [384, 256, 256, 384]),
        ("c", 2080, 2, 9, 0.2, True, [256, 384, 256, 288, 256, 288, 320]),
        ("c", 2080, 1, 1, 1.0, False, []),
    ]
    return from_dict(
        {
            "name": "inception_resnet_v2",
            "input_shape": [3, 299, 299],
            "stem": {"type": "inception_resnet_v2", "width": 320},
            "stages": [
                {
                    "block": "inception_resnet",
                    "depth": depth,
                    "width": width,
                    "stride": stride,
                    "params": {
                        "module": kind,
                        "branches": list(BLOCKS[kind][0]),
                        "reduction": red,
                        "scale": scale,
                        "relu": relu,
                    },
                }
                for kind, width, stride, depth, scale, relu, red in stages
            ],
            "head": {
                "type": "conv_classifier",
                "num_classes": 1000,
                "params": {"width": 1536, "activation": "relu", "dropout": 0.0},
            },
        }
    )

"""VGG-16 and VGG-16-BN (Simonyan & Zisserman 2015, configuration D), as torchvision builds them.

torchvision's convolutions keep their bias under BN, and its head average-pools to 7x7 (the
map a 224px input already has) before the two 4096-wide hidden layers: 138,357,544 and
138,365,992 parameters. The paper's network is the same at 224px (138M, its Table 2).
"""

from __future__ import annotations

from blocks.spec import ArchSpec, from_dict
from nas.zoo.registry import register

# (width, convs) per resolution; the stem is the first 64-wide conv, so the first stage has one
VGG16 = [(64, 1), (128, 2), (256, 3), (512, 3), (512, 3)]


def vgg16(norm: str, name: str) -> ArchSpec:
    """The vgg stem, five vgg stages each ending in a 2x2/2 max pool, torchvision's vgg head."""
    return from_dict(
        {
            "name": name,
            "input_shape": [3, 224, 224],
            "stem": {"type": "vgg", "width": 64, "params": {"norm": norm}},
            "stages": [
                {"block": "vgg", "depth": n, "width": w, "stride": 2, "params": {"norm": norm}}
                for w, n in VGG16
            ],
            "head": {"type": "vgg", "num_classes": 1000},
        }
    )


register("vgg16")(lambda: vgg16("none", "vgg16"))
register("vgg16_bn")(lambda: vgg16("bn", "vgg16_bn"))

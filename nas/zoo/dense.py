"""DenseNet-121 (Huang et al. 2017; torchvision layout, 7,978,856 parameters).

ResNet-style stem (7x7/2 conv 64, BN, ReLU, 3x3/2 max pool), four dense stages of
(6, 12, 24, 16) layers with growth rate 32 and bn_size 4, transitions with compression 0.5
opening stages 2-4, and BN-ReLU before the pooled classifier.
"""

from __future__ import annotations

from blocks.dense import dense_width
from blocks.spec import ArchSpec, from_dict
from nas.zoo.registry import register


def densenet(depths: list[int], growth_rate: int, w_stem: int, name: str) -> ArchSpec:
    """A DenseNet-BC: the first stage has no transition, later ones halve width and resolution."""
    stages, w_in = [], w_stem
    for i, depth in enumerate(depths):
        width = dense_width(w_in, depth, growth_rate, 1.0 if i == 0 else 0.5)
        stages.append(
            {
                "block": "dense",
                "depth": depth,
                "width": width,
                "stride": 1 if i == 0 else 2,
                "params": {"growth_rate": growth_rate, "bn_size": 4},
            }
        )
        w_in = width
    return from_dict(
        {
            "name": name,
            "input_shape": [3, 224, 224],
            "stem": {"type": "resnet", "width": w_stem},
            "stages": stages,
            "head": {"type": "bn_classifier", "num_classes": 1000},
        }
    )


register("densenet121")(lambda: densenet([6, 12, 24, 16], 32, 64, "densenet121"))

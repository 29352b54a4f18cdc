"""ResNet-18/34/50/101 (He et al. 2016; torchvision layout: stride on the 3x3 conv)."""

from __future__ import annotations

from blocks.spec import from_dict
from nas.zoo.registry import register


def resnet(depths: list[int], bottleneck: bool, name: str):
    """A ResNet with the 7x7 stem; bottleneck stages use b=4 and one group (g = w/b)."""
    widths = [256, 512, 1024, 2048] if bottleneck else [64, 128, 256, 512]
    block = "res_bottleneck_x" if bottleneck else "res_basic"
    stages = [
        {
            "block": block,
            "depth": d,
            "width": w,
            "stride": 1 if i == 0 else 2,
            "params": {"bottleneck_ratio": 4.0, "group_width": w // 4} if bottleneck else {},
        }
        for i, (w, d) in enumerate(zip(widths, depths))
    ]
    return from_dict(
        {
            "name": name,
            "input_shape": [3, 224, 224],
            "stem": {"type": "resnet", "width": 64},
            "stages": stages,
            "head": {"num_classes": 1000},
        }
    )


register("resnet18")(lambda: resnet([2, 2, 2, 2], False, "resnet18"))
register("resnet34")(lambda: resnet([3, 4, 6, 3], False, "resnet34"))
register("resnet50")(lambda: resnet([3, 4, 6, 3], True, "resnet50"))
register("resnet101")(lambda: resnet([3, 4, 23, 3], True, "resnet101"))

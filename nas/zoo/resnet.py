"""ResNet-18/34/50/101 (He et al. 2016; torchvision layout: stride on the 3x3 conv), and
SE-ResNet-50 and SE-ResNeXt-50 32x4d (Hu et al. 2018) as timm builds them: the same layout with
SE (width 1/16 of the block's output) on the last BN's output, before the addition."""

from __future__ import annotations

from blocks.spec import from_dict
from nas.zoo.registry import register


def resnet(depths: list[int], bottleneck: bool, name: str, *, block: str = "", groups: int = 1):
    """A ResNet with the 7x7 stem; bottleneck stages (of `block`, res_bottleneck_x unless named)
    have `groups` groups of width 128 / groups in the first stage: b = 4 for one group (ResNet),
    b = 2 for 32 groups of 4 (ResNeXt 32x4d)."""
    widths = [256, 512, 1024, 2048] if bottleneck else [64, 128, 256, 512]
    block = block or ("res_bottleneck_x" if bottleneck else "res_basic")
    ratio = 4.0 if groups == 1 else 2.0
    stages = [
        {
            "block": block,
            "depth": d,
            "width": w,
            "stride": 1 if i == 0 else 2,
            "params": {"bottleneck_ratio": ratio, "group_width": int(w / ratio) // groups}
            if bottleneck
            else {},
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
register("seresnet50")(lambda: resnet([3, 4, 6, 3], True, "seresnet50", block="res_bottleneck_se"))
register("seresnext50_32x4d")(
    lambda: resnet([3, 4, 6, 3], True, "seresnext50_32x4d", block="res_bottleneck_se", groups=32)
)

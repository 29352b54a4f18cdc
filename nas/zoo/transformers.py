"""Swin-T (Liu et al. 2021) and ViT-B/16 (Dosovitskiy et al. 2021), torchvision's layouts."""

from __future__ import annotations

from blocks.spec import ArchSpec, from_dict
from nas.zoo.registry import register


@register("swin_t")
def swin_t() -> ArchSpec:
    """Patch 4 + LayerNorm, widths 96..768, depths 2/2/6/2, 32-dim heads, window 7, final LN head."""
    stages = [
        {
            "block": "swin",
            "depth": d,
            "width": w,
            "stride": 1 if i == 0 else 2,
            "params": {"window_size": 7, "head_dim": 32, "mlp_ratio": 4.0, "qkv_bias": True},
        }
        for i, (w, d) in enumerate(zip([96, 192, 384, 768], [2, 2, 6, 2]))
    ]
    return from_dict(
        {
            "name": "swin_t",
            "input_shape": [3, 224, 224],
            "stem": {"type": "patch_embed", "width": 96, "params": {"patch": 4, "norm": True}},
            "stages": stages,
            "head": {"type": "norm_pool", "num_classes": 1000},
        }
    )


@register("vit_b_16")
def vit_b_16() -> ArchSpec:
    """16x16 patches, class token, 197 learned positions, 12 blocks of width 768 (12 heads), cls head."""
    return from_dict(
        {
            "name": "vit_b_16",
            "input_shape": [3, 224, 224],
            "stem": {"type": "patch_embed", "width": 768, "params": {"patch": 16, "norm": False}},
            "stages": [
                {
                    "block": "vit",
                    "depth": 12,
                    "width": 768,
                    "stride": 1,
                    "params": {"head_dim": 64, "mlp_ratio": 4.0, "class_token": True, "pos_grid": 14},
                }
            ],
            "head": {"type": "vit", "num_classes": 1000, "params": {"pool": "cls"}},
        }
    )

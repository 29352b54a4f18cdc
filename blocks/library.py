"""The complete block library: importing it registers every family and decoder, so look families up here.

The registry module only stores what is registered; this module imports every family module
first, which keeps the lookups complete without the registry importing its families back.
"""

from blocks import (  # noqa: F401  (imported to register their families)
    aspp,
    dense,
    dilated,
    duc,
    heads,
    inception,
    inception_resnet,
    inception_v3,
    inception_v4,
    lraspp,
    mbconv,
    regseg,
    residual,
    separable,
    shiftmlp,
    stems,
    swin,
    swinmlp,
    tokens,
    unext,
    vanilla,
    vgg,
    vit,
)
from blocks.registry import KINDS, families, get, names

__all__ = ["KINDS", "families", "get", "names"]

"""Imports every module that registers a family, so the registry is complete once loaded."""

from blocks import (  # noqa: F401
    dense,
    dilated,
    heads,
    inception,
    mbconv,
    residual,
    shiftmlp,
    stems,
    swin,
    swinmlp,
    tokens,
    vit,
)

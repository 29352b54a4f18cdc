"""Imports every module that registers a family, so the registry is complete once loaded."""

from blocks import dense, dilated, heads, inception, mbconv, residual, shiftmlp, stems, swin, swinmlp, vit  # noqa: F401

"""Imports every module that registers a family, so the registry is complete once loaded."""

from blocks import heads, residual, stems  # noqa: F401

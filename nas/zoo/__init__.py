"""Canonical networks as ArchSpecs, by name: `nas build resnet50` rebuilds them from data alone.

Each module registers builder functions returning ArchSpecs at 224x224 for 1000 classes
(unless the builder's arguments say otherwise). `load_spec` reads the other way a spec is
named: a spec file.
"""

from nas.zoo import (  # noqa: F401  (register)
    dense,
    inception,
    mobile,
    regnet,
    resnet,
    segmentation,
    transformers,
    vgg,
)
from nas.zoo.registry import get, load_spec, names, register

__all__ = ["get", "load_spec", "names", "register"]

"""Named RegNets from the paper's published (d, w_0, w_a, w_m, g), built with pycls' rounding
(numpy half-to-even), the paper's reference implementation; torchvision rounds half-up and
its regnet_x_400mf therefore has other stage widths and 5,495,976 parameters."""

from __future__ import annotations

from blocks.spec import ArchSpec, HeadSpec, StemSpec
from blocks.widths import regnet_stages
from nas.zoo.registry import register

# name: (d, w_0, w_a, w_m, g)  — Radosavovic et al. 2020, appendix / pycls model zoo
REGNETX = {
    "200mf": (13, 24, 36.44, 2.49, 8),
    "400mf": (22, 24, 24.48, 2.54, 16),
    "600mf": (16, 48, 36.97, 2.24, 24),
    "800mf": (16, 56, 35.73, 2.28, 16),
    "1.6gf": (18, 80, 34.01, 2.25, 24),
}
REGNETY = {
    "200mf": (13, 24, 36.44, 2.49, 8),
    "400mf": (16, 48, 27.89, 2.09, 8),
    "600mf": (15, 48, 32.54, 2.32, 16),
    "800mf": (14, 56, 38.84, 2.4, 16),
    "1.6gf": (27, 48, 20.71, 2.65, 24),
}


def named_regnet(name: str, params: tuple, se_ratio: float) -> ArchSpec:
    """A RegNet on 224x224 ImageNet: stride-2 3x3 stem of 32, four stride-2 stages, classifier."""
    d, w0, wa, wm, g = params
    stages = regnet_stages(w0, wa, wm, d, g, se_ratio=se_ratio)
    return ArchSpec(StemSpec("simple", 32, {"stride": 2}), tuple(stages), HeadSpec(1000), (3, 224, 224), name)


for _k, _p in REGNETX.items():
    register(f"regnetx_{_k}")(lambda k=_k, p=_p: named_regnet(f"regnetx_{k}", p, 0.0))
for _k, _p in REGNETY.items():
    register(f"regnety_{_k}")(lambda k=_k, p=_p: named_regnet(f"regnety_{k}", p, 0.25))

"""Adding a family is one module: a throwaway family, registered inside this test only, is
validated, drawn by the `mixed` space, costed exactly and exported, by the same helpers the
registry-driven tests use, with nothing about it written anywhere else."""

from typing import Any

import pytest
import torch
from torch import nn

import spaces
from blocks import cx as C
from blocks import library, registry
from blocks.schema import Param
from blocks.spec import SpecError
from spaces import mixed  # noqa: F401  (its defaults list the families registered when it loads: before tiny)
from tests.cxcheck import assert_matches, one_stage_spec
from tests.familycheck import SMALL, exports_match, stage_spec


def _no_strided_1x1(stride: int, kernel: int, **_) -> list[tuple[str, str]]:
    if stride == 2 and kernel == 1:
        return [("kernel", "a 1x1 conv at stride 2 skips three pixels in four; use kernel 3")]
    return []


class TinyStage(nn.Sequential):
    """Plain conv stage: `depth` k x k convs with BN and ReLU, the first at the stage stride."""

    def __init__(self, w_in: int, w_out: int, stride: int, depth: int, **params: Any):
        k = self.family.resolve(params)["kernel"]
        layers: list[nn.Module] = []
        for i in range(depth):
            conv = nn.Conv2d(
                w_in if i == 0 else w_out, w_out, k, stride=stride if i == 0 else 1, padding=k // 2
            )
            layers += [conv, nn.BatchNorm2d(w_out), nn.ReLU()]
        super().__init__(*layers)

    @classmethod
    def complexity(cls, cx: C.Cx, w_in: int, w_out: int, stride: int, depth: int, **params: Any) -> C.Cx:
        k = cls.family.resolve(params)["kernel"]
        for i in range(depth):
            C.conv2d(cx, w_in if i == 0 else w_out, w_out, k, stride=stride if i == 0 else 1, bias=True)
            C.norm(cx, w_out)
        return cx


@pytest.fixture
def tiny():
    schema = {"kernel": Param(int, 3, "conv kernel", choices=(1, 3, 5), grid=(1, 3))}
    with registry.registered("stage", "tiny", TinyStage, schema=schema, rules=(_no_strided_1x1,)) as fam:
        yield fam
    assert "tiny" not in library.names("stage") and not hasattr(TinyStage, "family")


def test_registered_family_is_validated(tiny):
    assert "tiny" in library.names("stage")
    assert (
        sum(p.numel() for p in TinyStage(8, 16, 2, 2).parameters())
        == 8 * 9 * 16 + 16 * 9 * 16 + 4 * 16 + 2 * 16
    )
    with pytest.raises(SpecError, match=r"stages\[0\].params.kernel: expected int in \[1, 3, 5\], got 4"):
        one_stage_spec("tiny", 8, 16, 1, 1, 8, {"kernel": 4})
    with pytest.raises(SpecError, match=r"stages\[0\].params.kernel: a 1x1 conv at stride 2"):
        one_stage_spec("tiny", 8, 16, 2, 1, 8, {"kernel": 1})


def test_registered_family_is_drawn_by_mixed_from_its_grid(tiny):
    options = {"families": ["tiny"], "stages": 2, "strides": [1, 2], "max_width": 16, "max_depth": 2}
    samples = spaces.sample(spaces.get("mixed"), 30, 0, ctx=SMALL, options=options)
    kernels = {s.values["s1_tiny_kernel"] for s in samples}
    assert kernels == {1, 3}  # the declared grid, not the legal choices
    strided = [st.params["kernel"] for s in samples for st in s.spec.stages if st.stride == 2]
    assert strided and 1 not in strided  # the rule's refusals were redrawn


def test_registered_family_costs_what_it_runs_and_exports(tiny, tmp_path):
    spec = stage_spec("tiny")
    assert_matches(spec)
    exports_match(spec, tmp_path)
    out = torch.jit.load(str(next(tmp_path.rglob("model.ts"))))(torch.randn(1, *spec.input_shape))
    assert out.shape == (1, spec.head.num_classes)

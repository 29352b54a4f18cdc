"""The registry is the one declaration of each family: tests iterate it, so a new family is covered
without being named here. Analytic == measured complexity, defaults from the schema only,
unknown names and parameters refused."""

import pytest
import torch

from blocks import library, registry
from blocks.complexity import complexity
from blocks.cx import Cx
from blocks.errors import ParamError, UnknownName
from blocks.network import build
from blocks.residual import ResBottleneckYStage
from tests.cxcheck import assert_matches
from tests.familycheck import decoder_spec, part_spec, stage_spec


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("family", library.names("stage"))
def test_every_stage_family_analytic_equals_measured(family, seed):
    spec = stage_spec(family, seed)
    assert {st.block for st in spec.stages} == {family}
    assert_matches(spec)


@pytest.mark.parametrize("kind, name", [(k, n) for k in ("stem", "head") for n in library.names(k)])
def test_every_stem_and_head_analytic_equals_measured(kind, name):
    assert_matches(part_spec(kind, name))


DECODER_ARGS = ((16, 32, 64), (4, 8, 16), 5)  # widths and strides of three features, classes


@pytest.mark.parametrize("family", library.names("decoder"))
def test_every_decoder_family_analytic_equals_measured(family):
    assert_matches(decoder_spec(family))


@pytest.mark.parametrize("family", ["aspp", "fcn"])
def test_an_auxiliary_head_counts_its_parameters_and_trains_beside_the_main_logits(family):
    plain, aux = decoder_spec(family), decoder_spec(family, {"aux": True})
    assert_matches(aux)
    # FCN head on the 32-channel stage before the last: 3x3 conv to 8 (+ BN), 1x1 conv to 5 classes
    assert complexity(aux).params - complexity(plain).params == 32 * 8 * 9 + 2 * 8 + 8 * 5 + 5
    model = build(aux).train()
    main, side = model(torch.randn(2, *aux.input_shape))
    assert main.shape == side.shape == (2, 5, 32, 32)


def _legal_shape(fam: registry.Family) -> tuple[int, int, int, int]:
    """(w_in, w_out, stride, depth) at which the family's defaults are legal."""
    for w_out in (64, 96, 192, 384):
        if not fam.errors({}, w_in=16, w_out=w_out, stride=2, depth=1):
            return 16, w_out, 2, 1
    raise AssertionError(f"{fam.name}: no tried width is legal at the defaults")


def _shapes(module: torch.nn.Module) -> list[tuple[str, tuple]]:
    return [(k, tuple(v.shape)) for k, v in module.state_dict().items()]


@pytest.mark.parametrize("family", library.names("stage"))
def test_direct_construction_takes_the_schema_defaults(family):
    fam = library.get("stage", family)
    shape = _legal_shape(fam)
    direct, spelled = fam.module(*shape), fam.module(*shape, **fam.schema.defaults())
    assert _shapes(direct) == _shapes(spelled) == _shapes(fam.build(*shape))
    cx = [fam.module.complexity(Cx(16, 16), *shape, **p) for p in ({}, fam.schema.defaults())]
    assert cx[0] == cx[1]


def test_direct_y_stage_has_se_as_the_registry_default_says():
    stage = ResBottleneckYStage(16, 32, 2, 2)
    assert library.get("stage", "res_bottleneck_y").schema["se_ratio"].default == 0.25
    assert stage[0].se is not None and stage[0].se.reduce.out_channels == 4  # round(16 * 0.25)
    assert _shapes(stage) == _shapes(library.get("stage", "res_bottleneck_y").build(16, 32, 2, 2))


@pytest.mark.parametrize("kind", registry.KINDS)
def test_unknown_or_illegal_parameters_are_refused_by_the_module_itself(kind):
    for fam in library.families(kind):
        args = {"stem": (3, 16), "stage": (16, 16, 1, 1), "head": (16, 5), "decoder": DECODER_ARGS}[kind]
        sizes = {"sizes": ((8, 8), (4, 4), (2, 2))} if kind == "decoder" else {}
        with pytest.raises(ParamError, match=rf"colour: unknown parameter of {kind} '{fam.name}'"):
            fam.module(*args, colour=1)
        name, param = next(iter(fam.schema.items()), (None, None))
        if param is not None and param.type in (int, float) and param.high is not None:
            with pytest.raises(ParamError, match=name):
                fam.module.complexity(Cx(16, 16), *args, **sizes, **{name: param.high + 1})


def test_unknown_family_is_an_unknown_name():
    with pytest.raises(
        UnknownName, match=r"unknown stage 'lstm'; legal: \['conv_bn_act', 'd_block', 'dense'"
    ):
        library.get("stage", "lstm")


def test_a_class_is_registered_once():
    with pytest.raises(ValueError, match="registered already, as stage 'res_bottleneck_y'"):
        registry.register("stage", "y_again")(ResBottleneckYStage)
    assert "y_again" not in library.names("stage")

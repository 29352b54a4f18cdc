"""The classics of issue 25 in the zoo: each rebuilt from its ArchSpec alone with its reference's
exact parameter count and multiply-adds, measured by PyTorch too and checked against every figure
torchvision, timm or the paper publishes; its outputs equal to the reference implementation's with
copied weights where that implementation imports, and to a plain-torch rebuild from the paper's
table where one is a few lines."""

import contextlib
import importlib
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch import nn

from blocks import library
from blocks.complexity import complexity, measure
from blocks.network import build
from blocks.spec import ArchSpec, SpecError, from_dict
from nas import zoo
from nas.cli import main
from nas.zoo.vgg import VGG16
from tests.cxcheck import assert_matches, one_stage_spec


@pytest.mark.parametrize(
    "name, params, flops",
    [
        # the paper's Table 1 convs and classifier, with BN's scale and shift (see below)
        ("mobilenet_v1", 4_231_976, 568_740_352),
        ("vgg16", 138_357_544, 15_470_264_320),
        ("vgg16_bn", 138_365_992, 15_470_264_320),
        # torchvision's resnet50 and resnext50_32x4d plus the SE, see below
        ("seresnet50", 28_088_024, 4_091_699_200),
        ("seresnext50_32x4d", 27_559_896, 4_232_994_816),
        # torchvision's inception_v3(aux_logits=False) at 299x299: its 27,161,264 less the
        # auxiliary classifier's 3,326,696
        ("inception_v3", 23_834_568, 5_713_216_096),
        # the auxiliary classifier runs in training only, so its evaluation cost is inception_v3's
        ("inception_v3_aux", 27_161_264, 5_713_216_096),
        ("inception_v4", 42_679_816, 12_253_974_624),
        ("inception_resnet_v2", 55_843_464, 13_155_794_016),
    ],
)
def test_classic_counts_are_exact_and_measured(name, params, flops):
    spec = zoo.get(name)
    cx = complexity(spec)
    assert (cx.params, cx.flops) == (params, flops)
    with torch.device("meta"):  # shapes are all the count needs; `nas build --check` below runs it
        net = build(spec)
    assert measure(net, spec.input_shape) == cx


# torchvision's weights metadata (torchvision/models/vgg.py and inception.py, 0.28): `num_params`
# exact, `_ops` (its docs' "GFLOPS") in billions of multiply-adds to three decimals, our
# convention: resnet50's 4.089 there is our 4,089.18 MFLOPs. inception_v3's entry is for the
# network with its auxiliary classifier, whose evaluation never runs it.
TORCHVISION = {
    "vgg16": (138_357_544, 15.47),
    "vgg16_bn": (138_365_992, 15.47),
    "inception_v3_aux": (27_161_264, 5.713),
}

# timm's results/benchmark-infer-amp-nchw-pt291-cu128-4090.csv (and the pt240 one before it), the
# rows at 224 (299 for Inception): param_count in millions, infer_gmacs in billions, infer_macts
# in millions, each to two decimals. fvcore counts them: a conv's or linear's multiply-adds as
# ours, plus two per element an affine BatchNorm puts out in evaluation (so vgg16_bn's 15.50 to
# vgg16's 15.47), plus the elements entering the classifier's global pool (at most 0.1M here,
# below the rounding); its activations are ours, the conv and linear outputs.
TIMM = {
    "mobilenet_v1": ("mobilenetv1_100", 4.23, 0.58, 5.04),
    "vgg16": ("vgg16", 138.36, 15.47, 13.56),
    "vgg16_bn": ("vgg16_bn", 138.37, 15.50, 13.56),
    "seresnet50": ("seresnet50", 28.09, 4.11, 11.13),
    "seresnext50_32x4d": ("seresnext50_32x4d", 27.56, 4.26, 14.42),
    "inception_v3": ("inception_v3", 23.83, 5.73, 8.97),
    "inception_v4": ("inception_v4", 42.68, 12.28, 15.09),
    "inception_resnet_v2": ("inception_resnet_v2", 55.84, 13.18, 25.06),
}


def bn_outputs(spec: ArchSpec) -> int:
    """Elements all the BatchNorm layers of `spec`'s network put out for one image (shapes only)."""
    with torch.device("meta"):
        net = build(spec).eval()
    seen = []
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.register_forward_hook(lambda _m, _i, out: seen.append(out.numel()))
    with torch.no_grad():
        net(torch.zeros(1, *spec.input_shape, device="meta"))
    return sum(seen)


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_counts_are_torchvisions_published_ones(name):
    params, gmacs = TORCHVISION[name]
    cx = complexity(zoo.get(name))
    assert cx.params == params
    assert round(cx.flops / 1e9, 3) == gmacs


@pytest.mark.parametrize("name", sorted(TIMM))
def test_counts_round_to_timms_published_ones(name):
    theirs, params, gmacs, macts = TIMM[name]
    spec = zoo.get(name)
    cx = complexity(spec)
    fvcore = cx.flops + 2 * bn_outputs(spec)
    ours = (round(cx.params / 1e6, 2), round(fvcore / 1e9, 2), round(cx.acts / 1e6, 2))
    assert ours == (params, gmacs, macts), f"timm's {theirs}"


def test_counts_round_to_the_papers_tables():
    """MobileNetV1's Table 1: 4.2M parameters, 569M mult-adds; VGG's Table 2: configuration D has
    138M parameters (the paper gives no FLOPs)."""
    mobilenet, vgg = complexity(zoo.get("mobilenet_v1")), complexity(zoo.get("vgg16"))
    assert (round(mobilenet.params / 1e6, 1), round(mobilenet.flops / 1e6)) == (4.2, 569)
    assert round(vgg.params / 1e6) == 138


CLASSICS = [
    "mobilenet_v1",
    "vgg16",
    "vgg16_bn",
    "seresnet50",
    "seresnext50_32x4d",
    "inception_v3",
    "inception_v3_aux",
    "inception_v4",
    "inception_resnet_v2",
]


def test_every_classic_has_a_published_parameter_count_and_multiply_adds():
    table = test_classic_counts_are_exact_and_measured.pytestmark[0].args[1]
    assert sorted(name for name, *_ in table) == sorted(CLASSICS)
    assert set(TORCHVISION) | set(TIMM) == set(CLASSICS)


@pytest.mark.parametrize("name", CLASSICS)
def test_nas_build_check_prints_the_stages_and_the_measured_counts(name, capsys):
    assert main(["build", name, "--check"]) == 0
    out = capsys.readouterr().out
    cx = complexity(zoo.get(name))
    assert out.count("\nstage ") == len(zoo.get(name).stages)
    assert f"measured by PyTorch: {cx.params:,} params, {cx.flops / 1e6:.2f} MFLOPs (equal)" in out


def test_mobilenet_v1_without_bn_is_the_papers_conv_and_fc_count():
    """BN's two parameters per channel are all that separates the count from bare convs and FC."""
    spec = zoo.get("mobilenet_v1")
    bn_channels = sum(m.num_features for m in build(spec).modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert complexity(spec).params - 2 * bn_channels == 4_210_088  # 4.2M, Table 1


def copy_by_position(source: torch.nn.Module, target: torch.nn.Module) -> None:
    """Load `source`'s state into `target` entry by entry, in registration order, shapes checked."""
    theirs, ours = source.state_dict(), target.state_dict()
    assert len(theirs) == len(ours)
    for (their_key, value), (key, slot) in zip(theirs.items(), ours.items()):
        assert value.shape == slot.shape, f"{their_key} {tuple(value.shape)} -> {key} {tuple(slot.shape)}"
    target.load_state_dict(dict(zip(ours, theirs.values())))


def randomize_bn(net: nn.Module) -> None:
    """Draw every BN's scale, shift and statistics, so that a BN given another's would show."""
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight, 0.5, 1.5)  # around 1, so that deep nets keep their scale
            for t in (m.bias, m.running_mean):
                nn.init.uniform_(t, -0.5, 0.5)
            nn.init.uniform_(m.running_var, 0.5, 2.0)


def logits_match(ours: nn.Module, theirs: nn.Module, spec: ArchSpec, side: int | None) -> None:
    """Both networks in evaluation compute the same logits for an image of `side` (the spec's by
    default)."""
    channels, height, width = spec.input_shape
    x = torch.randn(1, channels, side or height, side or width)
    with torch.no_grad():
        want = theirs.eval()(x)
        scale = want.abs().max()  # compared at their own scale, which a fresh init leaves small
        assert scale > 1e-3, "logits this close to zero would match anything"
        torch.testing.assert_close(ours.eval()(x) / scale, want / scale, rtol=1e-4, atol=1e-4)


def outputs_match(reference: nn.Module, spec: ArchSpec, side: int | None = None) -> None:
    """The network of `spec` given the reference's weights computes the reference's logits."""
    randomize_bn(reference)
    torch.manual_seed(0)
    ours = build(spec)
    copy_by_position(reference, ours)
    logits_match(ours, reference, spec, side)


@contextlib.contextmanager
def fake_kernels_skipped() -> Iterator[None]:
    """torch.library.register_fake as a no-op, for the length of an import."""
    keep = torch.library.register_fake
    torch.library.register_fake = lambda *_args, **_kwargs: lambda fn: fn
    try:
        yield
    finally:
        torch.library.register_fake = keep


def reference(package: str) -> Any:
    """`package` (torchvision or timm, the [reference] extra) imported, or the test skipped.

    PyPI's torchvision for torch 2.13 (0.28.0) is a CUDA build: its operator library needs
    libc10_cuda.so, which the CPU torch lacks, so importing it stops where it registers fake
    kernels for its detection operators ("operator torchvision::nms does not exist"). The
    networks use none of them, so it is imported again with those registrations skipped (timm
    imports torchvision)."""
    try:
        return importlib.import_module(package)
    except ImportError as e:
        pytest.skip(f"{package} is not installed (the [reference] extra): {e}")
    except RuntimeError:
        for name in [m for m in sys.modules if m.partition(".")[0] in ("torchvision", "timm")]:
            del sys.modules[name]
        with fake_kernels_skipped():
            return importlib.import_module(package)


def torchvision_model(name: str, **options: Any) -> torch.nn.Module:
    """torchvision's network `name`, freshly initialised, or the test skipped where it is missing."""
    return reference("torchvision").models.get_model(name, weights=None, **options)


def test_vgg16_bn_adds_bn_to_every_biased_conv():
    """torchvision keeps each conv's bias under BN: BN adds two parameters per conv channel."""
    convs = sum(w * n for w, n in VGG16) + 64  # the stem's conv too
    assert complexity(zoo.get("vgg16_bn")).params - complexity(zoo.get("vgg16")).params == 2 * convs


def test_se_adds_the_same_squeeze_excitation_to_resnet50_and_resnext50():
    """SE of width C/16 on each block's C output channels: C*C/8 + C/16 + C parameters per block,
    over torchvision's resnet50 (25,557,032) and resnext50_32x4d (25,028,904)."""
    se = sum(d * (c * c // 8 + c // 16 + c) for c, d in zip([256, 512, 1024, 2048], [3, 4, 6, 3]))
    resnext = zoo.get("seresnext50_32x4d").to_dict()
    for stage in resnext["stages"]:
        stage["block"] = "res_bottleneck_x"
    assert complexity(from_dict(resnext)).params == 25_028_904
    assert complexity(zoo.get("seresnext50_32x4d")).params - se == 25_028_904
    assert (
        complexity(zoo.get("seresnet50")).params - se == complexity(zoo.get("resnet50")).params == 25_557_032
    )


@pytest.mark.parametrize(
    "block, fed_by, then",
    [("res_bottleneck_se", "c_bn", lambda t: t), ("res_bottleneck_y", "b_bn", torch.relu)],
)
def test_se_sits_on_the_output_in_senet_and_after_the_3x3_in_anynet_y(block, fed_by, then):
    """SENet gates the last BN's output (before the addition); AnyNet Y the 3x3 conv's, after ReLU."""
    stage = library.get("stage", block).build(16, 32, 1, 1, bottleneck_ratio=4.0, group_width=8, se_ratio=0.5)
    seen = {}
    getattr(stage[0], fed_by).register_forward_hook(lambda _m, _i, out: seen.setdefault("fed", then(out)))
    stage[0].se.register_forward_pre_hook(lambda _m, args: seen.setdefault("se", args[0].clone()))
    with torch.no_grad():
        stage.eval()(torch.randn(1, 16, 6, 6))
    torch.testing.assert_close(seen["se"], seen["fed"])


def test_inception_v3_aux_classifier_is_what_separates_the_two_counts():
    """torchvision's InceptionAux(768): 1x1 conv 128 + BN, 5x5 conv 768 + BN, linear to 1000."""
    aux = (768 * 128 + 2 * 128) + (128 * 25 * 768 + 2 * 768) + (768 * 1000 + 1000)
    assert complexity(zoo.get("inception_v3")).params + aux == 27_161_264
    assert complexity(zoo.get("inception_v3_aux")).params == 27_161_264


AUX = one_stage_spec("inception_v3", 16, 64, 1, 1, 17, {"module": "c", "aux_classes": 5})


def test_the_auxiliary_classifier_trains_beside_the_head_and_is_silent_in_evaluation():
    """In training the network returns the main logits and the auxiliary ones (torchvision's
    InceptionOutputs); the loss adds AUX_WEIGHT times the auxiliary loss, whose gradient reaches
    only through it; evaluation returns the main logits alone."""
    from nas.training.loop import AUX_WEIGHT, _Step

    torch.manual_seed(0)
    net = build(AUX)
    x, y = torch.randn(4, 3, 17, 17), torch.tensor([0, 1, 2, 3])
    main_logits, aux_logits = net.train()(x)
    assert main_logits.shape == (4, 7) and aux_logits.shape == (4, 5)
    ce = torch.nn.CrossEntropyLoss()
    step = _Step(net, torch.optim.SGD(net.parameters(), lr=0.0), None, ce, None, False)
    torch.manual_seed(1)
    out, loss = step.forward(x, y)
    torch.manual_seed(1)
    want = net(x)
    torch.testing.assert_close(loss, ce(want[0], y) + AUX_WEIGHT * ce(want[1], y))
    loss.backward()
    assert net.stages[0].aux.fc.weight.grad.abs().sum() > 0
    with torch.no_grad():
        assert net.eval()(x).shape == (4, 7)


def test_an_auxiliary_classifier_needs_a_map_its_pool_and_conv_fit():
    """The 5x5/3 pool and the unpadded 5x5 conv need a 17x17 output (torchvision's Mixed_6e)."""
    assert measure(build(AUX), AUX.input_shape) == complexity(AUX)
    with pytest.raises(SpecError, match=r"output map 16x16 \(a side of 0 inside\) from a 16x16 input"):
        one_stage_spec("inception_v3", 16, 64, 1, 1, 16, {"module": "c", "aux_classes": 5})


# The reference equality tests run on images smaller than the specs', to spare time: no layer
# depends on the side (VGG's adaptive pool spreads a 2x2 map over 7x7; an Inception network's
# last map is 2x2 from 107x107); the auxiliary classifier, which needs 299, runs in training only.
@pytest.mark.parametrize(
    "name, options, side",
    [
        ("vgg16", {}, 64),
        ("vgg16_bn", {}, 64),
        ("inception_v3", {"aux_logits": False, "init_weights": False}, 107),
        ("inception_v3_aux", {"aux_logits": True, "init_weights": False}, 107),
    ],
)
def test_outputs_equal_torchvisions(name, options, side):
    outputs_match(torchvision_model(name.removesuffix("_aux"), **options), zoo.get(name), side)


def timm_model(name: str) -> torch.nn.Module:
    """timm's network `name`, freshly initialised, or the test skipped where timm is missing."""
    return reference("timm").create_model(name, pretrained=False)


@pytest.mark.parametrize("name, side", [("seresnet50", 64), ("seresnext50_32x4d", 64), ("inception_v4", 107)])
def test_outputs_equal_timms(name, side):
    outputs_match(timm_model(name), zoo.get(name), side)


def test_inception_resnet_v2_equals_timms():
    """timm's conv2d_7b has BN eps 1e-3 where the zoo's conv head has PyTorch's 1e-5; set alike."""
    reference = timm_model("inception_resnet_v2")
    reference.conv2d_7b.bn.eps = 1e-5
    outputs_match(reference, zoo.get("inception_resnet_v2"), 107)


def test_mobilenet_v1_with_relu6_equals_timms():
    """timm's mobilenetv1_100 is the paper's network with ReLU6 (as TF-slim's) for ReLU."""
    data = zoo.get("mobilenet_v1").to_dict()
    for part in (data["stem"], *data["stages"]):
        part["params"]["activation"] = "relu6"
    outputs_match(timm_model("mobilenetv1_100"), from_dict(data), 128)


# Independent rebuilds, written here from the papers' tables (and, where a paper is silent, the
# layout its reference implementation documents), in plain torch.nn: each is given the same
# random weights as the zoo's network and must compute the same logits. The Inception networks
# have none: their module tables would make a rebuild as long as their families, not an
# independent few lines.
def conv_bn_relu(w_in: int, w_out: int, k: int, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    """A bias-free k x k conv (same padding), BN and ReLU."""
    conv = nn.Conv2d(w_in, w_out, k, stride, k // 2, groups=groups, bias=False)
    return [conv, nn.BatchNorm2d(w_out), nn.ReLU()]


def mobilenet_v1_rebuilt() -> nn.Module:
    """Table 1: a 3x3/2 conv to 32, then 13 depthwise 3x3 + pointwise 1x1 pairs (the last
    depthwise one at stride 1, as its 7x7 output says), global average pool, FC to 1000."""
    plan = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), *[(512, 1)] * 5, (1024, 2), (1024, 1)]
    layers, width = conv_bn_relu(3, 32, 3, 2), 32
    for w_out, stride in plan:
        layers += conv_bn_relu(width, width, 3, stride, groups=width) + conv_bn_relu(width, w_out, 1)
        width = w_out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1024, 1000))


def vgg16_rebuilt(bn: bool) -> nn.Module:
    """Configuration D of the VGG paper's Table 1 (biased 3x3 convs, each followed by BN where
    asked, then ReLU; 2x2/2 max pools), torchvision's 7x7 adaptive pool, then FC 4096, 4096,
    1000 with ReLU and dropout 0.5 between."""
    layers, width = [], 3
    for w_out in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]:
        if w_out == "M":
            layers.append(nn.MaxPool2d(2))
            continue
        layers += [nn.Conv2d(width, w_out, 3, padding=1), *([nn.BatchNorm2d(w_out)] if bn else []), nn.ReLU()]
        width = w_out
    fc = [
        nn.Linear(512 * 7 * 7, 4096),
        nn.ReLU(),
        nn.Dropout(),
        nn.Linear(4096, 4096),
        nn.ReLU(),
        nn.Dropout(),
    ]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(7), nn.Flatten(), *fc, nn.Linear(4096, 1000))


class SEBottleneck(nn.Module):
    """SENet's Figure 3 on a ResNet(X) bottleneck as timm lays it out: 1x1, grouped 3x3 carrying the
    stride, 1x1 (each with BN), then SE (pool, 1x1 to C/16, ReLU, 1x1 back, sigmoid) scaling the
    last BN's output before the shortcut (1x1 conv + BN where the shape changes) is added."""

    def __init__(self, w_in: int, w_out: int, inner: int, groups: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *conv_bn_relu(w_in, inner, 1),
            *conv_bn_relu(inner, inner, 3, stride, groups),
            nn.Conv2d(inner, w_out, 1, bias=False),
            nn.BatchNorm2d(w_out),
        )
        self.squeeze, self.excite = nn.Conv2d(w_out, w_out // 16, 1), nn.Conv2d(w_out // 16, w_out, 1)
        self.shortcut = nn.Identity()
        if stride != 1 or w_in != w_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(w_in, w_out, 1, stride, bias=False), nn.BatchNorm2d(w_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        gate = torch.sigmoid(self.excite(torch.relu(self.squeeze(y.mean((2, 3), keepdim=True)))))
        return torch.relu(y * gate + self.shortcut(x))


def se_resnet50_rebuilt(groups: int, inner: int) -> nn.Module:
    """ResNet-50's 7x7/2 stem and 3x3/2 max pool, stages of 3, 4, 6, 3 SE bottlenecks out to 256,
    512, 1024, 2048 (inner width `inner`, doubling per stage), global average pool, FC to 1000."""
    layers, width = [*conv_bn_relu(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1)], 64
    for i, depth in enumerate([3, 4, 6, 3]):
        w_out = 256 << i
        for j in range(depth):
            stride = 2 if i and not j else 1
            layers.append(SEBottleneck(width, w_out, inner << i, groups, stride))
            width = w_out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000))


@pytest.mark.parametrize(
    "name, rebuilt, side",
    [
        # on images smaller than the spec's, to spare time: no layer depends on the side (VGG's
        # adaptive pool then spreads its 2x2 map over 7x7)
        ("mobilenet_v1", mobilenet_v1_rebuilt, 128),
        ("vgg16", lambda: vgg16_rebuilt(False), 64),
        ("vgg16_bn", lambda: vgg16_rebuilt(True), 64),
        ("seresnet50", lambda: se_resnet50_rebuilt(1, 64), 64),
        ("seresnext50_32x4d", lambda: se_resnet50_rebuilt(32, 128), 64),
    ],
)
def test_outputs_equal_an_independent_rebuild(name, rebuilt, side):
    """The rebuild is made without weights and given the zoo network's: one initialisation only."""
    spec = zoo.get(name)
    torch.manual_seed(1)
    ours = build(spec)
    randomize_bn(ours)
    with torch.device("meta"):
        theirs = rebuilt()
    theirs = theirs.to_empty(device="cpu")
    copy_by_position(ours, theirs)
    logits_match(ours, theirs, spec, side)


@pytest.mark.parametrize(
    "block, params",
    [
        ("separable", {"kernel": 4}),
        ("separable", {"activation": "gelu"}),
        ("separable", {"expand_ratio": 6.0}),  # no expansion in a separable block
        ("vgg", {"kernel": 7}),
        ("vgg", {"norm": "ln"}),
        ("res_bottleneck_se", {"se_ratio": 1.5}),
        ("res_bottleneck_se", {"group_width": 5}),  # inner width 24 is no multiple of 5
        ("res_bottleneck_se", {"se_at": "inner"}),  # where SE sits is the family's, not a parameter
        ("inception_v3", {"module": "b"}),  # a reduction opens a stride-2 stage, it is no module kind
        ("inception_v3", {"branches": [4, 4, 4, 4, 4]}),
        ("inception_v3", {"branches": [4, 4, 4, 4, 4, 4]}),  # sums to 16, not 24
        ("inception_v3", {"reduction": [4, 4, 4]}),  # at stride 1
        ("inception_v4", {"module": "b", "branches": [4, 4, 4, 4, 4, 4]}),  # B takes 8 widths
        ("inception_v4", {"module": "d"}),
        ("inception_resnet", {"scale": 1.5}),
        ("inception_resnet", {"relu": "yes"}),
        ("inception_resnet", {}),  # 16 -> 24 at stride 1: a residual stage keeps its width
    ],
)
def test_validate_rejects_bad_stage_params(block, params):
    with pytest.raises(SpecError, match=r"stages\[0\]"):
        one_stage_spec(block, 16, 24, 1, 1, 8, params)


@pytest.mark.parametrize(
    "head",
    [{"pool": 0}, {"hidden": 4}, {"layers": 5}, {"dropout": 1.0}],
)
def test_validate_rejects_bad_vgg_head_params(head):
    spec = {
        "stem": {"type": "vgg", "width": 16},
        "stages": [{"block": "vgg", "depth": 1, "width": 16, "stride": 2}],
        "head": {"type": "vgg", "params": head},
    }
    with pytest.raises(SpecError, match="head"):
        from_dict(spec)


def test_scaled_widths_add_up_to_the_stage_width():
    """Without explicit widths a stage's modules and its reduction are the reference's, scaled."""
    for block, kinds in (("inception_v3", "ace"), ("inception_v4", "abc"), ("inception_resnet", "abc")):
        for kind in kinds:
            spec = one_stage_spec(block, 24, 64, 2, 2, 17, {"module": kind})
            assert_matches(spec)
            assert build(spec).stages[0][-1](torch.zeros(1, 64, 8, 8)).shape[1] == 64


@pytest.mark.parametrize("relu", [True, False])
def test_inception_resnet_block_adds_its_scaled_branches_to_its_input(relu):
    stage = library.get("stage", "inception_resnet").build(16, 16, 1, 1, module="b", scale=0.3, relu=relu)
    block = stage.eval()[0]
    x = torch.randn(2, 16, 5, 5)
    with torch.no_grad():
        out = x + 0.3 * block.up(block.branches(x))
        torch.testing.assert_close(block(x), torch.relu(out) if relu else out)

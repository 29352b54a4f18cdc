"""Design spaces: the paper's definitions, reproducible sampling, constraints, named RegNets."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import spaces
from blocks.complexity import complexity
from blocks.errors import ParamError, UserError
from blocks.widths import adjust_compatibility, regnet_widths
from nas import zoo
from nas.cli import main
from spaces.base import Context, Limits
from spaces.draw import Reject, ReplayDraw, RngDraw

CTX = Context()


def _stages(sample):
    return [
        (s.depth, s.width, s.params["bottleneck_ratio"], s.params["group_width"]) for s in sample.spec.stages
    ]


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), variant=st.sampled_from("abcde"))
def test_anynet_x_variants_follow_the_paper(seed, variant):
    (sample,) = spaces.sample(spaces.get(f"anynet_x_{variant}"), 1, seed, ctx=CTX)
    stages = _stages(sample)
    assert len(stages) == 4
    for d, w, b, g in stages:
        assert 1 <= d <= 16 and b in (1.0, 2.0, 4.0)
        assert g in (1, 2, 4, 8, 16, 32) or g == w / b  # pycls caps g at the inner width
        assert (w / b) % g == 0  # compatible after adjustment
    v = sample.values
    assert all(f"d{i}" in v and f"w{i}" in v for i in range(1, 5))
    for d_raw, w_raw in ((v[f"d{i}"], v[f"w{i}"]) for i in range(1, 5)):
        assert 1 <= d_raw <= 16 and 8 <= w_raw <= 1024 and w_raw % 8 == 0
    bs = {b for _, _, b, _ in stages}
    if variant != "a":
        assert len(bs) == 1 and "b" in v
    if variant in "cde":
        assert "g" in v
    if variant in "de":
        raw_w = [v[f"w{i}"] for i in range(1, 5)]
        assert raw_w == sorted(raw_w)
    if variant == "e":
        ds = [d for d, _, _, _ in stages]
        assert ds == sorted(ds)


def test_sampling_is_reproducible_and_seed_dependent():
    space = spaces.get("anynet_x_b")
    a = [s.spec.model_id for s in spaces.sample(space, 5, 7, ctx=CTX)]
    b = [s.spec.model_id for s in spaces.sample(space, 5, 7, ctx=CTX)]
    c = [s.spec.model_id for s in spaces.sample(space, 5, 8, ctx=CTX)]
    assert a == b and a != c


def test_replay_rebuilds_the_same_spec():
    space = spaces.get("regnet_y")
    (s,) = spaces.sample(space, 1, 3, ctx=CTX)
    again = space.define(ReplayDraw(s.values), space.resolve({}), CTX)
    assert again.model_id == s.spec.model_id


def test_limits_are_respected():
    lim = Limits(flops=(2e8, 4e8), params=(None, 5e6))
    for s in spaces.sample(spaces.get("regnet_x"), 6, 0, ctx=CTX, limits=lim):
        assert 2e8 <= s.complexity.flops <= 4e8 and s.complexity.params <= 5e6
        assert complexity(s.spec) == s.complexity


def test_impossible_limits_fail_with_a_clear_message():
    with pytest.raises(
        UserError, match="no model can satisfy the constraints: the stem alone .* above the bound 10;"
    ):
        spaces.sample(spaces.get("anynet_x_a"), 2, 0, ctx=CTX, limits=Limits(flops=(1, 10)), max_draws=50)
    with pytest.raises(
        UserError, match=r"only 0 of 2 samples .* after 40 draws \(so under 7.50% of the space does"
    ):
        spaces.sample(spaces.get("anynet_x_a"), 2, 0, ctx=CTX, limits=Limits(flops=(1e12, None)), hopeless=40)


def test_rejections_are_counted_by_kind_with_the_nearest_drawn_model():
    with pytest.raises(UserError) as err:
        spaces.sample(
            spaces.get("anynet_x_a"), 2, 0, ctx=CTX, limits=Limits(flops=(None, 1.2e7)), max_draws=50
        )
    assert str(err.value).endswith(
        "after 100 draws (so under 3.00% of the space does, at 95% confidence); widen constraints.flops/params/acts or the space options. "
        "Most common: flops above 1.2e+07: 100 draws (smallest drawn model 1.6e+07)"
    )
    # the same 100 draws (log-uniform d_i and w_i since issue 11), measured directly
    space, rng = spaces.get("anynet_x_a"), np.random.default_rng(0)
    drawn = [complexity(space.define(RngDraw(rng), space.resolve({}), CTX)).flops for _ in range(100)]
    assert min(drawn) == 16_269_888


def test_regnet_rejections_name_the_stage_rule():
    # pinned draws of the pycls laws (issue 11 changed them); the stage rule is its own reason
    limits = Limits(flops=(2e8, 4e8), params=(None, 1e6))
    with pytest.raises(UserError) as err:
        spaces.sample(spaces.get("regnet_x"), 1, 0, ctx=CTX, limits=limits, max_draws=200)
    assert str(err.value).endswith(
        "Most common: stage count outside 4..4: 95 draws (e.g. stage count outside 4..4: drew 5); "
        "width levels skipped or merged: 80 draws; "
        "flops above 4e+08: 12 draws (smallest drawn model 7.9e+08)"
    )


def test_a_violated_limit_is_a_structured_rejection():
    (s,) = spaces.sample(spaces.get("regnet_x"), 1, 0, ctx=CTX)
    flops = s.complexity.flops
    why = Limits(flops=(flops + 1, None)).violation(s.complexity)
    assert isinstance(why, Reject) and (why.kind, why.limit, why.value) == ("flops below", flops + 1, flops)
    assert str(why) == f"flops below {flops + 1:,}: drew {flops:,}"
    why = Limits(params=(None, 1e3)).violation(s.complexity)
    assert (why.kind, why.limit, why.value) == ("params above", 1e3, s.complexity.params)
    assert Limits(flops=(flops, flops)).violation(s.complexity) is None


@pytest.mark.parametrize(
    "flops, message",
    [
        ((float("nan"), None), "flops: expected [low, high] of float in [0, inf] or null, got (nan, None)"),
        ((None, -1.0), "got (None, -1.0)"),
        ((5.0, 1.0), "flops: empty range [5.0, 1.0]: low > high"),
    ],
)
def test_limits_refuse_nan_negative_and_empty_ranges(flops, message, capsys):
    with pytest.raises(ParamError) as err:
        Limits(flops=flops)
    assert message in str(err.value)
    assert (
        main(["sample", "anynet_x_a", "--flops", ",".join("" if v is None else str(v) for v in flops)]) == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("nas sample: error: --flops: ") and message in err


def test_unknown_option_names_legal_ones():
    with pytest.raises(UserError, match="unknown option of space 'regnet_x'; legal"):
        spaces.get("regnet_x").resolve({"colour": 1})


def test_nondecreasing_draw_is_uniform_over_sorted_sequences():
    draw = RngDraw(np.random.default_rng(0))
    counts = {}
    for _ in range(6000):
        seq = tuple(draw.nondecreasing("x", 2, 1, 3))
        counts[seq] = counts.get(seq, 0) + 1
    assert set(counts) == {(1, 1), (1, 2), (1, 3), (2, 2), (2, 3), (3, 3)}
    assert all(abs(c / 6000 - 1 / 6) < 0.025 for c in counts.values())


def test_regnet_widths_rule():
    # RegNetX-400MF (d=22, w0=24, wa=24.48, wm=2.54); 392/16 = 24.5 rounds half to even -> 384
    ws, ds, levels = regnet_widths(24, 24.48, 2.54, 22)
    assert ws == [24, 64, 152, 392] and ds == [1, 2, 7, 12] and levels == 4
    # w_a = 100 jumps from level 0 to level 2 (u_1 = 124 = 24 * 2.54^1.76): 3 levels, 2 stages
    assert regnet_widths(24, 100.0, 2.54, 2) == ([24, 152], [1, 1], 3)
    assert adjust_compatibility(ws, [1.0] * 4, [16] * 4) == ([32, 64, 160, 384], [16, 16, 16, 16])


@pytest.mark.parametrize(
    "name, params, mflops",
    [
        ("regnetx_200mf", 2_684_792, 199.0),
        ("regnetx_400mf", 5_157_512, 397.7),
        ("regnety_400mf", 4_344_144, 401.8),
        ("regnetx_1.6gf", 9_190_136, 1602.8),
    ],
)
def test_named_regnets_match_published_counts(name, params, mflops):
    cx = complexity(zoo.get(name))
    assert cx.params == params
    assert abs(cx.flops / 1e6 - mflops) < 0.1


@pytest.mark.parametrize("name", spaces.names())
def test_every_space_shows_how_it_draws(name, capsys):
    space = spaces.get(name)
    assert space.laws, f"space '{name}' declares no sampling laws"
    assert main(["spaces", name]) == 0
    out = capsys.readouterr().out
    drawn = out[out.index("  drawn:") :]
    for law in space.laws:
        assert law.quantity in drawn and law.law in drawn and law.source in drawn


def test_activation_limits_bound_every_sample_as_pycls_cifar_sweep_does():
    ctx = Context((3, 32, 32), 10)
    free = spaces.sample(spaces.get("regnet_x"), 40, 0, ctx=ctx)
    cap = float(np.median([s.complexity.acts for s in free]))
    capped = spaces.sample(spaces.get("regnet_x"), 40, 0, ctx=ctx, limits=Limits(acts=(None, cap)))
    assert max(s.complexity.acts for s in free) > cap >= max(s.complexity.acts for s in capped)
    assert [s.spec.model_id for s in capped] != [s.spec.model_id for s in free[:40]]


TINY = {
    "stages": 1,
    "max_depth": 2,
    "min_width": 8,
    "max_width": 16,
    "bottleneck_ratios": [1.0],
    "group_widths": [8],
}


def test_dedupe_draws_each_spec_once_and_says_when_the_space_has_too_few():
    """The tiny space holds 4 specs (depth 1 or 2, width 8 or 16): 4 samples with dedupe are those
    4, reproducibly; without it 12 samples repeat some; 5 with dedupe cannot be drawn."""
    space, ctx = spaces.get("anynet_x_a"), Context((1, 8, 8), 10)
    kept = spaces.sample(space, 4, 3, ctx=ctx, options=TINY, dedupe=True)
    ids = [s.spec.model_id for s in kept]
    assert len(set(ids)) == 4 and ids == [
        s.spec.model_id for s in spaces.sample(space, 4, 3, ctx=ctx, options=TINY, dedupe=True)
    ]
    assert {(s.spec.stages[0].depth, s.spec.stages[0].width) for s in kept} == {
        (1, 8),
        (1, 16),
        (2, 8),
        (2, 16),
    }
    assert len({s.spec.model_id for s in spaces.sample(space, 12, 3, ctx=ctx, options=TINY)}) == 4
    with pytest.raises(
        UserError, match=r"only 4 of 5 samples .* or set dedupe false\. Most common: duplicate"
    ):
        spaces.sample(space, 5, 3, ctx=ctx, options=TINY, dedupe=True, max_draws=50)


@pytest.mark.parametrize("name", spaces.names())
def test_no_spec_of_a_space_costs_less_than_its_stem(name):
    """The stem bound that refuses impossible constraints at once is a true lower bound: every
    drawn spec costs at least its stem, in FLOPs, parameters and activations."""
    from spaces.base import floor

    small = Context((3, 16, 16), 10)
    least = floor(small)
    assert least.flops > 0 and least.params > 0
    for s in spaces.sample(spaces.get(name), 4, 0, ctx=small):
        cx = s.complexity
        assert cx.flops > least.flops and cx.params >= least.params and cx.acts >= least.acts


def test_the_spaces_table_keeps_its_column_past_long_names(capsys):
    assert main(["spaces"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(spaces.names()) and any(
        line.startswith("regnet_x_constrained ") for line in lines
    )
    starts = {len(line) - len(spaces.get(line.split()[0]).doc) for line in lines}
    assert starts == {max(map(len, spaces.names())) + 2}


@pytest.mark.parametrize("name", [n for n in spaces.names() if n.startswith(("anynet_", "regnet_"))])
def test_only_y_spaces_have_an_se_ratio_and_it_reaches_the_blocks(name):
    space = spaces.get(name)
    ctx = Context((3, 32, 32), 10)
    small = {"stages": 2, "max_depth": 2, "max_width": 32} if name.startswith("anynet") else {"depth": [2, 6]}
    if "_x" in name:
        assert "se_ratio" not in space.options
        with pytest.raises(UserError, match=r"se_ratio: unknown option of space .*; legal: \["):
            space.resolve({"se_ratio": 0.5}, where="exp.yaml: space.options")
        return
    assert space.options["se_ratio"].default == 0.25
    (drawn,) = spaces.sample(space, 1, 0, ctx=ctx, options={**small, "se_ratio": 0.5})
    assert {st.params["se_ratio"] for st in drawn.spec.stages} == {0.5}

"""The mixed space (a family per stage) and the HDC space (hole-free schedules only)."""

import optuna
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import spaces
from blocks import library
from blocks.dilated import conv_rates
from blocks.errors import UserError
from blocks.gridding import holes
from blocks.spec import StemSpec
from nas.cli import main
from spaces.base import Context, draw_one
from spaces.draw import OptunaDraw, Reject, ReplayDraw
from tests.cxcheck import assert_matches

optuna.logging.set_verbosity(optuna.logging.WARNING)
CTX = Context((3, 16, 16), 5, StemSpec("simple", 8, {"stride": 1}))


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 100_000))
def test_mixed_specs_build_and_match_their_complexity(seed):
    (s,) = spaces.sample(spaces.get("mixed"), 1, seed, ctx=CTX, options={"max_width": 32, "max_depth": 2})
    assert s.values["s1_family"] == s.spec.stages[0].block
    assert_matches(s.spec)


def test_mixed_draws_every_family_eventually():
    samples = spaces.sample(spaces.get("mixed"), 40, 0, ctx=CTX, options={"max_width": 32, "max_depth": 1})
    seen = {st.block for s in samples for st in s.spec.stages}
    assert seen == set(spaces.get("mixed").options["families"].default) == set(library.names("stage"))


def test_mixed_reads_its_grids_and_options_from_the_family_declarations():
    options = spaces.get("mixed").options
    declared = {
        f"{fam.name}.{name}": list(p.grid)
        for fam in library.families("stage")
        for name, p in fam.schema.items()
        if p.grid is not None
    }
    assert options["grids"].default == declared and declared["mbconv.kernel"] == [3, 5, 7]
    assert options["max_rate"] is library.get("stage", "hdc_dilated").sampling["max_rate"]


def test_mixed_is_drawable_from_optuna_and_replayable():
    space = spaces.get("mixed")
    opts = space.resolve({"max_width": 32, "families": ["mbconv", "swin", "hdc_dilated"]})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    built = 0
    for _ in range(40):
        trial = study.ask()
        try:
            s = draw_one(space, OptunaDraw(trial), opts, CTX, spaces.Limits())
        except Reject:  # e.g. a width the drawn head_dim does not divide; optimize mode records these
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        assert space.define(ReplayDraw(s.values), opts, CTX).model_id == s.spec.model_id
        study.tell(trial, 1.0)
        built += 1
    assert built >= 5


def test_mixed_options_are_checked():
    with pytest.raises(UserError, match=r"families: unknown family 'lstm'"):
        spaces.get("mixed").resolve({"families": ["lstm"]})
    with pytest.raises(UserError, match=r"grids.mbconv.kernel: expected int in \[3, 5, 7\]"):
        spaces.get("mixed").resolve({"grids": {"mbconv.kernel": [4]}})


def test_hdc_space_draws_only_hole_free_schedules():
    for s in spaces.sample(
        spaces.get("hdc_resnet"), 20, 1, ctx=CTX, options={"max_width": 32, "max_rate": 12}
    ):
        for st_ in s.spec.stages:
            if st_.block == "hdc_dilated":
                assert holes(conv_rates(st_.stride, st_.depth, tuple(st_.params["dilations"])), 3) == ()


def test_experiment_with_holey_schedule_fails_at_load_naming_holes(tmp_path, capsys):
    path = tmp_path / "hdc.yaml"
    path.write_text(
        yaml.safe_dump(
            {"space": {"name": "hdc_resnet", "options": {"schedules": [[1, 2, 5], [2, 2, 2]]}}, "samples": 2}
        )
    )
    assert main(["sweep", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "space.options.schedules[1]" in err and "gridding holes at offsets ±1, ±3, ±5" in err
    assert str(path) in err

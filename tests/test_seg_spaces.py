"""Segmentation experiments at the seams: the task and the segmentation section require each other,
a space runs twice under two labels with its own segmentation fields, and twinned hdc draws give
the gridded space's receptive fields trial by trial."""

import numpy as np
import pytest

from blocks.errors import UserError
from blocks.segment import segment
from blocks.spec import from_dict
from nas import config
from nas.records.store import design_space
from nas.sweeping.plan import plan_space
from spaces import Context

BACKBONE = {"stages": 4, "max_depth": 3, "max_width": 32, "strides": [2, 2, 2, 2]}
TWO = {
    "task": "segmentation",
    "dataset": {"name": "segsynthetic", "params": {"size": 64}},
    "model": {"stem": {"type": "simple", "width": 8, "params": {"stride": 2}}},
    "samples": 3,
    "segmentation": {"decoder": "fcn", "output_stride": 8, "max_rate": 4, "twinned": True},
    "spaces": [
        {"name": "anynet_x_a", "label": "hdc", "options": BACKBONE},
        {
            "name": "anynet_x_a",
            "label": "gridded",
            "options": BACKBONE,
            "segmentation": {"schedule": "gridded"},
        },
    ],
}


def _refused(data: dict, message: str) -> None:
    with pytest.raises(UserError) as err:
        config.parse(data, "e.yaml")
    assert str(err.value) == f"e.yaml: {message}"


def test_the_task_and_the_segmentation_section_require_each_other():
    _refused(
        {k: v for k, v in TWO.items() if k != "segmentation"},
        "segmentation: task segmentation needs a segmentation section (decoder, output_stride, schedule) "
        "to make each sampled backbone a segmentation network; e.g. segmentation: {decoder: fcn}",
    )
    _refused(
        {"space": "anynet_x_a", "segmentation": {"decoder": "fcn"}},
        "task: is classification, but the experiment has a segmentation section; legal: segmentation",
    )
    _refused(
        {**TWO, "model": {"head": {"dropout": 0.2}}},
        "model.head: sets the classifier head, which a segmentation network drops for its decoder and "
        "dense head; set the decoder's parameters in segmentation.decoder_params",
    )


def test_a_space_listed_twice_needs_labels_and_its_own_fields_are_checked():
    unlabelled = {**TWO, "spaces": [{"name": "anynet_x_a"}, {"name": "anynet_x_a"}]}
    _refused(
        unlabelled,
        "spaces: two runs would share a name: ['anynet_x_a', 'anynet_x_a']; give a space listed twice "
        "a distinct label",
    )
    bad = {**TWO, "spaces": [TWO["spaces"][0], {**TWO["spaces"][1], "segmentation": {"schedule": "holes"}}]}
    _refused(bad, "spaces[1].segmentation.schedule: expected str in ['hdc', 'gridded'], got 'holes'")
    slash = {**TWO, "spaces": [{**TWO["spaces"][0], "label": "a/b"}, TWO["spaces"][1]]}
    with pytest.raises(UserError, match=r"e.yaml: spaces\[0\].label: 'a/b' is not a safe folder name"):
        config.parse(slash, "e.yaml")


def test_a_classification_experiments_spaces_copy_as_they_were():
    exp = config.parse({"spaces": [{"name": "anynet_x_a", "options": {"stages": 2}}]})
    assert exp.to_dict()["spaces"] == [{"name": "anynet_x_a", "options": {"stages": 2}}]
    labelled = config.parse(TWO).to_dict()["spaces"]
    assert [s["label"] for s in labelled] == ["hdc", "gridded"]
    assert "segmentation" not in labelled[0] and labelled[1]["segmentation"] == {"schedule": "gridded"}


def test_twinned_labelled_runs_differ_in_holes_alone():
    exp = config.parse(TWO, "e.yaml")
    ctx = Context((3, 64, 64), 4)
    hdc, gridded = plan_space(exp, 0, ctx), plan_space(exp, 1, ctx)
    assert [e.key for e in hdc] == ["hdc/0", "hdc/1", "hdc/2"]
    assert [e.key for e in gridded] == ["gridded/0", "gridded/1", "gridded/2"]
    for a, b in zip(hdc, gridded, strict=True):
        sa, sb = from_dict(a.spec), from_dict(b.spec)
        assert [s.depth for s in sa.stages] == [s.depth for s in sb.stages]  # the same backbone
        assert a.complexity == b.complexity
        dilated = [i for i, s in enumerate(sa.stages) if s.dilations]
        assert dilated == [2, 3]  # 4 8 16 32 -> 4 8 8 8: the last two trade their stride
        for i in dilated:
            ra, rb = sa.stages[i].dilations, sb.stages[i].dilations
            assert sum(ra) == sum(rb) and ra[0] == 1 and min(rb) >= 2  # same field; a common factor
        assert set(a.spec["gridding"].values()) == {"hole-free"}
        assert all("leaves gridding holes" in v for v in b.spec["gridding"].values())
    assert design_space(exp.to_dict(), "gridded") == "anynet_x_a"
    assert design_space(exp.to_dict(), "nds_vanilla") == "nds_vanilla"


def test_twinned_hdc_draws_the_schedule_whose_twin_gridded_draws():
    stages = [{"block": "res_basic", "depth": 3, "width": 8, "stride": 2} for _ in range(4)]
    stem = {"type": "simple", "width": 8, "params": {"stride": 2}}
    spec = from_dict({"input_shape": [3, 64, 64], "stem": stem, "stages": stages, "head": {}})
    kw = {"decoder": "fcn", "num_classes": 4, "output_stride": 8, "max_rate": 4}
    for seed in range(6):
        free = segment(spec, schedule="hdc", rng=np.random.default_rng(seed), twinned=True, **kw)
        holes = segment(spec, schedule="gridded", rng=np.random.default_rng(seed), **kw)
        pairs = [(f.dilations, h.dilations) for f, h in zip(free.stages, holes.stages, strict=True)]
        assert [p == ((), ()) for p in pairs] == [True, True, False, False]
        assert all(sum(f) == sum(h) and f[0] == 1 and h[0] >= 2 for f, h in pairs[2:])
    # without twinning hdc keeps the first hole-free schedule drawn, (1, 1, 1) included
    plain = {
        segment(spec, schedule="hdc", rng=np.random.default_rng(s), **kw).stages[2].dilations
        for s in range(30)
    }
    assert (1, 1, 1) in plain


def test_optimize_mode_names_its_draws_by_the_run_and_applies_the_spaces_own_fields():
    import json

    import optuna

    from nas.sweeping.optimize import DefineByRun
    from spaces import Limits, get

    exp = config.parse({**TWO, "search": {"mode": "optimize"}}, "e.yaml")
    options = get("anynet_x_a").resolve(BACKBONE)
    seg = config.space_segmentation(exp, 1)
    assert (seg.schedule, seg.twinned, seg.max_rate) == ("gridded", True, 4)
    define = DefineByRun("anynet_x_a", options, Context((3, 64, 64), 4), Limits(), 0, [0], seg, "gridded")
    entry = json.loads(define(optuna.create_study().ask())["nas_entry"])
    assert entry["space"] == "gridded" and entry["trial_index"] == 0
    assert all("leaves gridding holes" in v for v in entry["spec"]["gridding"].values())

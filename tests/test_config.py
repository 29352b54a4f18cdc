"""Experiment files: defaults, and one clear message per kind of bad input, before training."""

from pathlib import Path

import pytest
import yaml

from blocks.errors import UserError
from blocks.spec import StemSpec
from nas import config
from nas.cli import main
from spaces import Context

REPO = Path(__file__).resolve().parents[1]


def _write(tmp_path, data, name="exp.yaml"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def test_quickstart_parses():
    exp = config.load(REPO / "experiments/quickstart.yaml")
    assert [s.name for s in exp.spaces] == ["anynet_x_a", "anynet_x_e"]
    assert exp.constraints.flops == (None, 3.0e6)  # '3.0e6' is a string to PyYAML; accepted
    assert exp.dataset.name == "digits" and exp.resources.max_concurrent == 2


@pytest.mark.parametrize(
    "data, message",
    [
        ("space: [unclosed\n", "malformed YAML at line"),
        ([1, 2], "(top level): expected a mapping of fields, got [1, 2]"),
        ({"space": "x", "samples": 0}, "samples: expected int in [1, 10000000], got 0"),
        ({"space": "x", "seed": -1}, "seed: expected int in [0, 4294967295], got -1"),
        (
            {"space": "x", "colour": 1},
            "colour: unknown field; legal: ['compare', 'constraints', 'dataset', 'dedupe', 'explore', 'keep_weights'",
        ),
        ({"samples": 3}, "space: give exactly one of 'space'"),
        ({"space": {"options": {}}}, "space.name: required: expected str"),
        (
            {"space": "x", "constraints": {"flops": [5, 1]}},
            "constraints.flops: empty range [5.0, 1.0]: low > high",
        ),
        (
            {"space": "x", "constraints": {"params": [None, float("nan")]}},
            "constraints.params: expected [low, high] of float in [0, inf] or null, got [None, nan]",
        ),
        ({"space": "x", "constraints": {"flops": [-1, None]}}, "constraints.flops: expected [low, high]"),
        ({"space": "x", "constraints": {"acts": [2e6, 1e6]}}, "constraints.acts: empty range [2000000.0"),
        ({"space": "x", "dedupe": "yes"}, "dedupe: expected bool"),
        (
            {"space": "x", "dataset": {"name": "mnist"}},
            "dataset.name: expected str in ['digits', 'synthetic', 'cifar10', 'npz', 'imagefolder', 'segsynthetic', 'segfolder', 'voc', 'cityscapes', 'camvid'], got 'mnist'",
        ),
        (
            {"space": "x", "dataset": {"name": "cifar10"}},
            "dataset.params.root: required by dataset 'cifar10'",
        ),
        (
            {"space": "x", "dataset": {"name": "digits", "params": {"val_fraction": "half"}}},
            "dataset.params.val_fraction: expected float in [0, 1], got 'half'",
        ),
        (
            {"space": "x", "training": {"epochs": "many"}},
            "training.epochs: expected int in [1, 10000], got 'many'",
        ),
        (
            {"space": "x", "training": {"lr": float("nan")}},
            "training.lr: expected float in [0.0, 100.0], got nan",
        ),
        (
            {"space": "x", "training": {"epochs": 2, "warmup_epochs": 2}},
            "training.warmup_epochs: must be below epochs",
        ),
        ({"space": "x", "training": {"amp": "yes"}}, "training.amp: expected bool, got 'yes'"),
        ({"space": "x", "training": {"augment": {"hflip": 1}}}, "training.augment.hflip"),
        (
            {"space": "x", "search": {"mode": "optimize", "objectives": ["flops"]}},
            "search.objectives: the first",
        ),
        ({"space": "x", "search": {"scheduler": "asha"}}, "search: sample mode trains every spec"),
        (
            {"space": "x", "search": {"mode": "optimize", "objectives": ["error", "flops"]}},
            "search.scheduler: asha",
        ),
        ({"space": "x", "keep_weights": "some"}, "keep_weights: got 'some'; legal: none, all"),
        (
            {"space": "x", "model": {"stem": {"type": "huge"}}},
            "model.stem.type: unknown stem 'huge'; legal: [",
        ),
        (
            {"space": "x", "model": {"stem": {"width": 0}}},
            "model.stem.width: expected int in [1, inf], got 0",
        ),
        (
            {"space": "x", "model": {"stem": {"depth": 2}}},
            "model.stem.depth: unknown field; legal: ['params'",
        ),
        (
            {"space": "x", "model": {"stem": {"params": {"stride": 3}}}},
            "model.stem.params.stride: expected int in",
        ),
        ({"space": "x", "model": {"head": {"colour": 1}}}, "model.head.colour: unknown parameter"),
    ],
)
def test_bad_files_name_file_and_field(tmp_path, data, message):
    path = _write(tmp_path, data)
    with pytest.raises(UserError) as err:
        config.load(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"space": "nope"}, "space.name: unknown design space 'nope'; legal: ['anynet_x_a'"),
        ({"space": {"name": "regnet_x", "options": {"wm": [1.5]}}}, "space.options.wm"),
        (
            {"space": "anynet_x_a", "constraints": {"flops": [1, 2]}},
            "constraints: space 'anynet_x_a': no model can satisfy the constraints: the stem alone",
        ),
        ({"space": "regnet_x", "model": {"stem": {"type": "huge"}}}, "model.stem.type: unknown stem 'huge'"),
        (
            {"space": "regnet_x", "dataset": {"name": "synthetic", "params": {"pixels": 3}}},
            "dataset.params.pixels: unknown",
        ),
    ],
)
def test_sweep_rejects_before_training(tmp_path, capsys, data, message):
    path = _write(tmp_path, {"samples": 2, **data})
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err
    assert not (out / "anynet_x_a" / "trials.jsonl").exists()


def test_yaml_numbers_read_as_declared():
    exp = config.parse({"space": "x", "samples": "1e3", "training": {"epochs": 5.0, "lr": 1}}, "exp.yaml")
    assert exp.samples == 1000 and exp.training.epochs == 5 and exp.training.lr == 1.0
    assert isinstance(exp.samples, int) and isinstance(exp.training.lr, float)
    exp = config.parse({"space": "x", "search": {"mode": "optimize", "objectives": "error"}}, "exp.yaml")
    assert exp.search.objectives == ("error",) and exp.search.scheduler == "asha"


def test_stem_default_is_the_context_default_and_a_partial_stem_keeps_spec_defaults():
    assert config.parse({"space": "x"}).model.stem == Context().stem == StemSpec("simple", 32, {"stride": 2})
    assert config.parse({"space": "x", "model": {"stem": {"width": 16}}}).model.stem == StemSpec(
        "simple", 16, {}
    )


def test_to_dict_reads_back_as_the_same_experiment():
    exp = config.load(REPO / "experiments/optimize_pareto_cifar10.yaml")
    assert config.parse(exp.to_dict(), exp.source) == exp
    assert yaml.safe_load(yaml.safe_dump(exp.to_dict())) == exp.to_dict()

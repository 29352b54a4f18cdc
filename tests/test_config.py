"""Experiment files: defaults, and one clear message per kind of bad input, before training."""

import pytest
import yaml

from blocks.errors import UserError
from nas import config
from nas.cli import main


def _write(tmp_path, data, name="exp.yaml"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def test_quickstart_parses():
    exp = config.load("experiments/quickstart.yaml")
    assert [s.name for s in exp.spaces] == ["anynet_x_a", "anynet_x_e"]
    assert exp.constraints.flops == (None, 3.0e6)  # '3.0e6' is a string to PyYAML; accepted
    assert exp.dataset.name == "digits" and exp.resources.max_concurrent == 2


@pytest.mark.parametrize(
    "data, message",
    [
        ("space: [unclosed\n", "malformed YAML at line"),
        ({"space": "x", "samples": 0}, "(top level).samples: 0 out of range"),
        ({"space": "x", "colour": 1}, "(top level).colour: unknown field"),
        ({"samples": 3}, "space: give exactly one of 'space'"),
        ({"space": "x", "constraints": {"flops": [5, 1]}}, "constraints.flops: empty range: low 5 > high 1"),
        (
            {"space": "x", "dataset": {"name": "mnist"}},
            "dataset.name: got 'mnist'; legal: ['digits', 'synthetic', 'cifar10', 'npz', 'imagefolder']",
        ),
        ({"space": "x", "training": {"epochs": "many"}}, "training.epochs: expected int"),
        (
            {"space": "x", "training": {"epochs": 2, "warmup_epochs": 2}},
            "training.warmup_epochs: must be below epochs",
        ),
        ({"space": "x", "training": {"amp": "yes"}}, "training.amp: expected true or false"),
        ({"space": "x", "training": {"augment": {"hflip": 1}}}, "training.augment.hflip"),
        (
            {"space": "x", "search": {"mode": "optimize", "objectives": ["flops"]}},
            "search.objectives: the first",
        ),
        ({"space": "x", "search": {"scheduler": "asha"}}, "search: sample mode trains every spec"),
        ({"space": "x", "keep_weights": "some"}, "keep_weights: got 'some'; legal: none, all"),
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
            "constraints: space 'anynet_x_a': only 0 of",
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

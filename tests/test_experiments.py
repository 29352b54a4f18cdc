"""Every ready experiment file loads, and its spaces and options resolve."""

from pathlib import Path

import pytest

import spaces
from nas import config

FILES = sorted((Path(__file__).resolve().parents[1] / "experiments").glob("*.yaml"))


def test_there_are_experiments():
    assert {"quickstart.yaml", "search_asha_digits.yaml"} <= {f.name for f in FILES}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_experiment_file_is_valid(path):
    exp = config.load(path)
    for sc in exp.spaces:
        spaces.get(sc.name).resolve(sc.options)
    assert exp.samples >= 1

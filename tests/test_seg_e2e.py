"""A segmentation experiment end to end: plan, sweep through Ray, results, analyze, export (dense
outputs checked in every format) and predict, on the synthetic thin-structure set."""

import csv
import json

import numpy as np
import pytest
import yaml
from PIL import Image

from nas.records import store

EXPERIMENT = {
    "name": "seg_e2e",
    "task": "segmentation",
    "seed": 0,
    "spaces": [
        {
            "name": "anynet_x_a",
            "options": {"stages": 3, "max_depth": 1, "max_width": 16, "strides": [2, 2, 2]},
        },
        {
            "name": "nds_vanilla",
            "options": {"depths": [1], "widths": [4, 8], "strides": [2, 2, 2]},
            "segmentation": {"schedule": "gridded"},
        },
    ],
    "samples": 2,
    "keep_weights": "all",
    "segmentation": {"decoder": "fcn", "output_stride": 8, "max_rate": 3},
    "model": {"stem": {"type": "simple", "width": 8, "params": {"stride": 2}}},
    "dataset": {"name": "segsynthetic", "params": {"num_samples": 32, "size": 16}},
    "training": {"epochs": 1, "batch_size": 16, "lr": 0.1},
    "resources": {"cpus_per_trial": 1, "max_concurrent": 2},
}


@pytest.mark.slow
def test_a_segmentation_sweep_goes_from_plan_to_a_coloured_mask(tmp_path, capsys):
    from nas.cli import main
    from nas.training import datasets

    path = tmp_path / "seg.yaml"
    path.write_text(yaml.safe_dump(EXPERIMENT))
    out = tmp_path / "sweep"
    assert main(["sweep", str(path), "--dry-run"]) == 0
    planned = capsys.readouterr().out
    assert "2 space(s) x 2 samples; dataset segsynthetic (3, 16, 16), 4 classes" in planned
    assert (
        "  anynet_x_a: 2 drawn;" in planned
        and "    dilated stages: 2 hole-free, 0 with gridding holes" in planned
    )
    assert "    dilated stages: 0 hole-free, 2 with gridding holes (`nas hdc`)" in planned

    assert main(["sweep", str(path), "--out", str(out), "--no-analyze"]) == 0
    capsys.readouterr()
    for space, verdict in (("anynet_x_a", "hole-free"), ("nds_vanilla", "leaves gridding holes")):
        rows = store.rows(out / space)
        assert sorted(r["trial_index"] for r in rows) == [0, 1]
        for r in rows:
            assert r["status"] == "ok" and r["error"] == pytest.approx(100 - r["miou"])
            present = [v for v in r["class_iou"] if v is not None]
            assert len(r["class_iou"]) == 4 and r["miou"] == pytest.approx(sum(present) / len(present))
            assert r["spec"]["decoder"]["type"] == "fcn" and r["spec"]["head"]["num_classes"] == 4
            assert [verdict in v for v in r["spec"]["gridding"].values()] == [True]  # the last stage

    assert main(["results", str(out / "anynet_x_a")]) == 0
    table = capsys.readouterr().out
    assert "mIoU" in table and "IoU per class (background line ring blob)" in table

    assert main(["analyze", str(out)]) == 0
    said = capsys.readouterr().out
    assert "errors are 100 - validation mIoU (%) of trials with status ok" in said
    assert (out / "analysis" / "edf.png").stat().st_size > 10_000
    assert main(["analyze", str(out), "--json", "--no-figures"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {n: r["count"] for n, r in result["runs"].items()} == {"anynet_x_a": 2, "nds_vanilla": 2}

    exported = tmp_path / "exported"
    assert main(["export", str(out / "anynet_x_a"), "--top", "1", "--out", str(exported)]) == 0
    said = capsys.readouterr().out
    assert "spec ok | weights 0.0e+00 | torchscript" in said and "exported" in said
    with open(exported / "index.csv", newline="") as fh:
        (model_id,) = [row["model_id"] for row in csv.DictReader(fh)]

    data = datasets.load("segsynthetic", EXPERIMENT["dataset"]["params"])
    image = tmp_path / "thin.png"
    Image.fromarray(data.x_val[0].permute(1, 2, 0).numpy()).save(image)
    mask = tmp_path / "mask.png"
    assert main(["predict", str(exported / model_id), str(image), "--out", str(mask)]) == 0
    assert f"wrote {mask}" in capsys.readouterr().out
    written = Image.open(mask)
    assert written.mode == "P" and written.size == (16, 16)
    colours = np.array(written.getpalette()[:12]).reshape(4, 3).tolist()
    assert colours == [list(c) for c in data.palette]
    assert set(np.unique(np.array(written)).tolist()) <= {0, 1, 2, 3}

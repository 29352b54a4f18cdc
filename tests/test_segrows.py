"""Segmentation scores in rows and in `nas results`; classification rows read and write as before."""

import csv
import io
import math
from dataclasses import replace

import numpy as np

from nas.cli import main
from nas.records import store
from nas.records.rows import TrialRow
from nas.sweeping.trial import _scores
from tests.synth import write_run


def test_scores_are_optional_row_fields_absent_from_classification_rows(tmp_path):
    run = write_run(tmp_path, "anynet_x_a", 2, lambda v, rng: 10.0)
    plain = TrialRow.from_dict(store.rows(run)[0])
    assert not {"miou", "pixel_accuracy", "class_iou", "dice"} & set(plain.to_dict())
    dense = replace(plain, **_scores({"miou": 40.0, "pixel_accuracy": 90.0, "class_iou": [80.0, math.nan]}))
    assert dense.class_iou == [80.0, None]
    assert TrialRow.from_dict(dense.to_dict()) == dense


def test_results_show_miou_and_each_class_iou(tmp_path, capsys):
    run = write_run(tmp_path, "anynet_x_a", 2, lambda v, rng: 10.0)
    rows = [TrialRow.from_dict(r) for r in store.rows(run)]
    (run / store.TRIALS).unlink()
    for r, miou in zip(rows, (60.0, 45.5)):
        scored = {"miou": miou, "pixel_accuracy": 91.25, "class_iou": [95.0, 2 * miou - 95.0], "dice": 30.0}
        store.append_row(run, replace(r, error=100 - miou, **scored))
    assert main(["results", str(run)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[-7:] == ["mIoU", "pixAcc", "Dice", "IoU", "per", "class,", "reason"]
    assert out[2].split()[3] == "40.00" and out[2].split()[-5:] == ["60.00", "91.25", "30.00", "95.0", "25.0"]
    (run / "preprocessing.json").write_text('{"class_names": ["road", "sky"]}')
    assert main(["results", str(run)]) == 0
    assert "IoU per class (road sky), reason" in capsys.readouterr().out.splitlines()[1]
    assert main(["results", str(run), "--csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [float(t["miou"]) for t in table] == [60.0, 45.5]
    assert np.allclose([float(t["iou.1"]) for t in table], [25.0, -4.0])
    assert list(table[0])[16:21] == ["miou", "pixel_accuracy", "dice", "iou.0", "iou.1"]

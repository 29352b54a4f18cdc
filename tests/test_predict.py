"""`nas predict`: an image prepared as training prepared it; a segmentation mask written as a
palette PNG at the image's size; a classifier's top class through the command's whole path."""

import numpy as np
import pytest
import torch
from PIL import Image

from blocks.spec import from_dict
from nas.cli import main
from nas.exporting.export import Job, export_model
from nas.exporting.predict import prepare, segment, write_mask
from nas.training import datasets
from tests.test_segtrain import TinySeg


def _photo(path, width, height, seed=0):
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)).save(
        path
    )
    return path


def test_a_mask_is_the_networks_argmax_coloured_at_the_images_size(tmp_path):
    data = datasets.load("segsynthetic", {"num_samples": 8, "size": 16})
    record = data.preprocessing()
    assert record["task"] == "segmentation" and record["class_names"] == [
        "background",
        "line",
        "ring",
        "blob",
    ]
    torch.manual_seed(0)
    model = TinySeg(4).eval()
    image = _photo(tmp_path / "photo.png", 24, 20)
    x, size = prepare(image, record)
    want = np.asarray(Image.open(image).convert("RGB").resize((16, 16), Image.Resampling.BILINEAR))
    mean, std = np.array(record["mean"]), np.array(record["std"])
    assert size == (24, 20) and np.allclose(x[0].numpy(), ((want - mean) / std).transpose(2, 0, 1), atol=1e-5)
    mask = segment(model, record, image)
    with torch.no_grad():
        small = model(x).argmax(1)[0].numpy().astype(np.uint8)
    assert mask.shape == (20, 24)
    assert np.array_equal(mask, np.asarray(Image.fromarray(small).resize((24, 20), Image.Resampling.NEAREST)))
    written = Image.open(write_mask(mask, record["palette"], tmp_path / "out" / "mask.png"))
    assert written.mode == "P" and np.array_equal(np.asarray(written), mask)
    assert written.getpalette()[:12] == [0, 0, 0, 230, 25, 75, 60, 180, 75, 0, 130, 200]


def _classifier_export(tmp_path):
    """An export folder, as `nas export` writes it, of a classifier of an imagefolder's 2 classes."""
    for k, name in enumerate(("cat", "dog")):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(3):
            _photo(tmp_path / "data" / name / f"{i}.png", 8, 8, seed=10 * k + i)
    record = datasets.load(
        "imagefolder", {"root": str(tmp_path / "data"), "val_fraction": 0.34}
    ).preprocessing()
    spec = from_dict(
        {
            "input_shape": [3, 8, 8],
            "stem": {"type": "simple", "width": 8, "params": {"stride": 1}},
            "stages": [{"block": "res_basic", "depth": 1, "width": 8, "stride": 2}],
            "head": {"num_classes": 2},
        }
    )
    from blocks.network import build

    torch.manual_seed(0)
    net = build(spec).eval()
    done = export_model(Job(spec, model=net, preprocessing=record), tmp_path / "export", ("spec", "weights"))
    return done.dir, net, record


def test_predict_runs_an_export_on_an_image(tmp_path, capsys):
    folder, net, record = _classifier_export(tmp_path)
    image = _photo(tmp_path / "x.png", 12, 9, seed=5)
    with torch.no_grad():
        probs = torch.softmax(net(prepare(image, record)[0])[0], 0)
    top = int(probs.argmax())
    assert main(["predict", str(folder), str(image)]) == 0
    assert capsys.readouterr().out == f"{image}: {('cat', 'dog')[top]} ({float(probs[top]):.1%})\n"
    assert main(["predict", str(folder / "spec.yaml"), str(image)]) == 0
    assert capsys.readouterr().out.startswith(f"{image}: ")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["{f}", "{i}", "--out", "m.png"], "{f}: a classifier has no mask to write; leave out --out"),
        (["{f}", "{t}/none.png"], "{t}/none.png: no such image file"),
        (
            ["{t}/nowhere", "{i}"],
            "{t}/nowhere: no such export folder or spec file (an export holds spec.yaml)",
        ),
    ],
)
def test_bad_predictions_are_one_line(tmp_path, capsys, argv, message):
    folder, _, _ = _classifier_export(tmp_path)
    image = _photo(tmp_path / "x.png", 8, 8)
    fill = {"f": folder, "i": image, "t": tmp_path}
    assert main(["predict", *(a.format(**fill) for a in argv)]) == 2
    assert capsys.readouterr().err == f"nas predict: error: {message.format(**fill)}\n"


def test_an_export_without_weights_or_of_unimaged_data_is_refused(tmp_path, capsys):
    folder, _, _ = _classifier_export(tmp_path)
    image = _photo(tmp_path / "x.png", 8, 8)
    (folder / "weights.pt").unlink()
    assert main(["predict", str(folder), str(image)]) == 2
    assert capsys.readouterr().err.endswith(
        "spec.yaml: no weights.pt beside it; export with trained weights\n"
    )
    text = (
        (folder / "spec.yaml").read_text().replace("uint8 values 0..255 as Pillow", "float values as Pillow")
    )
    (folder / "spec.yaml").write_text(text)
    assert main(["predict", str(folder), str(image)]) == 2
    assert "whose pixels are 'float values as Pillow" in capsys.readouterr().err

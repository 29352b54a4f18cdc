"""Exports carry their preprocessing: the training split's mean and std recorded per run, graphs
that take raw pixels with --raw-input, and where an exported model's weights came from."""

import json

import numpy as np
import pytest
import torch
import yaml
from sklearn.datasets import load_digits

import nas
from blocks.complexity import complexity
from blocks.errors import UserError
from blocks.spec import from_dict, load
from nas import config as cfgmod
from nas.cli import main
from nas.exporting import export as ex
from nas.exporting import formats
from nas.records import store
from nas.records.rows import PlanEntry, Status
from nas.records.weights import OWNER, fresh, read_source, save_weights, weights_path, write_source
from nas.sweeping.trial import make_row
from nas.training import datasets as datamod
from nas.training.loop import train

EXPERIMENT = {
    "name": "digits",
    "space": "anynet_x_a",
    "samples": 1,
    "dataset": {"name": "digits"},
    "training": {"epochs": 2, "batch_size": 64, "warmup_epochs": 0},
    "resources": {"cpus_per_trial": 1},
}
SPEC = from_dict(
    {
        "input_shape": [1, 8, 8],
        "stem": {"type": "simple", "width": 8, "params": {"stride": 1}},
        "stages": [{"block": "res_basic", "depth": 1, "width": 16, "stride": 2}],
        "head": {"num_classes": 10},
    }
)


def raw_val_pixels() -> np.ndarray:
    """The validation split of digits as the loader reads it, before standardisation."""
    bunch = load_digits()
    return datamod._split(bunch.images[:, None] / 16.0, bunch.target, 0.2, 0)[2].astype(np.float32)


def test_digits_expose_the_training_split_statistics():
    data = datamod.load("digits")
    prep = data.preprocessing()
    assert prep["input_shape"] == [1, 8, 8] and prep["channel_order"] == "gray"
    assert prep["class_names"] == [str(d) for d in range(10)] and len(prep["mean"]) == len(prep["std"]) == 1
    raw = torch.from_numpy(raw_val_pixels())
    mean, std = (torch.tensor(prep[k]).view(1, -1, 1, 1) for k in ("mean", "std"))
    batches = torch.cat([x for x, _ in data.val_batches(100, torch.device("cpu"))])
    assert torch.allclose((raw - mean) / std, batches, atol=1e-6)


def test_weights_source_is_dropped_when_the_weights_change(tmp_path):
    path = save_weights(fresh(SPEC, 0), tmp_path / "w.pt")
    write_source(path, {"weights": "retrained"})
    assert read_source(path)["weights"] == "retrained"
    save_weights(fresh(SPEC, 1), path)
    assert read_source(path) is None


def test_onnx_hint_names_installable_packages(monkeypatch):
    monkeypatch.setattr(formats.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserError, match=r"pip install onnx onnxscript onnxruntime"):
        formats.require_onnx()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A digits run with one trial trained for real, its weights kept as the sweep keeps them."""
    run = tmp_path_factory.mktemp("sweep") / "anynet_x_a"
    run.mkdir()
    exp = cfgmod.parse(EXPERIMENT, "digits.yaml")
    data = datamod.load("digits")
    (run / store.EXPERIMENT).write_text(yaml.safe_dump(exp.to_dict(), sort_keys=False))
    (run / datamod.PREPROCESSING).write_text(json.dumps(data.preprocessing()))
    result = train(SPEC, data, exp.training, seed=7, threads=1)
    entry = PlanEntry(0, "anynet_x_a", 7, SPEC.model_id, SPEC.to_dict(), {}, complexity(SPEC).to_dict())
    row = make_row(entry, "digits", Status.OK, error=result.error, val_errors=result.val_errors, epochs=2)
    store.append_row(run, row)
    kept = save_weights(result.model, weights_path(run, SPEC.model_id))
    kept.with_suffix(OWNER).write_text("0")
    return run, data, result.model.eval()


def loaders(folder):
    """Each exported graph, loaded as its users load it."""
    yield "torchscript", torch.jit.load(str(folder / "model.ts"))
    yield "exported", torch.export.load(str(folder / "model.pt2")).module()
    run, _ = formats.onnx_runner(folder / "model.onnx")
    yield "onnx", run


@pytest.mark.slow
def test_raw_input_graphs_predict_as_the_eager_model_on_standardised_input(run, tmp_path):
    run_dir, data, model = run
    out = tmp_path / "out"
    fmts = "weights,torchscript,exported,onnx"
    [done] = nas.export(run_dir, out, top=1, format=fmts, raw_input=True)
    assert done.ok, [c.describe() for c in done.checks]
    with torch.no_grad():
        want = model(torch.cat([x for x, _ in data.val_batches(256, torch.device("cpu"))])).argmax(1)
    raw = torch.from_numpy(raw_val_pixels())
    for name, graph in loaders(done.dir):
        with torch.no_grad():
            got = graph(raw).argmax(1)
        assert torch.equal(got, want), name
    record = yaml.safe_load((done.dir / "spec.yaml").read_text())
    assert record["weights"] == "trained" and record["weights_source"].startswith("sweep trial 0 of ")
    assert "2 epochs, seed 7, 1 thread)" in record["weights_source"]
    assert record["preprocessing"]["mean"] == data.preprocessing()["mean"]
    assert record["preprocessing"]["graphs_take"].startswith("raw pixels")
    assert load(done.dir / "spec.yaml") == SPEC


@pytest.mark.slow
def test_retrain_reproduces_the_sweep_and_exports_say_so(run, tmp_path, capsys):
    run_dir, _, model = run
    kept = weights_path(run_dir, SPEC.model_id)
    swept = kept.read_bytes()
    assert main(["retrain", SPEC.model_id, "--run", str(run_dir), "--out", str(tmp_path / "re.pt")]) == 0
    assert "seed 7, 1 thread(s)" in capsys.readouterr().out
    again = ex.load_weights(SPEC, tmp_path / "re.pt").state_dict()
    assert all(torch.equal(again[k], v) for k, v in model.state_dict().items())
    assert kept.read_bytes() == swept  # the sweep's weights stay as the sweep kept them
    out = tmp_path / "out"
    argv = ["export", str(run_dir), "--id", SPEC.model_id, "--weights", str(tmp_path / "re.pt")]
    assert main([*argv, "--format", "weights", "--out", str(out)]) == 0
    record = yaml.safe_load((out / SPEC.model_id / "spec.yaml").read_text())
    assert record["weights"] == "retrained" and "2 epochs, seed 7, 1 thread" in record["weights_source"]


def test_raw_input_without_statistics_is_one_line(tmp_path, capsys):
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(SPEC.to_dict()))
    out = tmp_path / "out"
    assert main(["export", str(spec_file), "--random-init", "--raw-input", "--out", str(out)]) == 2
    assert "--raw-input needs the training split's mean and std" in capsys.readouterr().err
    assert not out.exists()


def test_every_graph_carries_the_preprocessing_record_its_ecosystem_reads(tmp_path):
    """ONNX metadata through onnxruntime, TorchScript and pt2 extra files through torch's loaders:
    each holds the model id, input shape and the very preprocessing record spec.yaml holds."""
    onnxruntime = pytest.importorskip("onnxruntime")
    prep = datamod.load("digits").preprocessing()
    job = ex.Job(SPEC, {"space": "anynet_x_a"}, preprocessing=prep)
    fmts = "torchscript,exported,onnx"
    [done] = ex.export_all([job], tmp_path, fmts, random_init=True, raw_input=True)
    assert done.ok, [c.describe() for c in done.checks]
    name = f"{formats.CARD}.json"
    ts, pt2 = {name: ""}, {name: ""}
    torch.jit.load(str(done.dir / "model.ts"), _extra_files=ts)
    torch.export.load(str(done.dir / "model.pt2"), extra_files=pt2)
    session = onnxruntime.InferenceSession(str(done.dir / "model.onnx"), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    cards = [json.loads(ts[name]), json.loads(pt2[name]), json.loads(meta[formats.CARD])]
    record = yaml.safe_load((done.dir / "spec.yaml").read_text())["preprocessing"]
    assert record["mean"] == prep["mean"] and record["class_names"] == [str(d) for d in range(10)]
    want = {"model_id": SPEC.model_id, "input_shape": [1, 8, 8], "preprocessing": record}
    assert cards == [want] * 3 and record["graphs_take"].startswith("raw pixels")
    assert all(formats.read_card(f, done.dir / formats.FILES[f]) == want for f in formats.GRAPHS)


def test_default_export_includes_onnx_only_where_it_can_be_written_and_run(monkeypatch):
    real = formats.importlib.util.find_spec
    everything = all(real(p) for p in ("onnx", "onnxscript", "onnxruntime"))
    assert formats.default_graphs() == ("torchscript", "exported", *(("onnx",) if everything else ()))
    monkeypatch.setattr(
        formats.importlib.util, "find_spec", lambda n: None if n == "onnxruntime" else real(n)
    )
    assert formats.default_graphs() == ("torchscript", "exported")
    assert ex.formats_for(ex.Job(SPEC, model=fresh(SPEC, 0)), None, False) == (
        "spec",
        "weights",
        "torchscript",
        "exported",
    )

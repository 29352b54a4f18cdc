"""`nas export` and `nas retrain` on a synthetic run: which models are chosen, the files written,
the spec round trip through `nas build`, weights files, and the messages for bad input."""

import csv
import re
import sys

import pytest
import torch
import yaml

import nas
from blocks.complexity import complexity
from blocks.errors import UserError
from blocks.network import build
from blocks.spec import from_dict, load
from nas import config as cfgmod
from nas import zoo
from nas.cli import main
from nas.exporting import export as ex
from nas.exporting import formats, select
from nas.records import store
from nas.records.rows import PlanEntry, Status
from nas.records.weights import fresh
from nas.sweeping.trial import make_row

EXPERIMENT = {
    "name": "tiny",
    "space": "anynet_x_a",
    "samples": 3,
    "dataset": {"name": "synthetic", "params": {"num_samples": 64, "size": 8, "num_classes": 4}},
    "training": {"epochs": 2, "batch_size": 32},
}
# (width, error): flops grow with width; the (error, flops) front is 48, 24, 12, 8
MODELS = {"a": [(8, 50.0), (12, 40.0), (16, 45.0)], "b": [(24, 30.0), (32, 35.0), (48, 20.0)]}
UNTRAINED = 8  # the sweep kept no weights for this width


def spec_of(width: int):
    return from_dict(
        {
            "input_shape": [3, 8, 8],
            "stem": {"type": "simple", "width": 8, "params": {"stride": 1}},
            "stages": [{"block": "res_basic", "depth": 1, "width": width, "stride": 2}],
            "head": {"num_classes": 4},
        }
    )


def trained(width: int) -> torch.nn.Module:
    torch.manual_seed(width)
    return build(spec_of(width)).eval()


def _entry(index: int, space: str, spec) -> PlanEntry:
    return PlanEntry(index, space, 100 + index, spec.model_id, spec.to_dict(), {}, complexity(spec).to_dict())


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A sweep folder of two runs, rows as the sweep writes them, weights for all but one model."""
    root = tmp_path_factory.mktemp("sweep")
    for space, models in MODELS.items():
        run = root / space
        run.mkdir()
        exp = cfgmod.parse(EXPERIMENT, "tiny.yaml")
        (run / store.EXPERIMENT).write_text(yaml.safe_dump(exp.to_dict(), sort_keys=False))
        for i, (width, error) in enumerate(models):
            spec = spec_of(width)
            row = make_row(
                _entry(i, space, spec), "tiny", Status.OK, error=error, val_errors=[error], epochs=2
            )
            store.append_row(run, row)
            if width != UNTRAINED:
                ex.save_weights(trained(width), ex.weights_path(run, spec.model_id))
    failed = make_row(
        _entry(7, "a", spec_of(40)), "tiny", Status.FAILED, reason="RuntimeError: out of memory"
    )
    stopped = make_row(_entry(8, "a", spec_of(56)), "tiny", Status.STOPPED, error=1.0)
    for row in (failed, stopped):
        store.append_row(root / "a", row)
    return root


def ids(*widths: int) -> list[str]:
    return [spec_of(w).model_id for w in widths]


def index(out) -> list[dict]:
    with open(out / "index.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_top_k_by_error_across_a_sweep_folder(sweep, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["export", str(sweep), "--top", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = index(out)
    assert [r["model_id"] for r in rows] == ids(48, 24, 32)  # ok rows only: the stopped 1.0 % is out
    assert [r["error"] for r in rows] == ["20.0", "30.0", "35.0"]
    for r in rows:
        files = {p.name for p in (out / r["model_id"]).iterdir()}
        assert files == {"spec.yaml", "weights.pt", *(formats.FILES[f] for f in formats.default_graphs())}
        assert r["weights_source"] == "trained" and float(r["torchscript"]) == 0.0
        assert (r["onnx"] != "") == ("onnx" in formats.default_graphs())
    assert "largest |eager - loaded| per format: weights 0.0e+00, torchscript" in printed


def test_pareto_front_of_error_and_flops(sweep, tmp_path):
    assert [c.model_id for c in select.choose(sweep, by="pareto")] == ids(48, 24, 12, 8)
    out = tmp_path / "out"
    assert main(["export", str(sweep), "--by", "pareto", "--top", "2", "--out", str(out)]) == 0
    assert [r["model_id"] for r in index(out)] == ids(48, 24)


def test_id_export_round_trips_through_nas_build(sweep, tmp_path, capsys):
    model_id = spec_of(24).model_id
    out = tmp_path / "out"
    assert main(["export", str(sweep / "b"), "--id", model_id, "--format", "weights", "--out", str(out)]) == 0
    folder = out / model_id
    assert sorted(p.name for p in folder.iterdir()) == ["spec.yaml", "weights.pt"]
    record = yaml.safe_load((folder / "spec.yaml").read_text())
    assert record["model_id"] == model_id and record["space"] == "b" and record["error"] == 30.0
    assert record["seed"] == 100 and record["experiment"]["name"] == "tiny"
    assert record["complexity"] == complexity(spec_of(24)).to_dict() and record["weights"] == "trained"
    capsys.readouterr()

    assert main(["build", str(folder / "spec.yaml")]) == 0
    assert f"parameters: {record['complexity']['params']}" in capsys.readouterr().out
    state = torch.load(folder / "weights.pt", weights_only=True)
    rebuilt = build(load(folder / "spec.yaml"))
    rebuilt.load_state_dict(state)
    x = torch.randn(5, 3, 8, 8)
    assert torch.equal(rebuilt.eval()(x), trained(24)(x))
    assert torch.equal(nas.build(folder / "spec.yaml", weights=folder / "weights.pt")(x), trained(24)(x))


def test_missing_weights_say_so_and_suggest_retrain(sweep, tmp_path, capsys):
    model_id = spec_of(UNTRAINED).model_id
    out = tmp_path / "out"
    cmd = ["export", str(sweep), "--id", model_id, "--out", str(out)]
    assert main([*cmd, "--format", "torchscript"]) == 2
    err = capsys.readouterr().err
    assert "none were kept for 1 of 1 model(s)" in err and f"weights/{model_id}.pt" not in err
    assert f"(retrain {model_id} from run {sweep / 'a'} for N epochs)" in err and "--random-init" in err
    assert not out.exists()

    assert main(cmd) == 0  # default formats: the spec alone, with a note
    assert "no trained weights were kept" in capsys.readouterr().out
    assert [p.name for p in (out / model_id).iterdir()] == ["spec.yaml"]

    assert main([*cmd, "--random-init"]) == 0
    assert index(out)[0]["weights_source"] == "random-init" and float(index(out)[0]["exported"]) == 0.0
    assert main([*cmd, "--random-init", "--format", "weights"]) == 2
    assert "--format weights needs trained weights" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--id", "0123456789ab"], "no trial with this model id; the best ok models are"),
        (["--id", spec_of(40).model_id], "trial 7 ended failed: RuntimeError: out of memory; only ok trials"),
        (
            ["--top", "2", "--format", "spec,tflite"],
            "--format: unknown format 'tflite'; legal: spec,weights,",
        ),
        (["--top", "0"], "--top: expected a positive number of models, got 0"),
        (["--top", "2", "--by", "flops"], "--by: got 'flops'; legal: ['error', 'pareto']"),
        (["--top", "2", "--id", "0123456789ab"], "give either --top K or --id MODEL_ID, not both"),
        ([], "give --top K (the K lowest-error models) or --id MODEL_ID"),
        (["--top", "1", "--weights", "w.pt"], "--weights goes with one model: a spec file or zoo name, or"),
    ],
)
def test_bad_input_is_one_clear_line(sweep, tmp_path, capsys, args, message):
    assert main(["export", str(sweep), *args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_missing_run_and_empty_run(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope"), "--top", "1"]) == 2
    assert "no such run directory" in capsys.readouterr().err
    (tmp_path / "run").mkdir()
    store.append_row(tmp_path / "run", make_row(_entry(0, "a", spec_of(8)), "t", Status.DIVERGED))
    assert main(["export", str(tmp_path / "run"), "--top", "1"]) == 2
    assert "no trial with status ok to export (1 diverged)" in capsys.readouterr().err


def test_onnx_without_its_packages_names_them(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    with pytest.raises(
        UserError,
        match=r"needs the Python packages onnx and onnxscript \(missing: (onnx, )?onnxscript\); install",
    ):
        formats.parse_formats("spec,onnx")


def test_weights_files_load_safely_and_must_match_the_spec(tmp_path):
    model = trained(16).to(memory_format=torch.channels_last)
    path = ex.save_weights(model, tmp_path / "deep" / "w.pt")
    state = torch.load(path, weights_only=True)
    assert all(t.is_contiguous() and t.device.type == "cpu" for t in state.values())
    assert not list(tmp_path.glob("deep/*.partial"))
    with pytest.raises(UserError, match=r"w.pt: not the weights of model .*'stages.0.0.a.weight' has shape"):
        ex.load_weights(spec_of(24), path)
    (tmp_path / "junk.pt").write_text("not a tensor archive")
    with pytest.raises(UserError, match="junk.pt: not a weights file torch.load"):
        ex.load_weights(spec_of(16), tmp_path / "junk.pt")
    with pytest.raises(UserError, match="no such weights file"):
        ex.load_weights(spec_of(16), tmp_path / "missing.pt")


def test_a_check_that_differs_fails_the_command(sweep, tmp_path, monkeypatch, capsys):
    real = formats.WRITERS["torchscript"]

    def off_by_one(model, spec, capture, path, text):
        run, _ = real(model, spec, capture, path, text)
        return (lambda x: run(x) + 1.0), "a broken writer"

    monkeypatch.setitem(formats.WRITERS, "torchscript", off_by_one)
    out = tmp_path / "out"
    assert main(["export", str(sweep), "--top", "1", "--format", "torchscript", "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "torchscript 1.0e+00 > allowed 1.0e-04" in printed and "checks FAILED for" in printed


def test_a_spec_is_named_by_its_file_or_zoo_name(tmp_path, capsys):
    assert nas.load_spec("resnet18") == zoo.get("resnet18")
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec_of(12).to_dict()))
    assert nas.load_spec(path) == nas.load_spec(str(path)) == spec_of(12)
    with pytest.raises(
        UserError, match=r"^nosuch: neither a spec file nor a zoo network; unknown zoo network"
    ):
        nas.load_spec("nosuch")
    assert main(["build", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nas build: error: nosuch: neither") and err.count("\n") == 1


def test_build_takes_a_model_id_of_a_run_as_retrain_does(tmp_path, capsys):
    from tests.synth import write_run

    run = write_run(tmp_path / "sweep", "regnet_x", 3, lambda v, rng: 10.0 + rng.random())
    entry = store.plan(run)[2]
    assert main(["build", entry["model_id"], "--run", str(tmp_path / "sweep")]) == 0
    out = capsys.readouterr().out
    total = complexity(from_dict(entry["spec"]))
    assert out.startswith(f"{entry['model_id']}  model_id {entry['model_id']}  input (3, 8, 8)")
    assert f"parameters: {total.params}" in out
    net = nas.build(entry["model_id"], run=run)
    assert sum(p.numel() for p in net.parameters()) == total.params
    assert nas.build("resnet18", run=run) is not None  # a zoo name is still a zoo name
    assert main(["build", "0123456789ab", "--run", str(run)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"nas build: error: 0123456789ab: neither a spec file, a zoo network, nor a model id in {run}; "
        "its results list its models\n"
    )
    assert main(["build", "--list", "--run", str(run)]) == 2
    assert capsys.readouterr().err.startswith("nas build: error: --run: names the run of a model id")


def test_a_malformed_spec_file_is_one_line_exit_2(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text("stem: [1,\n  stages: {\n")
    assert main(["build", str(tmp_path / "s.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nas build: error: {tmp_path / 's.yaml'}: not valid YAML/JSON at line 3")
    assert err.count("\n") == 1


def test_random_init_is_seeded_without_touching_the_global_rng():
    torch.manual_seed(5)
    state = torch.get_rng_state()
    a, b = fresh(spec_of(8), 3), fresh(spec_of(8), 3)
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    assert not torch.equal(
        a.state_dict()["stem.conv.weight"], fresh(spec_of(8), 4).state_dict()["stem.conv.weight"]
    )
    assert torch.equal(torch.get_rng_state(), state)


def test_python_api_mirrors_the_cli(sweep, tmp_path):
    from blocks.network import Network

    assert type(nas.build(spec_of(8))) is Network
    done = nas.export(sweep, tmp_path / "out", top=1, format=["torchscript"])
    assert [e.model_id for e in done] == ids(48) and all(e.ok for e in done)
    spec = nas.load_spec(done[0].dir / "spec.yaml")
    assert spec == spec_of(48)
    loaded = torch.jit.load(str(done[0].dir / "model.ts"))
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(loaded(x), trained(48)(x))
    [mem] = nas.export(trained(12), tmp_path / "mem", format="exported")  # a network in memory
    assert mem.weights == "given" and mem.checks[-1].status == "verified"


def test_retrain_a_run_model_then_export_it(sweep, tmp_path, capsys):
    model_id = spec_of(UNTRAINED).model_id
    assert main(["retrain", model_id, "--run", str(sweep), "--epochs", "1", "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    saved = sweep / "a" / "retrained" / f"{model_id}-1ep-seed100.pt"
    assert (
        "epoch 1/1  loss" in printed
        and "val error" in printed
        and f"for 1 epoch, seed 100, 1 thread(s) -> {saved}" in printed
    )
    follow = f"nas export {sweep / 'a'} --id {model_id} --weights {saved}"
    assert follow in printed and not ex.weights_path(sweep / "a", model_id).exists()
    ex.load_weights(spec_of(UNTRAINED), saved)
    try:
        out = tmp_path / "out"
        argv = ["export", str(sweep), "--id", model_id, "--weights", str(saved), "--format", "exported"]
        assert main([*argv, "--out", str(out)]) == 0
        assert index(out)[0]["weights_source"] == "retrained"
        # the exported spec records its recipe, so it retrains with no --experiment or --run
        w = tmp_path / "again.pt"
        spec_file = str(out / model_id / "spec.yaml")
        assert main(["retrain", spec_file, "--epochs", "1", "--out", str(w)]) == 0
        assert f"export it with `nas export {spec_file} --weights {w}`" in capsys.readouterr().out
        # a run's model retrained elsewhere exports with --weights beside its --id
        assert main(["export", str(sweep), "--id", model_id, "--weights", str(w), "--out", str(out)]) == 0
        got, want = torch.load(out / model_id / "weights.pt"), torch.load(w)
        assert all(torch.equal(got[k], want[k]) for k in want)
    finally:
        saved.unlink()
        saved.with_name(saved.name + ".json").unlink()


def test_retrain_rejects_a_dataset_the_spec_does_not_fit(tmp_path, capsys):
    exp = tmp_path / "tiny.yaml"
    exp.write_text(yaml.safe_dump(EXPERIMENT))
    assert main(["retrain", "resnet18", "--experiment", str(exp)]) == 2
    err = capsys.readouterr().err
    assert "dataset synthetic has input [3, 8, 8] and 4 classes" in err and "takes [3, 224, 224]" in err
    assert main(["retrain", "resnet18"]) == 2
    assert "no training recipe; give --experiment EXP.yaml or --run RUN_DIR" in capsys.readouterr().err


def test_onnx_is_checked_without_onnxruntime_or_said_unverified(sweep, tmp_path, monkeypatch, capsys):
    pytest.importorskip("onnxscript", reason="ONNX export needs the onnx and onnxscript packages")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    cmd = ["export", str(sweep), "--top", "1", "--format", "onnx", "--out", str(tmp_path / "out")]
    assert main(cmd) == 0
    assert re.search(r"onnx \d\.\de[-+]\d\d \(onnx reference evaluator\)", capsys.readouterr().out)

    def no_runtime(path):
        raise RuntimeError("no kernel for op Foo")

    monkeypatch.setattr(formats, "onnx_runner", no_runtime)
    assert main(cmd) == 0
    printed = capsys.readouterr().out
    assert (
        "onnx written, not verified: no ONNX runtime here could load it (RuntimeError: no kernel" in printed
    )
    assert (
        "1 file(s) written but not verified" in printed
        and (tmp_path / "out" / ids(48)[0] / "model.onnx").is_file()
    )

"""A researcher's first hour: `--set` overrides and `--dry-run`, results as data (one JSON document,
one CSV table, typed rows, a DataFrame), the Python API's verbs, `--version`, help on every
option, and a closed pipe ending quietly."""

import argparse
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import nas
from blocks.errors import ArgError, UserError
from nas import config
from nas.cli import main, parser
from nas.records import store
from nas.records.rows import TrialRow
from nas.sweeping.plan import prepare
from nas.training import datasets
from tests.synth import tiny_experiment, write_run

REPO = Path(__file__).resolve().parents[1]


def _sweep_folder(tmp_path: Path) -> Path:
    """A sweep folder of two synthetic runs, 4 and 3 trials, one of them failed."""
    out = tmp_path / "sweep"
    write_run(out, "regnet_x", 4, lambda v, rng: 10.0 + rng.random(), bad={1: "failed"})
    write_run(out, "anynet_x_c", 3, lambda v, rng: 20.0 + rng.random())
    return out


def test_set_overrides_are_typed_validated_and_recorded(tmp_path):
    path = tiny_experiment(tmp_path, samples=2, seed=0, epochs=1)
    sets = ["training.epochs=2", "resources.gpus_per_trial=0", "training.augment.hflip=true"]
    exp = config.load(path, sets)
    assert exp.training.epochs == 2 and exp.resources.gpus_per_trial == 0.0 and exp.training.augment.hflip
    data = datasets.load(exp.dataset.name, exp.dataset.params, exp.source)
    runs = prepare(exp, tmp_path / "out", data)
    recorded = yaml.safe_load((runs[0].dir / store.EXPERIMENT).read_text())
    assert recorded["training"]["epochs"] == 2 and recorded["training"]["augment"]["hflip"] is True


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("training.epochs=abc", "--set training.epochs: expected int in [1, 10000], got 'abc'"),
        ("training.epoch=2", "--set training.epoch: unknown field; legal: ['amp',"),
        ("search.mode=bogus", "--set search.mode: expected str in ['sample', 'optimize']"),
        ("training.epochs", "--set 'training.epochs': expected FIELD.PATH=VALUE"),
        ("name.x=1", "--set name.x: name is 'tiny', not a mapping of fields"),
        ("seed=[1", "--set seed: malformed YAML at line 1"),
    ],
)
def test_a_bad_set_is_one_line_naming_it_and_writes_nothing(tmp_path, capsys, monkeypatch, setting, expected):
    path = tiny_experiment(tmp_path, samples=2, seed=0, epochs=1)
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", str(path), "--set", setting, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nas sweep: error: {expected}") and err.count("\n") == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "runs").exists()


def test_a_bad_override_names_the_argument_in_python_and_the_flag_as_typed(tmp_path, capsys):
    """The library names `overrides`, the CLI the flag the user wrote: --set or --overrides."""
    path = tiny_experiment(tmp_path, samples=2, seed=0, epochs=1)
    said = "training.epochs: expected int in [1, 10000], got 'abc' (in "
    with pytest.raises(ArgError) as err:
        config.load(path, ["training.epochs=abc"])
    assert str(err.value).startswith(f"overrides {said}")
    with pytest.raises(
        ArgError, match=r"^overrides 'seed': expected FIELD.PATH=VALUE, e.g. training.epochs=2$"
    ):
        nas.plan(path, ["seed"])
    for flag in ("--set", "--overrides"):
        assert main(["sweep", str(path), flag, "training.epochs=abc", "--dry-run"]) == 2
        assert capsys.readouterr().err.startswith(f"nas sweep: error: {flag} {said}")


def test_set_reaches_list_entries_by_index(tmp_path):
    path = tiny_experiment(tmp_path, samples=2, seed=0, epochs=1)
    exp = config.load(path, ["spaces.0.options.max_width=32", "spaces.0.options.strides.1=1"])
    assert exp.spaces[0].options["max_width"] == 32 and exp.spaces[0].options["strides"] == [1, 1]
    assert exp.spaces[1].options == yaml.safe_load(path.read_text())["spaces"][1]["options"]


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (
            "spaces.2.options.max_width=32",
            "--set spaces.2.options.max_width: spaces has 2 entries, so index 2",
        ),
        ("spaces.x.name=regnet_y", "--set spaces.x.name: spaces is a list, so 'x' must be an index; legal"),
        (
            "spaces.-1.name=regnet_y",
            "--set spaces.-1.name: spaces is a list, so '-1' must be an index; legal",
        ),
        ("spaces.0.options.strides.2=1", "--set spaces.0.options.strides.2: spaces.0.options.strides has 2"),
        (
            "spaces.0.nam=1",
            "--set spaces.0.nam: unknown field; legal: ['label', 'name', 'options', 'segmentation'] (in ",
        ),
    ],
)
def test_a_bad_list_index_names_the_path_and_the_legal_indices(tmp_path, capsys, setting, expected):
    path = tiny_experiment(tmp_path, samples=2, seed=0, epochs=1)
    assert main(["sweep", str(path), "--set", setting, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nas sweep: error: {expected}") and err.count("\n") == 1
    if "entries" in expected or "must be" in expected:
        assert "legal indices: 0 to 1" in err


def test_set_is_refused_with_resume(tmp_path, capsys):
    assert main(["sweep", "--resume", str(tmp_path), "--set", "training.epochs=2"]) == 2
    assert "--set goes with a new sweep" in capsys.readouterr().err


def test_dry_run_prints_what_would_train_and_writes_nothing(tmp_path, capsys, monkeypatch):
    path = tiny_experiment(tmp_path, samples=3, seed=0, epochs=1)
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    assert main(["sweep", str(path), "--dry-run", "--set", "training.epochs=2"]) == 0
    out = capsys.readouterr().out
    assert "2 space(s) x 3 samples" in out and "dataset synthetic (3, 6, 6)" in out and "2 epochs" in out
    assert "anynet_x_c: 3 drawn; MFLOPs min/median/max" in out and "regnet_x: 3 drawn" in out
    assert "--set training.epochs=2" in out and sorted(tmp_path.rglob("*")) == before
    plan = nas.plan(path)
    assert [len(t) for t in plan.trials.values()] == [3, 3] and plan.num_classes == 3
    # a comparison also says how it would go: rounds, level per pair, the fixed design's size
    sets = ["--set", "compare.round=1", "--set", "compare.difference=0.9"]
    assert main(["sweep", str(path), "--dry-run", *sets]) == 0
    out = capsys.readouterr().out
    assert "comparing 1 pair(s) in up to 3 rounds of 1 models per space, each pair at level 0.05" in out
    assert "a fixed design with this level and power needs" in out and sorted(tmp_path.rglob("*")) == before


def test_dry_run_plans_from_the_declaration_before_the_download(tmp_path, capsys):
    path = tiny_experiment(tmp_path, samples=2, seed=0, epochs=1)
    cifar = ["--set", "dataset={name: cifar10, params: {root: not/downloaded}}"]
    assert main(["sweep", str(path), "--dry-run", *cifar]) == 0
    out = capsys.readouterr().out
    assert "dataset cifar10 (3, 32, 32), 10 classes" in out and "data not checked" in out
    plan = nas.plan(path, [o for o in cifar if o != "--set"])
    assert plan.input_shape == (3, 32, 32) and plan.num_classes == 10 and not plan.data_checked
    assert plan.trials["regnet_x"][0].spec["input_shape"] == [3, 32, 32]
    folder = ["--set", "dataset={name: imagefolder, params: {root: not/there, size: 16, classes: 7}}"]
    assert main(["sweep", str(path), "--dry-run", *folder]) == 0
    assert "dataset imagefolder (3, 16, 16), 7 classes" in capsys.readouterr().out
    specs = nas.plan(path, [folder[1]]).trials["anynet_x_c"]
    assert {s.spec["head"]["num_classes"] for s in specs} == {7}
    # without a declared class count only the folder can tell: the missing folder is the one line
    unknown = ["--set", "dataset={name: imagefolder, params: {root: not/there, size: 16}}"]
    assert main(["sweep", str(path), "--dry-run", *unknown]) == 2
    assert "dataset.params.root: no such directory 'not/there'" in capsys.readouterr().err
    assert nas.plan(path).data_checked


def test_json_is_one_document_and_jsonl_is_lines(tmp_path, capsys):
    out = _sweep_folder(tmp_path)
    assert main(["results", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert sorted(doc) == ["anynet_x_c", "regnet_x"] and len(doc["regnet_x"]) == 4
    assert main(["results", str(out / "regnet_x"), "--json", "--sort", "error"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in rows][-1] == "failed" and "values" in rows[0]
    assert main(["results", str(out), "--jsonl"]) == 0
    assert len([json.loads(line) for line in capsys.readouterr().out.splitlines()]) == 7


def test_csv_is_one_table_with_values_and_epoch_errors(tmp_path, capsys):
    out = _sweep_folder(tmp_path)
    assert main(["results", str(out), "--csv"]) == 0
    text = capsys.readouterr().out
    lines = list(csv.DictReader(io.StringIO(text)))
    header = text.splitlines()[0].split(",")
    assert header[:6] == ["run", "space", "trial_index", "model_id", "status", "error"]
    assert text.count("run,space,") == 1 and len(lines) == 7
    assert {"value.d", "value.w0", "value.wm", "val_error.1"} <= set(header)
    assert {line["run"] for line in lines} == {"regnet_x", "anynet_x_c"}
    ok = [line for line in lines if line["status"] == "ok"]
    assert all(float(line["error"]) == float(line["val_error.1"]) for line in ok)


def test_results_api_returns_typed_rows_and_a_frame(tmp_path):
    out = _sweep_folder(tmp_path)
    rows = nas.results(out)
    assert len(rows) == 7 and all(isinstance(r, TrialRow) for r in rows)
    assert {r.entry.space for r in rows} == {"regnet_x", "anynet_x_c"}
    pandas = pytest.importorskip("pandas")
    df = nas.results(out, frame=True)
    assert isinstance(df, pandas.DataFrame) and len(df) == 7
    assert pandas.api.types.is_float_dtype(df["error"]) and df["error"].isna().sum() == 1
    assert "value.w0" in df.columns and "val_error.1" in df.columns


def test_import_nas_is_light_and_the_api_mirrors_every_verb():
    code = "import sys, nas; print('torch' in sys.modules or 'pandas' in sys.modules or 'ray' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    )
    verbs = ("sweep", "results", "analyze", "refine", "export", "retrain", "sample", "build", "load_spec")
    assert all(callable(getattr(nas, v)) for v in verbs) and callable(nas.hdc.report)
    assert nas.sample("regnet_x", 2, input_shape=(3, 8, 8), classes=10)[0].spec.model_id


def test_analyze_and_refine_through_the_api(tmp_path):
    out = tmp_path / "sweep"
    run = write_run(out, "regnet_x", 12, lambda v, rng: 10.0 + v["d"] + rng.random())
    result = nas.analyze(out, figure=tmp_path / "edf.png", bootstrap=20)
    assert "regnet_x" in result.to_dict()["runs"]
    experiment, _ = nas.refine(run, tmp_path / "refined.yaml")
    assert experiment["spaces"][0]["name"] == "regnet_x" and (tmp_path / "refined.yaml").exists()


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"nas {nas.__version__}"


def test_every_option_of_every_command_has_help():
    top = parser()
    subs = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    missing = [
        f"{name} {act.option_strings or act.dest}"
        for name, sub in subs.choices.items()
        for act in sub._actions
        if not (act.help or "").strip()
    ]
    assert not missing and all((a.help or "").strip() for a in top._actions)


def test_a_closed_pipe_ends_quietly():
    shell = subprocess.run(
        f"{sys.executable} -m nas.cli spaces | head -1", shell=True, capture_output=True, text=True, cwd=REPO
    )
    assert shell.stdout.count("\n") == 1 and "Traceback" not in shell.stderr
    big = [sys.executable, "-m", "nas.cli", "sample", "regnet_x", "-n", "120", "--json"]
    proc = subprocess.Popen(big, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    proc.stdout.readline()
    proc.stdout.close()  # the reader goes away with most of the output unread
    err = proc.stderr.read().decode()
    assert proc.wait() == 141 and err == ""


def test_frame_without_pandas_is_one_line(tmp_path, monkeypatch):
    out = _sweep_folder(tmp_path)
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if not installed
    with pytest.raises(UserError, match=r"needs pandas: pip install 'nas-explorer\[pandas\]'"):
        nas.results(out, frame=True)

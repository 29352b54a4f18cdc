"""A catalogue of bad input: experiment files, spec files, run folders, command-line arguments and
data files. Each case runs `nas` in-process and must exit 2 with one line on stderr naming the
file or field, no traceback, and (for a run folder) no recorded row changed."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from blocks import yamlio
from nas.cli import main
from nas.records import store
from tests import synth

LAUGHS = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10 if i else ['lol'] * 10)}]\n" for i in range(9))
DEEP = "a: " + "[" * 3000 + "]" * 3000 + "\n"
NOT_UTF8 = b"space: anynet_x_a\nname: caf\xe9\n"
SPEC = {
    "input_shape": [3, 8, 8],
    "stem": {"type": "simple", "width": 8, "params": {"stride": 1}},
    "stages": [{"block": "res_basic", "depth": 1, "width": 8, "stride": 2, "params": {}}],
    "head": {"num_classes": 3, "type": "classifier", "params": {}},
}


def refused(argv: list[str], capsys, *names: str) -> str:
    """Run `nas ARGV`; assert exit 2 and exactly one line on stderr naming each of `names`."""
    try:
        code = main(argv)
    except SystemExit as stop:  # the argument parser's own refusals
        code = stop.code
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert "Traceback" not in out + err
    assert err.endswith("\n") and len(err.splitlines()) == 1, err
    assert err.startswith(f"nas {argv[0]}: error: "), err
    for name in names:
        assert name in err, (name, err)
    return err


def _fill(text: str, **paths: Path) -> str:
    """`text` with each {NAME} replaced by the path of that name (other braces left alone)."""
    for name, path in paths.items():
        text = text.replace(f"{{{name}}}", str(path))
    return text


# --- experiment files (nas sweep FILE) ---------------------------------------------------------

BASE = "space: anynet_x_a\nsamples: 2\n"
EXPERIMENTS = {
    "billion-laughs": (LAUGHS + BASE, "more than 100000 values"),
    "self-alias": (BASE + "training: &t {lr: [*t]}\n", "an alias inside its own anchor"),
    "laughs-of-mappings": (
        BASE
        + "m0: &m0 {a: x, b: x, c: x}\n"
        + "".join(
            f"m{i}: &m{i} {{a: *m{i - 1}, b: *m{i - 1}, c: *m{i - 1}, "
            f"d: *m{i - 1}, e: *m{i - 1}, f: *m{i - 1}, g: *m{i - 1}, h: *m{i - 1}}}\n"
            for i in range(1, 8)
        ),
        "more than 100000 values",
    ),
    "duplicate-top-key": (BASE + "samples: 3\n", "line 3, column 1: duplicate key 'samples'"),
    "duplicate-nested-key": (
        BASE + "training:\n  lr: 0.1\n  lr: 0.2\n",
        "line 5, column 3: duplicate key 'lr'",
    ),
    "duplicate-flow-key": (BASE + "resources: {cpus_per_trial: 1, cpus_per_trial: 2}\n", "duplicate key"),
    "duplicate-space-key": ("space: anynet_x_a\nspace: regnet_x\n", "duplicate key 'space'"),
    "deep-nesting": (BASE + DEEP, "nested too deeply"),
    "python-tag": (
        BASE + "x: !!python/object/apply:os.system ['true']\n",
        "could not determine a constructor",
    ),
    "undefined-alias": (BASE + "training: *nope\n", "undefined alias"),
    "unclosed-flow": ("space: [unclosed\n", "malformed YAML at line"),
    "tab-indent": ("space: anynet_x_a\ntraining:\n\tlr: 1\n", "malformed YAML at line"),
    "top-level-list": ("- space\n- anynet_x_a\n", "(top level)"),
    "top-level-scalar": ("42\n", "(top level)"),
    "empty-file": ("", "empty experiment file"),
    "name-dotdot": (BASE + "name: ../escape\n", "name: '../escape' is not a safe folder name"),
    "name-slash": (BASE + "name: a/b\n", "name: 'a/b'"),
    "name-backslash": (BASE + "name: 'a\\b'\n", "name:"),
    "name-nul": (BASE + 'name: "a\\0b"\n', "name: 'a\\x00b'"),
    "name-hidden": (BASE + "name: .hidden\n", "not starting with '.'"),
    "name-only-dots": (BASE + "name: '..'\n", "name: '..'"),
    "name-too-long": (BASE + f"name: {'x' * 101}\n", "(101 characters)"),
    "name-tab": (BASE + 'name: "a\\tb"\n', "control"),
    "name-newline": (BASE + 'name: "a\\nb"\n', "name:"),
    "name-escape-seq": (BASE + 'name: "\\e[31mred"\n', "name:"),
    "name-list": (BASE + "name: [a, b]\n", "name: expected a string"),
    "name-bool": (BASE + "name: true\n", "name: expected a string"),
    "lr-inf": (BASE + "training: {lr: .inf}\n", "training.lr"),
    "lr-nan": (BASE + "training: {lr: .nan}\n", "training.lr"),
    "lr-minus-inf": (BASE + "training: {lr: -.inf}\n", "training.lr"),
    "momentum-nan": (BASE + "training: {momentum: .nan}\n", "training.momentum"),
    "weight-decay-inf": (BASE + "training: {weight_decay: .inf}\n", "training.weight_decay"),
    "smoothing-nan": (BASE + "training: {label_smoothing: .nan}\n", "training.label_smoothing"),
    "epochs-inf": (BASE + "training: {epochs: .inf}\n", "training.epochs"),
    "epochs-zero": (BASE + "training: {epochs: 0}\n", "training.epochs"),
    "batch-huge": (BASE + "training: {batch_size: 1000000000}\n", "training.batch_size"),
    "flops-inf": (BASE + "constraints: {flops: [0, .inf]}\n", "numbers must be finite"),
    "params-nan": (BASE + "constraints: {params: [.nan, null]}\n", "constraints.params"),
    "flops-negative": (BASE + "constraints: {flops: [-1, 5]}\n", "constraints.flops"),
    "samples-inf": ("space: anynet_x_a\nsamples: .inf\n", "samples"),
    "samples-huge": ("space: anynet_x_a\nsamples: 100000000000\n", "samples"),
    "seed-negative": (BASE + "seed: -1\n", "seed"),
    "seed-huge": (BASE + "seed: 99999999999999\n", "seed"),
    "cpus-inf": (BASE + "resources: {cpus_per_trial: .inf}\n", "resources.cpus_per_trial"),
    "gpus-nan": (BASE + "resources: {gpus_per_trial: .nan}\n", "resources.gpus_per_trial"),
    "grace-inf": (BASE + "search: {mode: optimize, grace_period: .inf}\n", "search.grace_period"),
    "keep-weights-inf": (BASE + "keep_weights: .inf\n", "keep_weights"),
    "dataset-samples-inf": (
        BASE + "dataset: {name: synthetic, params: {num_samples: .inf}}\n",
        "dataset.params.num_samples",
    ),
    "compare-one-space": (BASE + "compare: {}\n", "compare: compares two spaces or more"),
    "compare-round-over-samples": (
        "spaces: [anynet_x_a, regnet_x]\nsamples: 4\ncompare: {round: 5}\n",
        "compare.round: 5 is above samples (4)",
    ),
    "compare-level-nan": ("spaces: [anynet_x_a, regnet_x]\ncompare: {level: .nan}\n", "compare.level"),
    "compare-optimize": (
        "spaces: [anynet_x_a, regnet_x]\ncompare: {}\nsearch: {mode: optimize}\n",
        "compare: needs search.mode: sample",
    ),
}


@pytest.mark.parametrize("text, message", EXPERIMENTS.values(), ids=EXPERIMENTS.keys())
def test_bad_experiment_files(tmp_path, capsys, text, message):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    refused(["sweep", str(path), "--out", str(tmp_path / "out")], capsys, str(path), message)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_bytes(NOT_UTF8), "not UTF-8 text"),
        (lambda p: p.mkdir(), "no such experiment file"),
        (lambda p: None, "no such experiment file"),
        (lambda p: p.write_text(BASE + "#" * 300), "bytes; a YAML file here holds at most 200"),
    ],
    ids=["not-utf8", "a-folder", "missing", "too-large"],
)
def test_unreadable_experiment_files(tmp_path, capsys, monkeypatch, make, message):
    monkeypatch.setattr(yamlio, "MAX_BYTES", 200)
    path = tmp_path / "exp.yaml"
    make(path)
    refused(["sweep", str(path), "--out", str(tmp_path / "out")], capsys, str(path), message)


# --- spec files (nas build FILE) ----------------------------------------------------------------


def _spec(**change) -> str:
    """SPEC with `change`, as JSON (which is YAML), infinities and NaN spelled as YAML spells them."""
    text = json.dumps({**SPEC, **change})
    return text.replace("-Infinity", "-.inf").replace("Infinity", ".inf").replace("NaN", ".nan")


def _stage(**change) -> str:
    return _spec(stages=[{**SPEC["stages"][0], **change}])


SPECS = {
    "billion-laughs": (LAUGHS + _spec(), "more than 100000 values"),
    "duplicate-key-yaml": ("stem: {type: simple}\nstem: {type: simple}\n", "duplicate key 'stem'"),
    "duplicate-key-json": ('{"head": {}, "head": {}}', "duplicate key 'head'"),
    "deep-nesting": (DEEP, "nested too deeply"),
    "python-tag": ("!!python/object/apply:os.system ['true']\n", "could not determine a constructor"),
    "truncated-json": (_spec()[:40], "not valid YAML/JSON at line"),
    "top-level-list": ("[1, 2]", "expected a mapping"),
    "missing-stages": (
        json.dumps({k: v for k, v in SPEC.items() if k != "stages"}),
        "missing field 'stages'",
    ),
    "empty-stages": (_spec(stages=[]), "stages: expected a non-empty list"),
    "unknown-field": (_spec(colour=1), "unknown field(s) ['colour']"),
    "depth-zero": (_stage(depth=0), "stages[0].depth"),
    "width-inf": (_stage(width=float("inf")), "stages[0].width"),
    "stride-nan": (_stage(stride=float("nan")), "stages[0].stride"),
    "unknown-block": (_stage(block="nope"), "stages[0].block"),
    "input-shape-inf": (_spec(input_shape=[3, float("inf"), 8]), "input_shape"),
    "classes-negative": (_spec(head={**SPEC["head"], "num_classes": -1}), "head.num_classes"),
}


@pytest.mark.parametrize("text, message", SPECS.values(), ids=SPECS.keys())
def test_bad_spec_files(tmp_path, capsys, text, message):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    refused(["build", str(path)], capsys, str(path), message)


def test_spec_file_not_utf8(tmp_path, capsys):
    path = tmp_path / "spec.json"
    path.write_bytes(b'{"name": "caf\xe9"}')
    refused(["build", str(path)], capsys, str(path), "not UTF-8 text")


# --- run folders ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A sweep folder holding one small synthetic run, copied for each case."""
    root = tmp_path_factory.mktemp("sweep")
    synth.write_run(root, "anynet_x_a", 6, lambda values, rng: float(rng.uniform(10, 60)))
    return root


@pytest.fixture
def sweep(template, tmp_path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "sweep"))


def _digest(run: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(run.iterdir()) if p.is_file()}


def _set_row(run: Path, index: int, **change) -> None:
    rows = [json.loads(line) for line in (run / store.TRIALS).read_text().splitlines()]
    rows[index].update(change)
    (run / store.TRIALS).write_text("".join(json.dumps(r) + "\n" for r in rows))


def _set_experiment(text: str | bytes):
    def change(run: Path) -> None:
        path = run / store.EXPERIMENT
        path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)

    return change


RECORDED = (Path(__file__).parent.parent / "experiments" / "quickstart.yaml").read_text()
RUN_CASES = {
    # ids read from the command line and from rows become paths only once checked
    "id-traversal": (None, ["export", "{sweep}", "--id", "../../etc/passwd"], "--id: model id"),
    "id-upper": (None, ["export", "{sweep}", "--id", "ABCDEF012345"], "12 lowercase hex"),
    "id-short": (None, ["export", "{sweep}", "--id", "abc"], "--id"),
    "id-long": (None, ["export", "{sweep}", "--id", "abcdef0123456"], "--id"),
    "id-nul": (None, ["export", "{sweep}", "--id", "abcdef01234\0"], "--id"),
    "row-id-traversal": (
        lambda run: _set_row(run, 0, model_id="../../../evil"),
        ["export", "{sweep}", "--top", "1", "--out", "{tmp}/exported"],
        "trials.jsonl: trial 0: model id '../../../evil'",
    ),
    "row-id-absolute": (
        lambda run: _set_row(run, 2, model_id="/tmp/evil"),
        ["export", "{sweep}", "--top", "1", "--out", "{tmp}/exported"],
        "trial 2: model id '/tmp/evil'",
    ),
    "row-id-empty": (
        lambda run: _set_row(run, 1, model_id=""),
        ["export", "{sweep}", "--top", "1", "--out", "{tmp}/exported"],
        "trial 1: model id ''",
    ),
    "export-top-zero": (None, ["export", "{sweep}", "--top", "0"], "--top"),
    "export-by-unknown": (None, ["export", "{sweep}", "--top", "1", "--by", "luck"], "--by"),
    "export-tolerance-nan": (None, ["export", "{sweep}", "--top", "1", "--tolerance", "nan"], "--tolerance"),
    # a recorded experiment.yaml read on resume goes through the same checks as a new one
    "resume-laughs": (
        _set_experiment(LAUGHS + RECORDED),
        ["sweep", "--resume", "{sweep}"],
        "more than 100000",
    ),
    "resume-duplicate": (
        _set_experiment(RECORDED + "samples: 3\n"),
        ["sweep", "--resume", "{sweep}"],
        "duplicate key 'samples'",
    ),
    "resume-list": (_set_experiment("- 1\n- 2\n"), ["sweep", "--resume", "{sweep}"], "experiment.yaml"),
    "resume-not-utf8": (_set_experiment(NOT_UTF8), ["sweep", "--resume", "{sweep}"], "not UTF-8"),
    "resume-malformed": (_set_experiment("name: [\n"), ["sweep", "--resume", "{sweep}"], "malformed YAML"),
    # output paths of nas analyze
    "figure-format": (None, ["analyze", "{sweep}", "--figure", "{tmp}/edf.xyz"], "--figure"),
    "figure-no-suffix": (None, ["analyze", "{sweep}", "--figure", "{tmp}/edf"], "(no suffix)"),
    "figure-a-folder": (None, ["analyze", "{sweep}", "--figure", "{tmp}/dir.png"], "is a folder"),
    "figure-nul": (None, ["analyze", "{sweep}", "--figure", "{tmp}/e\0.png"], "NUL"),
    "figure-long-name": (None, ["analyze", "{sweep}", "--figure", "{tmp}/" + "e" * 300 + ".png"], "bytes"),
    "figure-under-file": (None, ["analyze", "{sweep}", "--figure", "{tmp}/file/edf.png"], "is a file"),
    "report-a-file": (None, ["analyze", "{sweep}", "--report", "{tmp}/file"], "--report"),
    "report-under-file": (None, ["analyze", "{sweep}", "--report", "{tmp}/file/report"], "is a file"),
    "report-long-name": (None, ["analyze", "{sweep}", "--report", "{tmp}/" + "r" * 300], "bytes"),
    "report-nul": (None, ["analyze", "{sweep}", "--report", "\0"], "NUL"),
    # numbers of nas analyze and nas refine
    "bootstrap-negative": (None, ["analyze", "{sweep}", "--bootstrap", "-1"], "--bootstrap"),
    "bootstrap-huge": (None, ["analyze", "{sweep}", "--bootstrap", "1000000000"], "--bootstrap"),
    "bootstrap-text": (None, ["analyze", "{sweep}", "--bootstrap", "many"], "--bootstrap"),
    "level-nan": (None, ["analyze", "{sweep}", "--level", "nan"], "--level"),
    "level-inf": (None, ["analyze", "{sweep}", "--level", "inf"], "--level"),
    "level-one": (None, ["analyze", "{sweep}", "--level", "1"], "--level"),
    "subsample-nan": (None, ["analyze", "{sweep}", "--subsample", "nan"], "--subsample"),
    "subsample-zero": (None, ["analyze", "{sweep}", "--subsample", "0"], "--subsample"),
    "power-nan": (None, ["analyze", "{sweep}", "--power", "nan"], "--power"),
    "power-inf": (None, ["analyze", "{sweep}", "--power=-inf"], "--power"),
    "failed-as-error-nan": (None, ["analyze", "{sweep}", "--failed-as-error", "nan"], "--failed-as-error"),
    "failed-as-error-inf": (None, ["analyze", "{sweep}", "--failed-as-error", "inf"], "--failed-as-error"),
    "failed-as-error-neg": (None, ["analyze", "{sweep}", "--failed-as-error", "-1"], "--failed-as-error"),
    "bins-zero": (None, ["analyze", "{sweep}", "--bins", "0"], "--bins"),
    "bins-huge": (None, ["analyze", "{sweep}", "--bins", "100000"], "--bins"),
    "seed-negative": (None, ["analyze", "{sweep}", "--seed", "-1"], "--seed"),
    "top-negative": (None, ["analyze", "{sweep}", "--top", "-1"], "--top"),
    "refine-level-nan": (
        None,
        ["refine", "{sweep}/anynet_x_a", "--out", "{tmp}/r.yaml", "--level", "nan"],
        "--level",
    ),
    "refine-subsample-inf": (
        None,
        ["refine", "{sweep}/anynet_x_a", "--out", "{tmp}/r.yaml", "--subsample", "inf"],
        "--subsample",
    ),
}


@pytest.mark.parametrize("change, argv, message", RUN_CASES.values(), ids=RUN_CASES.keys())
def test_bad_input_touching_a_run_folder(sweep, tmp_path, capsys, change, argv, message):
    run = sweep / "anynet_x_a"
    (tmp_path / "file").write_text("a user's file")
    (tmp_path / "dir.png").mkdir()
    if change:
        change(run)
    before = _digest(run)
    refused([_fill(a, sweep=sweep, tmp=tmp_path) for a in argv], capsys, message)
    assert _digest(run) == before
    assert (tmp_path / "file").read_text() == "a user's file"
    assert not (tmp_path / "exported").exists()


def test_unwritable_figure_folder(sweep, capsys):
    target = Path("/sys/nas-bad-inputs.png")
    if os.access("/sys", os.W_OK) and not target.parent.is_dir():
        pytest.skip("no read-only folder to write into")
    try:
        target.write_bytes(b"")
    except OSError:
        pass
    else:
        target.unlink()
        pytest.skip("/sys is writable here")
    run = sweep / "anynet_x_a"
    before = _digest(run)
    refused(["analyze", str(sweep), "--figure", str(target), "--bootstrap", "0"], capsys, str(target))
    assert _digest(run) == before


# --- command-line arguments -------------------------------------------------------------------

CLI_CASES = {
    "hdc-plot-format": (["hdc", "1,2,5", "--plot", "{tmp}/map.xyz"], "--plot"),
    "hdc-plot-no-suffix": (["hdc", "1,2,5", "--plot", "{tmp}/map"], "(no suffix)"),
    "hdc-plot-a-folder": (["hdc", "1,2,5", "--plot", "{tmp}/dir.png"], "is a folder"),
    "hdc-plot-nul": (["hdc", "1,2,5", "--plot", "{tmp}/m\0.png"], "NUL"),
    "hdc-plot-long-name": (["hdc", "1,2,5", "--plot", "{tmp}/" + "m" * 300 + ".png"], "bytes"),
    "hdc-plot-under-file": (["hdc", "1,2,5", "--plot", "{tmp}/file/map.png"], "is a file"),
    "hdc-kernel-zero": (["hdc", "1,2,5", "--kernel", "0"], "--kernel"),
    "hdc-kernel-even": (["hdc", "1,2,5", "--kernel", "4"], "--kernel"),
    "hdc-kernel-text": (["hdc", "1,2,5", "--kernel", "three"], "--kernel"),
    "hdc-rate-nan": (["hdc", "1,nan"], "SCHEDULE"),
    "hdc-rate-inf": (["hdc", "inf"], "SCHEDULE"),
    "hdc-rate-zero": (["hdc", "0,1"], "SCHEDULE"),
    "hdc-rate-huge": (["hdc", "1,99999999999"], "SCHEDULE"),
    "hdc-layers-zero": (["hdc", "suggest", "--layers", "0"], "--layers"),
    "hdc-top-negative": (["hdc", "suggest", "--layers", "2", "--top", "-1"], "--top"),
    "sample-n-zero": (["sample", "anynet_x_a", "-n", "0"], "-n"),
    "sample-n-huge": (["sample", "anynet_x_a", "-n", "1000000000000"], "-n"),
    "sample-n-text": (["sample", "anynet_x_a", "-n", "five"], "-n"),
    "sample-seed-negative": (["sample", "anynet_x_a", "--seed", "-1"], "--seed"),
    "sample-seed-huge": (["sample", "anynet_x_a", "--seed", str(2**40)], "--seed"),
    "sample-classes-zero": (["sample", "anynet_x_a", "--classes", "0"], "--classes"),
    "sample-flops-inf": (["sample", "anynet_x_a", "--flops", "inf,"], "numbers must be finite"),
    "sample-flops-nan": (["sample", "anynet_x_a", "--flops", ",nan"], "--flops"),
    "sample-flops-empty-range": (["sample", "anynet_x_a", "--flops", "5,1"], "--flops"),
    "sample-flops-text": (["sample", "anynet_x_a", "--flops", "a,b"], "--flops"),
    "sample-params-negative": (["sample", "anynet_x_a", "--params=-1,"], "--params"),
    "sample-input-zero": (["sample", "anynet_x_a", "--input", "3,0,8"], "--input"),
    "sample-input-inf": (["sample", "anynet_x_a", "--input", "3,inf,8"], "--input"),
    "sample-option-laughs": (["sample", "anynet_x_a", "--option", "stages=" + LAUGHS], "more than 100000"),
    "sample-option-alias": (["sample", "anynet_x_a", "--option", "stages=*x"], "--option stages"),
    "sample-option-duplicate": (
        ["sample", "anynet_x_a", "--option", "strides={a: 1, a: 2}"],
        "duplicate key",
    ),
    "sample-option-no-value": (["sample", "anynet_x_a", "--option", "stages"], "--option"),
    "retrain-epochs-zero": (["retrain", "resnet18", "--epochs", "0"], "--epochs"),
    "retrain-epochs-huge": (["retrain", "resnet18", "--epochs", "100000"], "--epochs"),
    "retrain-seed-negative": (["retrain", "resnet18", "--seed", "-1"], "--seed"),
    "retrain-threads-zero": (["retrain", "resnet18", "--threads", "0"], "--threads"),
    "export-tolerance-inf": (["export", "resnet18", "--out", "{tmp}/x", "--tolerance", "inf"], "--tolerance"),
    "unknown-command": (["analyse", "x"], "invalid choice"),
}


@pytest.mark.parametrize("argv, message", CLI_CASES.values(), ids=CLI_CASES.keys())
def test_bad_command_line_arguments(tmp_path, capsys, argv, message):
    (tmp_path / "file").write_text("a user's file")
    (tmp_path / "dir.png").mkdir()
    argv = [_fill(a, tmp=tmp_path) for a in argv]
    if argv[0] == "analyse":
        try:
            main(argv)
        except SystemExit as stop:
            assert stop.code == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err
        return
    refused(argv, capsys, message)
    assert (tmp_path / "file").read_text() == "a user's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.png", "file"]


# --- data files (nas retrain SPEC --experiment EXP.yaml loads the dataset first) ----------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels over a few bytes of data (a bomb's shape)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\0" * 1024)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def _folder(tmp_path: Path, name: str, content: bytes | None) -> Path:
    """An image folder of two classes with one good image each, and `name` holding `content`."""
    root = tmp_path / "images"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        Image.new("RGB", (8, 8), (40, 80, 120)).save(root / c / "good.png")
    if content is not None:
        (root / "b" / name).write_bytes(content)
    return root


def _good_png() -> bytes:
    from io import BytesIO

    buf = BytesIO()
    Image.frombytes("RGB", (32, 32), random.Random(0).randbytes(3072)).save(buf, format="PNG")
    return buf.getvalue()


DATA_CASES = {
    "random-bytes-png": ("bad.png", os.urandom(64), "cannot read image"),
    "truncated-png": ("cut.png", _good_png()[:1500], "cannot read image"),
    "empty-jpg": ("empty.jpg", b"", "cannot read image"),
    "text-as-png": ("notes.png", b"just some notes\n", "cannot read image"),
    "bomb-header": ("bomb.png", _png(60_000, 60_000), "too large to decode safely"),
    "short-gif": (
        "big.gif",
        b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\x00\x00\x00",
        "cannot read image",
    ),
}


def _experiment(tmp_path: Path, params: dict) -> Path:
    path = tmp_path / "exp.yaml"
    text = json.dumps({"space": "anynet_x_a", "dataset": {"name": "imagefolder", "params": params}})
    path.write_text(text.replace('".inf"', ".inf").replace('".nan"', ".nan"))  # YAML's infinity and NaN
    return path


@pytest.mark.parametrize("stream", ["auto", "true"])
@pytest.mark.parametrize("name, content, message", DATA_CASES.values(), ids=DATA_CASES.keys())
def test_bad_image_files(tmp_path, capsys, name, content, message, stream):
    """Refused before training whether the folder is loaded or streamed (checked up front)."""
    root = _folder(tmp_path, name, content)
    exp = _experiment(tmp_path, {"root": str(root), "size": 8, "stream": stream, "val_fraction": 0.5})
    line = refused(["retrain", "resnet18", "--experiment", str(exp)], capsys, "dataset.params.root", message)
    assert str(root / "b" / name) in line


def test_image_over_the_pixel_limit_is_named_not_warned(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40)  # 8x8 = 64 pixels: Pillow only warns
    root = _folder(tmp_path, "x.png", None)
    exp = _experiment(tmp_path, {"root": str(root)})
    refused(
        ["retrain", "resnet18", "--experiment", str(exp)], capsys, "good.png", "too large to decode safely"
    )


@pytest.mark.parametrize(
    "params, message",
    [
        ({"root": "{tmp}/nowhere"}, "dataset.params.root: no such directory"),
        ({"root": "{tmp}/images", "size": ".inf"}, "dataset.params.size"),
        ({"root": "{tmp}/images", "val_fraction": ".nan"}, "dataset.params.val_fraction"),
    ],
    ids=["missing-root", "size-inf", "val-fraction-nan"],
)
def test_bad_dataset_params(tmp_path, capsys, params, message):
    _folder(tmp_path, "x.png", None)
    params = {k: _fill(v, tmp=tmp_path) for k, v in params.items()}
    exp = _experiment(tmp_path, params)
    refused(["retrain", "resnet18", "--experiment", str(exp)], capsys, message)


def test_bad_npz_file(tmp_path, capsys):
    (tmp_path / "data.npz").write_bytes(b"PK\x03\x04 not really a zip")
    path = tmp_path / "exp.yaml"
    path.write_text(
        json.dumps(
            {
                "space": "anynet_x_a",
                "dataset": {"name": "npz", "params": {"path": str(tmp_path / "data.npz")}},
            }
        )
    )
    refused(["retrain", "resnet18", "--experiment", str(path)], capsys, "dataset.params.path", "data.npz")

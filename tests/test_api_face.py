"""The Python API's face: `help(nas)` and `dir(nas)` show every verb with its signature and
docstring, while `import nas` itself stays light (the API loads on first use)."""

import inspect
import pydoc
import subprocess
import sys

import pytest

import nas
from blocks.errors import ArgError, UserError
from nas.cli import main, parser
from tests.synth import write_run

VERBS = ("sweep", "plan", "results", "analyze", "refine", "sample", "build", "export", "retrain", "predict")


def test_help_shows_every_verb_with_its_signature_and_docstring():
    text = pydoc.render_doc(nas, renderer=pydoc.plaintext)
    for verb in VERBS:
        fn = getattr(nas, verb)
        assert f"    {verb}{inspect.signature(fn)}" in text, verb
        assert fn.__doc__.split("\n")[0].strip() in text, verb
    assert set(VERBS) <= set(dir(nas))


def test_import_nas_loads_neither_the_api_nor_torch():
    code = "import sys, nas; print('nas.api' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    write_run(root, "anynet_x_c", 12, lambda v, rng: 5 + rng.random(), seed=1)
    write_run(root, "regnet_x", 6, lambda v, rng: 6 + rng.random())
    return root


@pytest.mark.parametrize(
    "setting, value, legal",
    [
        ("level", 2.0, "expected a confidence in (0, 1), got 2.0"),
        ("bootstrap", -5, "expected a number of resamples in [0, 1000000], got -5"),
        ("subsample", -1.0, "expected a share in (0, 1], got -1.0"),
        ("power", 1.0, "expected a power in (0, 1), got 1.0"),
        ("bins", 0, "expected a number of bins in [1, 1000], got 0"),
        ("top", -1, "expected 0 or more models, got -1"),
        ("failed_as_error", float("inf"), "expected a finite error >= 0 (e.g. 100), got inf"),
        ("seed", -1, "expected an int in [0, 4294967295], got -1"),
        (
            "normalize",
            "mflops",
            "expected one of ['flops', 'params', 'acts', 'memory', 'none'], got 'mflops'",
        ),
    ],
)
def test_analyze_refuses_in_python_what_the_cli_refuses_in_the_same_words(
    sweep, capsys, setting, value, legal
):
    with pytest.raises(ArgError) as err:
        nas.analyze(sweep / "anynet_x_c", **{setting: value})
    assert str(err.value) == f"{setting}: {legal}"
    flag = "--" + setting.replace("_", "-")
    assert main(["analyze", str(sweep / "anynet_x_c"), "--json", flag, str(value)]) == 2
    assert capsys.readouterr().err.strip() == f"nas analyze: error: {flag}: {legal}"


def test_the_apis_keywords_are_the_flags_names():
    """Every flag of a command is a keyword of its Python twin under the same name (`--max-rate`
    as `max_rate`), but for the few that are the CLI's own, each with its reason below."""
    from dataclasses import fields

    from nas import api
    from nas.analysis.result import Settings

    def flags(command: str) -> set[str]:
        sub = next(a for a in parser()._actions if a.dest == "command").choices[command]
        return {
            max(a.option_strings, key=len).lstrip("-").replace("-", "_")
            if f"--{a.dest.replace('_', '-')}" not in a.option_strings
            else a.dest
            for a in sub._actions
            if a.option_strings and a.dest != "help"
        }

    def keywords(*calls) -> set[str]:
        return {name for call in calls for name in inspect.signature(call).parameters}

    # a flag spelled two ways (--overrides and --set) is named by the spelling its keyword bears
    commands = next(a for a in parser()._actions if a.dest == "command").choices
    spelled_twice = {
        (name, a.dest): a.option_strings
        for name, sub in commands.items()
        for a in sub._actions
        if len(a.option_strings) > 1 and a.dest != "help"
    }
    assert {k: v for k, v in spelled_twice.items() if f"--{k[1].replace('_', '-')}" not in v} == {}
    assert spelled_twice[("sweep", "overrides")] == ["--overrides", "--set"]
    assert spelled_twice[("sample", "input_shape")] == ["--input-shape", "--input"]

    analyze = keywords(nas.analyze) | {f.name for f in fields(Settings)}
    assert flags("analyze") - analyze == {"json"}  # how the CLI prints
    assert flags("refine") - keywords(nas.refine) == set()
    assert flags("export") - keywords(nas.export) == set()
    assert flags("retrain") - keywords(nas.retrain) == set()
    assert flags("hdc") - keywords(api.check_schedule, api.suggest) == {"json"}
    assert flags("build") - keywords(api.summary) == {"list"}  # the zoo's list: api.zoo()
    assert flags("sample") - keywords(nas.sample) == {"json"}
    # --dry-run is nas.plan, --no-analyze the CLI's own follow-up
    assert flags("sweep") - keywords(nas.sweep) == {"dry_run", "no_analyze"}
    assert keywords(nas.plan) == {"experiment", "overrides"}  # --dry-run's twin
    assert flags("explore") - keywords(nas.explore) == set()


def test_a_flag_spelled_two_ways_is_named_in_errors_as_the_user_typed_it(capsys):
    """--input-shape is the keyword's name and --input its short spelling: one argument, one
    check, the message naming the flag as it was written."""
    from nas.cli import flag_namer

    assert flag_namer("sweep")("overrides") == "--overrides"
    assert flag_namer("sweep", ["x.yaml", "--set", "seed=1"])("overrides") == "--set"
    assert flag_namer("sample", ["--input=3,8,8"])("input_shape") == "--input"
    for flag in ("--input-shape", "--input"):
        said = _cli_error(capsys, ["sample", "anynet_x_c", flag, "3,0,8"])
        assert said == f"nas sample: error: {flag}: expected C,H,W positive ints, got '3,0,8'"
    for flag in ("--options", "--option"):
        said = _cli_error(capsys, ["sample", "anynet_x_c", flag, "depth=[1"])
        assert said.startswith(f"nas sample: error: {flag} depth: malformed YAML at line 1"), said
    with pytest.raises(ArgError, match=r"^options depth: malformed YAML at line 1"):
        nas.api.options(["depth=[1"])


def test_refine_refuses_in_python_what_the_cli_refuses(sweep, tmp_path):
    with pytest.raises(ArgError, match=r"^subsample: expected a share in \(0, 1\], got 5$"):
        nas.refine(sweep / "anynet_x_c", subsample=5)
    with pytest.raises(ArgError, match=r"^level: expected a confidence in \(0, 1\), got 3$"):
        nas.refine(sweep / "anynet_x_c", level=3)
    with pytest.raises(UserError, match="holds 2 runs; refine one of them"):
        nas.refine(sweep, tmp_path / "r.yaml")
    with pytest.raises(
        ArgError, match=r"^force: not set, and .* has 6 finished models; intervals from fewer"
    ):
        nas.refine(sweep / "regnet_x", tmp_path / "r.yaml")
    experiment, ref = nas.refine(sweep / "regnet_x", force=True)
    assert ref.models == 6 and experiment["spaces"][0]["name"] == "regnet_x"


def _cli_error(capsys, argv: list[str]) -> str:
    """What `nas ARGV` says on stderr, which must be a usage refusal (status 2)."""
    assert main(argv) == 2
    return capsys.readouterr().err.strip()


def _parity_cases(sweep, tmp):
    """(Python call, CLI argv, the message Python gets, the one the CLI prints after `nas CMD: error: `)."""
    run, folder = str(sweep / "anynet_x_c"), tmp / "folder"
    folder.mkdir(exist_ok=True)
    from nas import api

    return [
        (
            lambda: nas.analyze(run, report=tmp / "r", figures=False),
            ["analyze", run, "--report", str(tmp / "r"), "--no-figures"],
            "figures=False goes with neither figure, format nor report (a report shows them)",
            "--no-figures goes with neither --figure, --format nor --report (a report shows them)",
        ),
        (
            lambda: nas.analyze(run, figure=tmp / "a.png", format="pdf"),
            ["analyze", run, "--figure", str(tmp / "a.png"), "--format", "pdf"],
            f"figure {tmp / 'a.png'} and format pdf disagree; give one, or a matching suffix",
            f"--figure {tmp / 'a.png'} and --format pdf disagree; give one, or a matching suffix",
        ),
        (
            lambda: nas.refine(run, folder, force=True),
            ["refine", run, "--out", str(folder), "--force"],
            f"out {folder}: is a folder; give a file name such as {folder / 'refined.yaml'}",
            f"--out {folder}: is a folder; give a file name such as {folder / 'refined.yaml'}",
        ),
        (
            lambda: nas.refine(run, params=["zz"], force=True),
            ["refine", run, "--out", str(tmp / "r.yaml"), "--params", "zz", "--force"],
            "params: no parameter 'zz' in this run; legal: ",
            "--params: no parameter 'zz' in this run; legal: ",
        ),
        (
            lambda: nas.sample("anynet_x_c", 0),
            ["sample", "anynet_x_c", "-n", "0"],
            "n: expected int in [1, 10000000], got 0",
            "-n: expected int in [1, 10000000], got 0",
        ),
        (
            lambda: nas.sample("anynet_x_c", input_shape="3,0,8"),
            ["sample", "anynet_x_c", "--input", "3,0,8"],
            "input_shape: expected C,H,W positive ints, got '3,0,8'",
            "--input: expected C,H,W positive ints, got '3,0,8'",
        ),
        (
            lambda: nas.sample("anynet_x_c", classes=0),
            ["sample", "anynet_x_c", "--classes", "0"],
            "classes: expected a positive number of classes, got 0",
            "--classes: expected a positive number of classes, got 0",
        ),
        (
            lambda: nas.sample("anynet_x_c", flops=(5.0, 1.0)),
            ["sample", "anynet_x_c", "--flops", "5,1"],
            "flops: empty range [5.0, 1.0]: low > high",
            "--flops: empty range [5.0, 1.0]: low > high",
        ),
        (
            lambda: api.options(["depth"]),
            ["sample", "anynet_x_c", "--option", "depth"],
            "options: expected KEY=VALUE, got 'depth'",
            "--option: expected KEY=VALUE, got 'depth'",
        ),
        (
            lambda: nas.retrain("resnet18", threads=0),
            ["retrain", "resnet18", "--threads", "0"],
            "threads: expected a number of CPU threads in [1, 1024], got 0",
            "--threads: expected a number of CPU threads in [1, 1024], got 0",
        ),
        (
            lambda: nas.sweep(),
            ["sweep"],
            "give an experiment file, or resume DIR",
            "give an experiment file, or --resume DIR",
        ),
        (
            lambda: nas.sweep(resume=sweep, out=tmp / "o"),
            ["sweep", "--resume", str(sweep), "--out", str(tmp / "o")],
            "out and resume: a resumed sweep stays in its folder; give only resume DIR",
            "--out and --resume: a resumed sweep stays in its folder; give only --resume DIR",
        ),
        (
            lambda: nas.export(sweep, tmp / "x", top=1, weights="w.pt"),
            ["export", str(sweep), "--top", "1", "--weights", "w.pt"],
            "weights goes with one model: a spec file or zoo name, or a run with one id",
            "--weights goes with one model: a spec file or zoo name, or a run with one --id",
        ),
        (
            lambda: nas.export(sweep, tmp / "x", top=1, id="0123456789ab"),
            ["export", str(sweep), "--top", "1", "--id", "0123456789ab"],
            "give either top K or id MODEL_ID, not both",
            "give either --top K or --id MODEL_ID, not both",
        ),
        (
            lambda: nas.export(sweep, tmp / "x", id="zz"),
            ["export", str(sweep), "--id", "zz"],
            "id: model id 'zz' is not 12 lowercase hex digits (e.g. 3f9a0c12be47)",
            "--id: model id 'zz' is not 12 lowercase hex digits (e.g. 3f9a0c12be47)",
        ),
        (
            lambda: nas.export(sweep, tmp / "x", top=1, format="spec,gif"),
            ["export", str(sweep), "--top", "1", "--format", "spec,gif"],
            "format: unknown format 'gif'; legal: spec,weights,torchscript,exported,onnx (comma-separated)",
            "--format: unknown format 'gif'; legal: spec,weights,torchscript,exported,onnx (comma-separated)",
        ),
        (
            lambda: api.check_schedule([1, 2], kernel=4),
            ["hdc", "1,2", "--kernel", "4"],
            "kernel: expected an odd integer >= 1, got 4",
            "--kernel: expected an odd integer >= 1, got 4",
        ),
        (
            lambda: api.check_schedule([1, 0]),
            ["hdc", "1,0"],
            "schedule: rate 0 at position 2 is illegal; rates are integers >= 1",
            "SCHEDULE: rate 0 at position 2 is illegal; rates are integers >= 1",
        ),
        (
            lambda: api.suggest(0),
            ["hdc", "suggest", "--layers", "0"],
            "layers: expected an integer in [1, 200], got 0",
            "--layers: expected an integer in [1, 200], got 0",
        ),
        (
            lambda: api.suggest(3, max_rate=0),
            ["hdc", "suggest", "--layers", "3", "--max-rate", "0"],
            "max_rate: expected an integer >= 1 keeping the field within",
            "--max-rate: expected an integer >= 1 keeping the field within",
        ),
    ]


def test_every_moved_check_refuses_in_python_and_on_the_command_line_in_the_same_words(
    sweep, tmp_path, capsys
):
    """The API and the CLI raise one check each: the same message, the arguments named as each
    reader calls them (`max_rate` in Python, `--max-rate` on the command line)."""
    for call, argv, in_python, on_the_line in _parity_cases(sweep, tmp_path):
        with pytest.raises(ArgError) as err:
            call()
        assert str(err.value).startswith(in_python), argv
        said = _cli_error(capsys, argv)
        assert said.startswith(f"nas {argv[0]}: error: {on_the_line}"), said
        assert str(err.value)[len(in_python) :] == said[len(f"nas {argv[0]}: error: {on_the_line}") :]


def test_the_api_checks_what_the_cli_leaves_to_its_parser():
    from nas import api

    with pytest.raises(
        ArgError, match=r"^sort: expected one of \['error', 'flops', 'params', 'trial_index'\]"
    ):
        api.results_table("runs", sort="mflops")
    with pytest.raises(ArgError, match=r"^format: expected one of \['png', 'pdf', 'svg'\], got 'gif'$"):
        nas.analyze("runs", format="gif")

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
        ("normalize", "mflops", "expected one of ['flops', 'params', 'acts', 'none'], got 'mflops'"),
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
    """Every flag of `nas analyze` and `nas refine` is a keyword of nas.analyze or nas.refine (or of
    the Settings nas.analyze takes), under the same name."""
    from dataclasses import fields

    from nas.analysis.result import Settings

    def dests(command: str) -> set[str]:
        sub = next(a for a in parser()._actions if a.dest == "command").choices[command]
        return {a.dest for a in sub._actions if a.option_strings and a.dest != "help"}

    analyze = set(inspect.signature(nas.analyze).parameters) | {f.name for f in fields(Settings)}
    assert dests("analyze") - analyze == {"json", "format"}  # how the CLI prints and names its files
    assert dests("refine") - set(inspect.signature(nas.refine).parameters) == set()


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

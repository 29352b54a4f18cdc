"""The Python API's face: `help(nas)` and `dir(nas)` show every verb with its signature and
docstring, while `import nas` itself stays light (the API loads on first use)."""

import inspect
import pydoc
import subprocess
import sys

import nas

VERBS = ("sweep", "plan", "results", "analyze", "refine", "sample", "build", "export", "retrain")


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

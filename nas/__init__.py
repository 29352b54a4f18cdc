"""Design-space explorer engine: config, training, sweeps, analysis, export, the zoo and the CLI.

`import nas` stays light: the Python API (`nas.sweep`, `nas.plan`, `nas.results`, `nas.analyze`,
`nas.refine`, `nas.explore`, `nas.sample`, `nas.build`, `nas.export`, `nas.retrain`, `nas.predict`, defined in nas/api.py;
`nas.load_spec` from nas/zoo; the module `nas.hdc`) loads on first use.
"""

import importlib

__version__ = "0.1.0"

_API = {
    **dict.fromkeys(
        (
            "sweep",
            "plan",
            "Plan",
            "results",
            "analyze",
            "refine",
            "explore",
            "sample",
            "build",
            "export",
            "retrain",
            "predict",
        ),
        "nas.api",
    ),
    "load_spec": "nas.zoo",
}


# help(nas) lists what __all__ names (pydoc skips functions defined in other modules otherwise);
# reading them there is what imports the API, as any first use does
__all__ = [*_API, "hdc", "__version__"]


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    if name == "hdc":  # a submodule: importing it makes it an attribute of nas
        return importlib.import_module("nas.hdc")
    raise AttributeError(f"module 'nas' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API, "hdc"])

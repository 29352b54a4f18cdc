"""Design-space explorer engine: config, training, sweeps, analysis, export, the zoo and the CLI.

`import nas` stays light: the Python API (`nas.load_spec`, `nas.build`, `nas.export`,
`nas.retrain`, defined in nas/api.py) loads torch on first use.
"""

import importlib

__version__ = "0.1.0"

_API = ("load_spec", "build", "export", "retrain")


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module("nas.api"), name)
    raise AttributeError(f"module 'nas' has no attribute {name!r}")

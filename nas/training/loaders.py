"""The registry of datasets by name (`dataset: {name, params}`): each loader declares its
parameters, so a call from Python and an experiment file's `dataset.params` are checked alike
before any file is read; and the parameters and checks loaders of every kind share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blocks.errors import ParamError
from blocks.schema import Param, Schema

STREAM_GB = 4  # stream: auto streams an image folder whose decoded images would take more
PREPROCESSING = "preprocessing.json"  # a run's record of how raw input becomes network input
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".ppm", ".pgm", ".tif", ".tiff", ".webp")

Shape = tuple[tuple[int, int, int], int]  # (input shape C x H x W, number of classes)


@dataclass(frozen=True)
class Loader:
    """A dataset by name: its declared parameters, the function that reads it with them, and
    (`declare`) the input shape and classes its parameters fix without reading a file, if any."""

    name: str
    schema: Schema
    read: Callable[..., Any]
    declare: Callable[..., Shape | None] | None = None

    def __call__(self, **params: Any) -> Any:
        """Read the dataset with `params` over the declared defaults; a bad one raises ParamError."""
        return self.read(**self._resolve(params))

    def declared(self, **params: Any) -> Shape | None:
        """The (input shape, classes) `params` fix before any file is read, or None where only the files tell."""
        return None if self.declare is None else self.declare(**self._resolve(params))

    def _resolve(self, params: dict[str, Any]) -> dict[str, Any]:
        """`params` over the declared defaults, checked; a bad one raises ParamError."""
        return self.schema.resolve(self.schema.read(params), f"dataset '{self.name}'")


LOADERS: dict[str, Loader] = {}


def loader(
    declare: Callable[..., Shape | None] | None = None, **params: Param
) -> Callable[[Callable[..., Any]], Loader]:
    """Register the decorated function, under its name, as a dataset with these parameters (and
    `declare`, the shape and classes the parameters fix, for a plan made without the files)."""

    def wrap(fn: Callable[..., Any]) -> Loader:
        LOADERS[fn.__name__] = Loader(fn.__name__, Schema(params), fn, declare)
        return LOADERS[fn.__name__]

    return wrap


SEED = Param(int, 0, "seed of the validation split (and of synthetic data)", low=0)


def directory(field: str, value: str) -> Path:
    """The folder a parameter names, or a ParamError when there is none."""
    path = Path(value).expanduser()
    if not value or not path.is_dir():
        raise ParamError(field, f"no such directory '{value}'")
    return path

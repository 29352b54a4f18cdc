"""CIFAR-10 from the python version's batch pickles in a local folder, read by an unpickler that
accepts numpy arrays only (a pickle could otherwise run code on load)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from blocks.errors import ParamError
from blocks.schema import Param
from nas.training.inmemory import HELD_OUT, Dataset, build, finish, unused
from nas.training.loaders import SEED, directory, loader

# What a CIFAR batch pickle may reference: numpy array reconstruction and `_codecs.encode`,
# which Python 3 pickles (protocol < 3) use for bytes. Anything else could run code on load.
_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only, refusing every other global."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"refusing '{module}.{name}': a data file needs only numpy arrays")
        return super().find_class(module, name)


def _cifar_file(path: Path) -> dict[str, Any]:
    """One pickle of the CIFAR python version, keys decoded (Python 2 wrote them as bytes)."""
    try:
        with path.open("rb") as f:
            # latin1 is how numpy arrays pickled by Python 2 decode; other globals are refused
            raw = _ArrayUnpickler(f, encoding="latin1").load()
    except Exception as err:  # a corrupt pickle can raise almost anything
        raise ParamError("root", f"cannot read '{path}': {err}") from None
    if not isinstance(raw, dict):
        raise ParamError("root", f"'{path}' holds a {type(raw).__name__}, not a CIFAR dict")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in raw.items()}


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels of one batch file: rows are R, G, B planes, row-major."""
    entry = _cifar_file(path)
    data, labels = entry.get("data"), np.asarray(entry.get("labels", []))
    ok = isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
    if not (ok and data.shape[1] == 3072 and labels.shape == (len(data),) and labels.dtype.kind in "iu"):
        raise ParamError(
            "root", f"'{path}' is not a CIFAR-10 batch: needs 'data' (N x 3072 uint8), 'labels' (N)"
        )
    if len(labels) and not 0 <= labels.min() <= labels.max() < 10:
        raise ParamError("root", f"'{path}': labels outside 0..9")
    return data.reshape(-1, 3, 32, 32), labels


@loader(
    declare=lambda **_: ((3, 32, 32), 10),
    root=Param(str, None, "folder of the python version's batches", required=True),
    validation=Param(
        str, "test", "test: test_batch validates; split: hold out val_fraction", choices=("test", "split")
    ),
    val_fraction=HELD_OUT,
    limit=Param(int, None, "keep only the first N training images", low=1, optional=True),
    seed=SEED,
)
def cifar10(root: str, validation: str, val_fraction: float | None, limit: int | None, seed: int) -> Dataset:
    """CIFAR-10 from the python version's batches in `root`: data_batch_1..5 train, test_batch validates.

    `validation: split` holds out `val_fraction` (default 0.1) of the training images instead;
    `limit` keeps only the first N training images, for quick sweeps.
    """
    folder = directory("root", root)
    if (folder / "cifar-10-batches-py").is_dir():
        folder = folder / "cifar-10-batches-py"
    if validation == "test":
        unused("val_fraction", val_fraction, "with validation: test (test_batch validates)")
    files = [folder / f"data_batch_{i}" for i in range(1, 6) if (folder / f"data_batch_{i}").is_file()]
    if not files:
        raise ParamError(
            "root", f"no data_batch_1..5 in '{folder}'; expected the folder 'cifar-10-batches-py'"
        )
    xs, ys = [], []
    for path in files:
        if limit is None or sum(map(len, ys)) < limit:
            x, y = _cifar_batch(path)
            xs.append(x)
            ys.append(y)
    x, y = np.concatenate(xs)[:limit], np.concatenate(ys)[:limit]
    names = ()
    if (folder / "batches.meta").is_file():
        meta = _cifar_file(folder / "batches.meta").get("label_names", ())
        names = tuple(n.decode("latin1") if isinstance(n, bytes) else str(n) for n in meta)
    if validation == "split":
        return finish("cifar10", x, y, 0.1 if val_fraction is None else val_fraction, seed, 10, names)
    if not (folder / "test_batch").is_file():
        raise ParamError("root", f"no test_batch in '{folder}'; or set validation: split")
    return build("cifar10", x, y, *_cifar_batch(folder / "test_batch"), 10, names)

"""TensorBoard logs of a sweep under OUT/_ray: each Tune trial's folder (its run in TensorBoard)
named SPACE-INDEX-MODELID, per-epoch scalars under their own names (`val_error`, not Ray's
`ray/tune/val_error`), and an HParams session per trial with the space's drawn values and the
training hyperparameters.

No trial declares the HParams schema (`_hparams_/experiment`): TensorBoard reads one schema
only, so a schema per trial hid every hyperparameter the first trial lacked. Without one,
TensorBoard builds it from every session and takes the metrics from the runs' scalars.
"""

from __future__ import annotations

import atexit
import math
from dataclasses import asdict
from typing import Any

from ray.tune.logger import TBXLoggerCallback
from ray.tune.result import TRAINING_ITERATION

from nas.records.rows import PlanEntry
from nas.sweeping.trial import config_entries, reported
from nas.training.config import TrainingConfig

# what a trial's results hold worth a curve (Ray's own keys, such as `done`, are left out)
SCALARS = (
    "val_error",
    "val_loss",
    "train_error",
    "loss",
    "flops",
    "params",
    "latency_ms",
    "time_this_iter_s",
)


def trial_entries(trial: Any, plans: dict[str, PlanEntry]) -> list[PlanEntry]:
    """The plan entries a Tune trial trains: the one place this module reads a trial's config."""
    return config_entries(trial.config, plans)


def trial_name(entries: list[PlanEntry]) -> str:
    """SPACE-INDEX-MODELID of a trial's first entry (+N when it trains N more), so
    TensorBoard's run names carry the model id."""
    first = entries[0]
    name = f"{first.space}-{first.trial_index}-{first.model_id or 'rejected'}"
    return name if len(entries) == 1 else f"{name}+{len(entries) - 1}"


def dirname(trial: Any) -> str:
    """Tune's trial_dirname_creator: the name the plan feed put in a sample-mode trial's
    config, else that of the one entry Optuna drew. A plain function, not an object holding
    the plan: Tune keeps a copy of it in every trial and in every snapshot of its state."""
    if "name" in trial.config:
        return trial.config["name"]
    return trial_name(config_entries(trial.config, {}))


def _hparam(value: Any) -> Any:
    """A value as HParams takes it: a number, string or bool as it is, anything else as text."""
    return value if isinstance(value, (int, float, str, bool)) else str(value)


def hparam_values(entry: PlanEntry) -> dict[str, Any]:
    """An entry's drawn values as HParams takes them (numbers and strings), with its space and model id."""
    values = {k: _hparam(v) for k, v in entry.values.items()}
    return {"space": entry.space, "model_id": entry.model_id or "rejected", **values}


def training_values(training: TrainingConfig) -> dict[str, Any]:
    """The training hyperparameters as HParams, named by their path in the experiment file
    (`training.lr`, `training.augment.hflip`)."""
    out = {}
    for key, value in asdict(training).items():
        if isinstance(value, dict):
            out.update({f"training.{key}.{k}": _hparam(v) for k, v in value.items()})
        else:
            out[f"training.{key}"] = _hparam(value)
    return out


def scalars(result: dict[str, Any]) -> dict[str, float]:
    """The finite numbers of a result worth a curve, under their own names."""
    out, result = {}, reported(result)
    for key in SCALARS:
        value = result.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out[key] = value
    return out


def writer_class() -> type:
    """tensorboardX's SummaryWriter, whose exit hooks go when it is closed. Each file writer
    registers a hook (closing it at exit) that holds it, and with it every trial's writer, until
    the process ends (about 1.3 KB a trial); Tune closes a trial's writer when the trial ends,
    and a writer still open at exit (an interrupted sweep) keeps its hook."""
    from tensorboardX import SummaryWriter

    class Writer(SummaryWriter):
        def _get_file_writer(self) -> Any:
            hooks, register = [], atexit.register
            atexit.register = lambda hook, *a, **k: hooks.append(hook) or register(hook, *a, **k)
            try:
                return super()._get_file_writer()
            finally:
                atexit.register = register
                self.exit_hooks = [*getattr(self, "exit_hooks", ()), *hooks]

        def close(self) -> None:
            super().close()
            for hook in getattr(self, "exit_hooks", ()):
                atexit.unregister(hook)
            self.exit_hooks = []

    return Writer


class Board(TBXLoggerCallback):
    """Ray's TBX logger writing the `SCALARS` under their own names, and per trial an HParams
    session (drawn values, and the training hyperparameters when given) without a schema of its
    own; a rejected draw trained nothing and logs nothing."""

    def __init__(self, plans: dict[str, PlanEntry], training: TrainingConfig | None = None):
        super().__init__()
        self._summary_writer_cls = writer_class()
        self.plans = plans
        self.training = {} if training is None else training_values(training)

    def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
        if trial_entries(trial, self.plans)[0].rejected:
            return
        if trial not in self._trial_writer:
            self.log_trial_start(trial)
        writer, logged = self._trial_writer[trial], scalars(result)
        for key, value in logged.items():
            writer.add_scalar(key, value, global_step=result[TRAINING_ITERATION])
        self._trial_result[trial] = logged
        writer.flush()

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        """Tune's callback closes the trial's writer but keeps its last scalars, and with them the
        Trial, for the callback's life (every Tuner of the sweep): dropped here."""
        super().log_trial_end(trial, failed)
        self._trial_result.pop(trial, None)

    def _try_log_hparams(self, trial: Any, result: dict) -> None:
        from tensorboardX.summary import hparams

        entry = trial_entries(trial, self.plans)[0]
        _, start, end = hparams(hparam_dict={**hparam_values(entry), **self.training}, metric_dict={})
        writer = self._trial_writer[trial].file_writer
        writer.add_summary(start)
        writer.add_summary(end)

"""TensorBoard logs of a sweep under OUT/_ray: each Tune trial's folder (its run in TensorBoard)
named SPACE-INDEX-MODELID, per-epoch scalars from Ray's TBX logger, and an HParams entry per
trial with the space's drawn values and the trial's final metrics."""

from __future__ import annotations

from typing import Any

from ray.tune.logger import TBXLoggerCallback

from nas.sweeping.records import PlanEntry
from nas.sweeping.trial import config_entries

FINAL = ("val_error", "train_error", "loss", "epoch", "flops", "params", "latency_ms")  # HParams metrics


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


def hparam_values(entry: PlanEntry) -> dict[str, Any]:
    """An entry's drawn values as HParams takes them (numbers and strings), with its space and model id."""
    values = {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in entry.values.items()}
    return {"space": entry.space, "model_id": entry.model_id or "rejected", **values}


class Board(TBXLoggerCallback):
    """Ray's TBX logger, whose HParams hold the drawn values (not Tune's config, which holds the
    plan keys or the Optuna draw before rounding) and the final metrics."""

    def __init__(self, plans: dict[str, PlanEntry]):
        super().__init__()
        self.plans = plans

    def _try_log_hparams(self, trial: Any, result: dict) -> None:
        from tensorboardX.summary import hparams

        entry = config_entries(trial.config, self.plans)[0]
        final = {k: v for k, v in result.items() if k.rsplit("/", 1)[-1] in FINAL}
        writer = self._trial_writer[trial].file_writer
        for summary in hparams(hparam_dict=hparam_values(entry), metric_dict=final):
            writer.add_summary(summary)

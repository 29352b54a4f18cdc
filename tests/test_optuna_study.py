"""The Optuna study a guided search leaves in RUN/optuna.journal, opened as its users open it
(`optuna.load_study`): objectives named, ASHA-stopped trials PRUNED with their per-epoch errors,
parameters under the space's names, model id and complexity as user attributes; and the
TensorBoard runs beside it."""

import json

import optuna
import pytest
import yaml
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from nas.cli import main
from nas.records import store
from nas.records.rows import Status
from tests.synth import tiny_experiment

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _entry_config(index: int, rejected: str = "") -> dict:
    entry = {
        "trial_index": index,
        "space": "s",
        "seed": index,
        "model_id": f"m{index}",
        "spec": {},
        "values": {"w0": 16},
        "complexity": {} if rejected else {"flops": 10, "params": 3},
    }
    if rejected:
        entry["rejected"] = rejected
    return {"nas_entry": json.dumps(entry)}


def test_study_names_objectives_labels_trials_and_fails_a_rejected_draw(tmp_path):
    from nas.sweeping.study import Study

    def space(trial):
        trial.suggest_int("w0", 8, 32)
        return _entry_config(space.calls, rejected="flops above 5" if space.calls else "")

    space.calls = 0
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    search = Study(
        space=space,
        metric=["val_error", "flops"],
        mode=["min", "min"],
        storage=optuna.storages.RDBStorage(url),
        study_name="s",
        metric_names=["val_error", "flops"],
    )
    search.suggest("a")
    search.on_trial_complete("a", {"val_error": 20.0, "flops": 10, "training_iteration": 2, "row": "{}"})
    space.calls = 1
    search.suggest("b")  # rejected: no flops in its result
    search.on_trial_complete("b", {"val_error": 100.0, "training_iteration": 1, "row": "{}"})
    study = optuna.load_study(storage=url, study_name="s")
    assert study.metric_names == ["val_error", "flops"]
    a, b = study.trials
    assert a.state is TrialState.COMPLETE and a.values == [20.0, 10.0]
    assert a.user_attrs == {
        "trial_index": 0,
        "space": "s",
        "values": {"w0": 16},
        "model_id": "m0",
        "flops": 10,
        "params": 3,
    }
    assert b.state is TrialState.FAIL and b.values is None and not b.intermediate_values
    assert b.user_attrs["rejected"] == "flops above 5" and "model_id" not in b.user_attrs


def test_a_rejected_draw_leaves_no_value_for_the_sampler_or_the_dataframe(tmp_path):
    """One objective: the rejected draw's row reaches on_trial_complete with the worst error, as
    Tune hands it; the study keeps neither that value nor an intermediate one."""
    from nas.sweeping.study import Study

    def space(trial):
        trial.suggest_int("w0", 8, 32)
        return _entry_config(space.calls, rejected="flops above 5" if space.calls == 1 else "")

    space.calls = 0
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    search = Study(
        space=space,
        metric="val_error",
        mode="min",
        storage=optuna.storages.RDBStorage(url),
        study_name="s",
        metric_names=["val_error"],
    )
    for space.calls, (trial_id, error) in enumerate([("a", 30.0), ("b", 100.0), ("c", 20.0)]):
        search.suggest(trial_id)
        result = {"val_error": error, "training_iteration": 1, "row": "{}"}
        if trial_id == "b":  # should Tune also hand the rejected draw's one result over as it comes
            search.on_trial_result(trial_id, result)
        search.on_trial_complete(trial_id, result)
    study = optuna.load_study(storage=url, study_name="s")
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    assert study.trials[1].intermediate_values == {} and study.trials[1].value is None
    assert [t.intermediate_values for t in study.trials[::2]] == [{1: 30.0}, {1: 20.0}]
    frame = study.trials_dataframe()
    values = frame["value_val_error"]  # the column is named after the objective
    assert values.tolist()[::2] == [30.0, 20.0] and values.isna().tolist()[1]
    assert frame["state"].tolist() == ["COMPLETE", "FAIL", "COMPLETE"]
    assert study.best_value == 20.0 and len(study.get_trials(states=(TrialState.COMPLETE,))) == 2
    # told trials leave only their ids: no Optuna trial object held for the run's life and
    # pickled into every snapshot of Tune's experiment; a second completion changes nothing
    assert search._ot_trials == {} and search._reported == {} and search._rejected == set()
    search.on_trial_complete("c", {"val_error": 5.0, "training_iteration": 2, "row": "{}"})
    assert optuna.load_study(storage=url, study_name="s").trials[2].value == 20.0


@pytest.mark.parametrize("algorithm", ["TPESampler", "RandomSampler", "NSGAIISampler"])
def test_the_study_records_quantised_values_as_the_spec_uses_them(algorithm):
    """RegNet's w0 (log-uniform, multiples of 8) and wm (steps of 0.001): Optuna has no log law
    with a step, so OnGrid rounds the draw before the study stores it."""
    from nas.sweeping.study import OnGrid
    from spaces.draw import OptunaDraw

    inner = getattr(optuna.samplers, algorithm)(seed=3)
    study = optuna.create_study(sampler=OnGrid(inner))
    for _ in range(25):  # past TPE's 10 start-up trials, so relative draws are rounded too
        trial = study.ask()
        draw = OptunaDraw(trial)
        w0 = draw.quantized("w0", 16, 256, 8, "log_uniform")
        wm = draw.quantized("wm", 1.5, 3.0, 0.001, "log_uniform")
        assert trial.params == {"w0": w0, "wm": wm} and w0 % 8 == 0 and 16 <= w0 <= 256
        assert round(wm, 3) == wm and 1.5 <= wm <= 3.0
        study.tell(trial, w0 / 100 + wm)
    assert {t.params["w0"] for t in study.trials} >= {16, 24}  # the lowest value is drawn, as pycls draws it


@pytest.mark.slow
def test_a_guided_search_leaves_a_study_optuna_users_can_read(tmp_path, capsys):
    raw = yaml.safe_load(tiny_experiment(tmp_path, samples=6, seed=5, epochs=2).read_text())
    raw["spaces"] = raw["spaces"][1:]
    raw["search"] = {"mode": "optimize", "algorithm": "tpe", "scheduler": "asha", "reduction_factor": 2}
    raw["resources"]["max_concurrent"] = 1  # one at a time: ASHA's decisions, so the test, are fixed
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "search"
    assert main(["sweep", str(path), "--out", str(out), "--no-analyze"]) == 0
    printed = capsys.readouterr().out
    assert "starting Ray (local" in printed and "Ray ready in" in printed
    assert printed.count(f"TensorBoard: tensorboard --logdir {out / '_ray'}") == 1
    assert "regnet_x: best model" in printed and "Pareto front" not in printed

    rows = {r.entry.trial_index: r for r in store.trial_rows(out / "regnet_x")}
    journal = JournalStorage(JournalFileBackend(str(out / "regnet_x" / "optuna.journal")))
    study = optuna.load_study(storage=journal, study_name="regnet_x")
    assert study.metric_names == ["val_error"] and len(study.trials) == 6
    states = {Status.OK: TrialState.COMPLETE, Status.STOPPED: TrialState.PRUNED}
    for trial in study.trials:
        row = rows[trial.user_attrs["trial_index"]]
        assert trial.state is states[row.status]
        assert trial.user_attrs["model_id"] == row.entry.model_id
        assert trial.user_attrs["flops"] == row.entry.complexity["flops"]
        assert trial.user_attrs["params"] == row.entry.complexity["params"]
        assert trial.user_attrs["values"] == row.entry.values
        assert set(trial.params) == set(row.entry.values)  # the space's own names, no `*_index`
        for name, value in row.entry.values.items():  # and the values the spec was built with
            assert trial.params[name] == pytest.approx(value, abs=0), name
        assert trial.intermediate_values  # per-epoch validation error, up to where it stopped
        assert max(trial.intermediate_values) == row.epochs
        assert trial.intermediate_values[row.epochs] == pytest.approx(row.error)
        if row.status is Status.OK:
            assert trial.values == [pytest.approx(row.error)] and row.epochs == 2
            assert trial.intermediate_values[1] == pytest.approx(row.val_errors[0])
    pruned = [t for t in study.trials if t.state is TrialState.PRUNED]
    assert pruned and all(t.value == t.intermediate_values[1] for t in pruned)

    # TensorBoard: one run per trial named SPACE-INDEX-MODELID, each with an HParams entry
    runs = {p.name: p for p in (out / "_ray").glob("*/regnet_x-*")}
    assert sorted(runs) == sorted(f"regnet_x-{i}-{r.entry.model_id}" for i, r in rows.items())
    for i, row in rows.items():
        steps, hparams = _events(runs[f"regnet_x-{i}-{row.entry.model_id}"])  # plain tags, no ray/tune/
        epochs = list(range(1, row.epochs + 1))  # every epoch, the last included
        assert steps["val_error"] == steps["train_error"] == steps["loss"] == epochs
        assert "latency_ms" not in steps and "done" not in steps  # not measured / Ray's flag: not logged
        assert hparams == {
            "_hparams_/session_start_info",
            "_hparams_/session_end_info",
        }  # no schema per trial


def _events(run, session: dict | None = None) -> tuple[dict[str, list[int]], set[str]]:
    """The steps of each scalar (by its full tag) and the HParams tags of a TensorBoard run; the
    session's hyperparameters go into `session` when given."""
    import struct

    from tensorboardX.proto import event_pb2
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData

    data = next(run.glob("events.out.tfevents.*")).read_bytes()
    steps, hparams, at = {}, set(), 0
    while at < len(data):
        (size,) = struct.unpack("Q", data[at : at + 8])
        event = event_pb2.Event.FromString(data[at + 12 : at + 12 + size])
        at += 16 + size
        for value in event.summary.value:
            if value.metadata.plugin_data.plugin_name == "hparams":
                hparams.add(value.tag)
                plugin = HParamsPluginData.FromString(value.metadata.plugin_data.content)
                for name, v in plugin.session_start_info.hparams.items():
                    if session is not None:
                        session[name] = getattr(v, v.WhichOneof("kind"))
            elif value.HasField("simple_value"):
                steps.setdefault(value.tag, []).append(event.step)
    return steps, hparams


class _Trial:
    """What Ray's TBX logger uses of a Tune trial: its config, folder and resolved parameters."""

    def __init__(self, config: dict, path):
        self.config, self.local_path, self.evaluated_params = config, str(path), config

    def init_local_path(self) -> None:
        """Tune makes the trial's folder; TensorBoard's writer makes it here."""


def test_the_board_logs_plain_tags_and_one_session_per_trial_without_a_schema(tmp_path):
    from nas.sweeping.tensorboard import Board
    from nas.sweeping.trial import tune_result
    from nas.training.augment import Augment
    from nas.training.config import TrainingConfig

    board = Board({}, TrainingConfig(lr=0.05, augment=Augment(hflip=True)))
    trial, rejected = (
        _Trial(_entry_config(0), tmp_path / "a"),
        _Trial(_entry_config(1, "flops"), tmp_path / "b"),
    )
    for t in (trial, rejected):
        board.log_trial_start(t)
    for epoch in (1, 2):
        values = {
            "val_error": 40.0 / epoch,
            "val_loss": 1.5 / epoch,
            "loss": 1.0,
            "train_error": 30.0,
            "flops": 10,
        }
        # as a trial reports it: only val_error a number of its own, beside Tune's own keys
        result = {**tune_result(values, ("val_error",)), "training_iteration": epoch, "done": False, "pid": 7}
        for t in (trial, rejected):
            board.log_trial_result(epoch, t, result)
    for t in (trial, rejected):
        board.log_trial_end(t)
    assert board._trial_writer == {} and board._trial_result == {}  # no ended trial held
    session = {}
    steps, hparams = _events(tmp_path / "a", session)
    assert steps == {k: [1, 2] for k in ("val_error", "val_loss", "loss", "train_error", "flops")}
    assert hparams == {"_hparams_/session_start_info", "_hparams_/session_end_info"}
    assert session["model_id"] == "m0" and session["w0"] == 16 and session["training.lr"] == 0.05
    assert session["training.augment.hflip"] is True and session["training.epochs"] == 5
    assert _events(tmp_path / "b") == ({}, set())  # a rejected draw trained nothing


def test_the_studys_own_time_is_told_per_trial_over_the_first_and_the_last_trials():
    from nas.sweeping.study import Spent

    spent = Spent()
    for i in range(150):  # 1 ms a trial for the first 100, then 2 ms (told in two calls)
        spent.add(0.0005 * (1 + i // 100))
        spent.add(0.0005 * (1 + i // 100))
        spent.close()
    assert spent.line("tpe") == (
        "tpe sampler and study: 150 trials, 1.3 ms a trial (first 100: 1.0 ms, last 100: 1.5 ms), "
        "drawing the specs not counted"
    )
    assert Spent().line("random") == "random sampler and study: no trial"

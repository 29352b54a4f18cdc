"""The sequential comparison of a sweep (experiment field `compare`): its validation, the round
loop with a fake round runner (decided early, futility, budget end, three spaces), resume after
a crash mid-round, the comparison.json record, and one tiny end-to-end sweep with Ray."""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from blocks.errors import UserError
from nas import config
from nas.records import store
from nas.records.rows import PlanEntry, Status, TrialRow
from nas.stats import sequential
from nas.sweeping import compare


def _design(
    rounds: int = 5, size: int = 4, efficacy: float = 0.5, futility: float = 0.0
) -> sequential.Design:
    """A hand-made design: `rounds` looks of `size` models, fixed boundaries, the last one closing."""
    sizes = tuple(size * (k + 1) for k in range(rounds))
    fut = (futility,) * (rounds - 1) + (efficacy,)
    return sequential.Design(
        0.05, 0.8, 0.1, size, size * rounds, sizes, (efficacy,) * rounds, fut, 40, 100, 0, 0.8
    )


def _comparison(spaces: tuple[str, ...], design: sequential.Design) -> compare.Comparison:
    pairs = [compare.Pair(a, b) for i, a in enumerate(spaces) for b in spaces[i + 1 :]]
    return compare.Comparison(0.05, design, pairs)


def _row(space: str, index: int, error: float, status: Status = Status.OK) -> TrialRow:
    entry = PlanEntry(index, space, index, f"m{index}", {}, {}, {})
    return TrialRow(entry, "t", status, error=error if status is Status.OK else None)


class Runner:
    """A fake round runner: writes each key's row with an error drawn from its space's law."""

    def __init__(self, out: Path, laws: dict[str, tuple[float, float]], crash_after: int | None = None):
        self.out, self.laws, self.crash_after, self.calls, self.written = out, laws, crash_after, [], 0
        for s in laws:
            (out / s).mkdir(parents=True, exist_ok=True)

    def __call__(self, k: int, keys: list[str]) -> None:
        self.calls.append((k, list(keys)))
        for key in keys:
            if self.written == self.crash_after:
                raise KeyboardInterrupt("crash mid-round")
            space, index = key.rsplit("/", 1)
            store.append_row(self.out / space, _row(space, int(index), self.error(space, int(index))))
            self.written += 1

    def error(self, space: str, index: int) -> float:
        """Trial `index`'s error: fixed by space and index (a re-run gives the same)."""
        low, high = self.laws[space]
        return float(np.random.default_rng([index, len(space)]).uniform(low, high))


def _run(tmp_path, laws, design, crash_after=None):
    comp = _comparison(tuple(laws), design)
    tmp_path.mkdir(exist_ok=True)
    compare.write(tmp_path, comp)
    runner = Runner(tmp_path, laws, crash_after)
    lines: list[str] = []
    compare.run_rounds(compare.read(tmp_path), tmp_path, runner, lines.append)
    return compare.read(tmp_path), runner, lines


def test_separated_spaces_stop_early(tmp_path):
    comp, runner, lines = _run(tmp_path, {"good": (10, 20), "bad": (30, 40)}, _design())
    assert comp.decided and comp.rounds == 1 and comp.used == 4
    assert [k for k, _ in runner.calls] == [1]
    assert runner.calls[0][1] == [f"good/{i}" for i in range(4)] + [f"bad/{i}" for i in range(4)]
    look = comp.pairs[0].looks[-1]
    assert look.statistic == 1.0 and look.decision == sequential.SEPARATED and look.better == "a"
    assert lines[0].startswith(
        "round 1/5: 4 models per space; good vs bad KS 1.000 >= 0.500: separated, good better"
    )
    assert "good better than bad" in lines[-1] and "a fixed design needs 40" in lines[-1]
    record = json.loads((tmp_path / store.COMPARISON).read_text())
    assert record["decided"] and record["models_per_space"] == 4 and record["rounds_done"] == 1
    assert record["pairs"][0]["better"] == "good" and len(record["pairs"][0]["looks"]) == 1
    assert sequential.Design.from_dict(record["design"]) == comp.design


def test_futility_stops_equal_spaces(tmp_path):
    comp, runner, lines = _run(
        tmp_path, {"good": (10, 20), "bad": (10, 20)}, _design(efficacy=1.0, futility=0.9)
    )
    assert comp.decided and comp.rounds == 1
    assert comp.pairs[0].looks[-1].decision == sequential.NOT_SEPARATED
    assert "not separated" in lines[-1] and "no KS difference of 0.1" in lines[-1]


def test_budget_end_decides_at_the_last_look(tmp_path):
    comp, runner, _ = _run(tmp_path, {"good": (10, 20), "bad": (10, 20)}, _design(rounds=3, efficacy=0.99))
    assert comp.rounds == 3 and comp.used == 12 and comp.decided
    assert [lk.decision for lk in comp.pairs[0].looks] == [None, None, sequential.NOT_SEPARATED]
    assert len(store.rows(tmp_path / "good")) == 12


def test_three_spaces_every_pair_until_all_decided(tmp_path):
    laws = {"good": (10, 20), "bad": (15, 25), "worse": (40, 50)}
    comp, runner, lines = _run(tmp_path, laws, _design(rounds=6, size=3, efficacy=0.7))
    by = {p.label: p for p in comp.pairs}
    assert [p.label for p in comp.pairs] == ["good vs bad", "good vs worse", "bad vs worse"]
    assert by["good vs worse"].looks[0].decision == sequential.SEPARATED  # decided in round 1
    assert len(by["good vs worse"].looks) == 1  # and not looked at again
    assert comp.decided
    for s in laws:  # every space got the same budget
        assert len(store.rows(tmp_path / s)) == comp.used
    assert any("good vs worse decided in round 1" in line for line in lines[1:-1]) or comp.rounds == 1


def test_failed_trials_count_as_full_error(tmp_path):
    (tmp_path / "good").mkdir()
    store.append_row(tmp_path / "good", _row("good", 0, 5.0))
    store.append_row(tmp_path / "good", _row("good", 1, 0.0, Status.FAILED))
    assert compare.errors(tmp_path / "good", 2) == [5.0, compare.FAILED_ERROR]
    assert compare.errors(tmp_path / "good", 3) is None  # trial 2 has no row yet


def test_resume_after_a_crash_mid_round_takes_the_same_path(tmp_path):
    laws, design = {"good": (10, 22), "bad": (14, 26)}, _design(rounds=6, efficacy=0.6, futility=0.05)
    whole, _, _ = _run(tmp_path / "whole", laws, design)
    crashed = tmp_path / "crashed"
    with pytest.raises(KeyboardInterrupt):
        _run(crashed, laws, design, crash_after=5)  # round 1 half done
    runner = Runner(crashed, laws)
    compare.run_rounds(compare.read(crashed), crashed, runner, lambda line: None)
    resumed = compare.read(crashed)
    assert resumed.to_dict() == whole.to_dict()
    assert runner.calls[0] == (1, ["bad/1", "bad/2", "bad/3"])  # the rest of round 1 only
    assert whole.rounds > 1 and [k for k, _ in runner.calls] == list(range(1, whole.rounds + 1))
    # a second resume replays every look from the rows and runs nothing
    again = Runner(crashed, laws)
    compare.run_rounds(compare.read(crashed), crashed, again, lambda line: None)
    assert again.calls == [] and compare.read(crashed).to_dict() == whole.to_dict()


@settings(max_examples=25, deadline=None)
@given(crash=st.integers(0, 47), low=st.floats(0, 10))
def test_a_crash_anywhere_resumes_to_the_same_decision(crash, low):
    laws, design = (
        {"good": (10, 22), "bad": (low + 4, low + 26)},
        _design(rounds=6, efficacy=0.6, futility=0.1),
    )
    with tempfile.TemporaryDirectory() as tmp:
        whole, _, _ = _run(Path(tmp) / "whole", laws, design)
        crashed = Path(tmp) / "crashed"
        try:
            _run(crashed, laws, design, crash_after=crash)
        except KeyboardInterrupt:
            compare.run_rounds(compare.read(crashed), crashed, Runner(crashed, laws), lambda line: None)
        assert compare.read(crashed).to_dict() == whole.to_dict()
        for s in laws:  # nothing beyond the decision was trained
            assert len(store.rows(crashed / s)) == whole.used


def test_changed_rows_are_refused_on_resume(tmp_path):
    comp, _, _ = _run(tmp_path, {"good": (10, 20), "bad": (30, 40)}, _design())
    store.append_row(tmp_path / "good", replace(_row("good", 0, 90.0)))  # the newest row wins
    with pytest.raises(UserError, match="the trials changed since it was recorded"):
        compare.run_rounds(compare.read(tmp_path), tmp_path, Runner(tmp_path, {}), lambda line: None)


def test_decided_comparison_caps_planned(tmp_path):
    comp, _, _ = _run(tmp_path, {"good": (10, 20), "bad": (30, 40)}, _design())
    for s in ("good", "bad"):
        (tmp_path / s / store.PLAN).write_text(
            "".join(json.dumps(PlanEntry(i, s, i, f"m{i}", {}, {}, {}).to_dict()) + "\n" for i in range(20))
        )
        assert store.planned(tmp_path / s) == 4
    assert compare.already(comp).startswith("already decided: comparison decided after 1 of 5 rounds")


def _exp(**compare_fields):
    data = {"spaces": ["anynet_x_a", "nds_vanilla"], "samples": 20, "compare": compare_fields}
    return config.parse(data, "cmp.yaml")


def test_config_defaults_and_overrides(tmp_path):
    c = _exp().compare
    assert (c.level, c.power, c.difference, c.round) == (0.05, 0.8, 0.1, 10)
    assert config.parse({"spaces": ["a", "b"]}).compare is None
    path = tmp_path / "cmp.yaml"
    path.write_text(yaml.safe_dump({"spaces": ["a", "b"], "samples": 20, "compare": {}}))
    assert config.load(path, ["compare.round=5"]).compare.round == 5
    with pytest.raises(UserError, match=r"^overrides compare.round: 50 is above samples \(20\)"):
        config.load(path, ["compare.round=50"])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"space": "a", "compare": {}},
            r"cmp.yaml: compare: compares two spaces or more; the experiment has 1",
        ),
        (
            {"spaces": ["a", "b"], "compare": {}, "search": {"mode": "optimize"}},
            r"cmp.yaml: compare: needs search.mode: sample",
        ),
        (
            {"spaces": ["a", "b"], "samples": 8, "compare": {"round": 9}},
            r"compare.round: 9 is above samples \(8\)",
        ),
        (
            {"spaces": ["a", "b"], "compare": {"level": 0.7}},
            r"compare.level: expected float in \[1e-06, 0.5\]",
        ),
        ({"spaces": ["a", "b"], "compare": {"power": 1.5}}, r"compare.power: expected float"),
        ({"spaces": ["a", "b"], "compare": {"difference": 0}}, r"compare.difference: expected float"),
        ({"spaces": ["a", "b"], "compare": {"round": 0}}, r"compare.round: expected int"),
        ({"spaces": ["a", "b"], "compare": {"rounds": 3}}, r"compare.rounds: unknown field; legal:"),
        ({"spaces": ["a", "b"], "compare": [1]}, r"compare: expected a mapping"),
    ],
)
def test_config_refusals(data, message):
    with pytest.raises(UserError, match=message):
        config.parse(data, "cmp.yaml")


@pytest.mark.slow
def test_tiny_comparison_through_ray_stops_early(tmp_path, capsys):
    from nas.cli import main
    from tests.synth import tiny_experiment

    raw = yaml.safe_load(tiny_experiment(tmp_path, samples=12, seed=2, epochs=3).read_text())
    raw["spaces"][1] = {"name": "nds_vanilla", "options": {"depths": [12], "widths": [1]}}  # near chance
    raw["dataset"]["params"].update(num_samples=240, noise=0.2)  # easy for the other space
    raw["training"]["batch_size"] = 16
    raw["compare"] = {"round": 6, "difference": 0.5}  # look 1 separates at KS 1 (6 of 6 apart)
    path = tmp_path / "cmp.yaml"
    path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "sweep"
    assert main(["sweep", str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "round 1/2: 6 models per space; anynet_x_c vs nds_vanilla KS 1.000 >= 1.000" in printed
    assert "separated, anynet_x_c better" in printed and "comparison decided after 1 of 2 rounds" in printed
    record = json.loads((out / store.COMPARISON).read_text())
    assert (
        record["decided"] and record["models_per_space"] == 6 and record["pairs"][0]["better"] == "anynet_x_c"
    )
    for space in ("anynet_x_c", "nds_vanilla"):
        assert sorted(r["trial_index"] for r in store.rows(out / space)) == [0, 1, 2, 3, 4, 5]
        assert len(store.plan(out / space)) == 12 and store.planned(out / space) == 6
    assert (out / "analysis" / "sequential.png").stat().st_size > 10_000

    assert main(["analyze", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["sequential"]["decided"] and result["sequential"]["used"] == 6
    assert all(r["pending"] == 0 for r in result["runs"].values())
    assert main(["sweep", "--resume", str(out), "--no-analyze"]) == 0
    assert "already decided: comparison decided after 1 of 2 rounds" in capsys.readouterr().out


@pytest.mark.slow
def test_a_comparison_killed_mid_round_resumes_the_same_test(tmp_path):
    """SIGKILL the driver during round 2 (round 1 looked at, some of round 2 recorded), resume:
    the design and round 1's look are the recorded ones, every trial has one row, round 2 decides."""
    import os
    import signal
    import subprocess
    import sys

    from tests.polling import wait_for
    from tests.synth import tiny_experiment

    raw = yaml.safe_load(tiny_experiment(tmp_path, samples=9, seed=2, epochs=3).read_text())
    raw["spaces"][1] = {"name": "nds_vanilla", "options": {"depths": [12], "widths": [1]}}  # near chance
    raw["dataset"]["params"].update(num_samples=240, noise=0.2)
    raw["training"]["batch_size"] = 16
    raw["resources"]["max_concurrent"] = 1  # one trial at a time: the kill lands inside round 2
    raw["compare"] = {"round": 3, "difference": 0.5}  # look 1 (3 models) cannot separate, look 2 can
    path = tmp_path / "cmp.yaml"
    path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "sweep"
    spaces = ("anynet_x_c", "nds_vanilla")

    def rows() -> int:
        return sum(len(store.rows(out / s)) for s in spaces if (out / s).is_dir())

    def round_one_looked() -> bool:
        return (out / store.COMPARISON).exists() and bool(compare.read(out).pairs[0].looks)

    cmd = [sys.executable, "-m", "nas.cli", "sweep"]
    with open(tmp_path / "log.txt", "w") as log:
        proc = subprocess.Popen(
            [*cmd, str(path), "--out", str(out), "--no-analyze"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        ok = wait_for(lambda: round_one_looked() and rows() >= 7, 180)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert ok, (tmp_path / "log.txt").read_text()
    before = json.loads((out / store.COMPARISON).read_text())
    assert len(before["pairs"][0]["looks"]) == 1 and not before["decided"] and 7 <= rows() < 12
    with open(tmp_path / "log2.txt", "w") as log:
        proc = subprocess.Popen(
            [*cmd, "--resume", str(out), "--no-analyze"], stdout=log, stderr=subprocess.STDOUT
        )
        assert proc.wait(timeout=240) == 0, (tmp_path / "log2.txt").read_text()
    after = json.loads((out / store.COMPARISON).read_text())
    assert after["design"] == before["design"]  # read back, never recomputed: the same error rates
    looks = after["pairs"][0]["looks"]
    assert looks[0] == before["pairs"][0]["looks"][0] and len(looks) == 2
    assert after["decided"] and looks[1]["decision"] == sequential.SEPARATED
    for space in spaces:  # every trial of the two rounds once: none lost, none repeated
        assert sorted(r["trial_index"] for r in store.rows(out / space)) == list(range(6))
    printed = (tmp_path / "log2.txt").read_text()
    assert "round 1/3: 3 models per space" in printed and "(from the stored rows)" in printed
    assert "round 2/3: 6 models per space" in printed and "separated, anynet_x_c better" in printed


def test_analyze_shows_the_decision_and_counts_no_trial_missing(tmp_path):
    from nas.analysis.analyze import analyze
    from nas.analysis.result import Settings
    from nas.analysis.text import format_report
    from tests.synth import write_run

    sweep = tmp_path / "sweep"
    for space, base in (("anynet_x_a", 10.0), ("anynet_x_e", 40.0)):
        write_run(sweep, space, 8, lambda values, rng, base=base: base + rng.uniform(0, 5))
    for space in ("anynet_x_a", "anynet_x_e"):  # the comparison stopped after 4 of the 8 planned
        rows = [json.loads(line) for line in (sweep / space / store.TRIALS).read_text().splitlines()]
        (sweep / space / store.TRIALS).write_text("".join(json.dumps(r) + "\n" for r in rows[:4]))
    comp = _comparison(("anynet_x_a", "anynet_x_e"), _design(rounds=2, size=4))
    compare.run_rounds(comp, sweep, Runner(sweep, {}), lambda line: None)
    result = analyze(
        [sweep / "anynet_x_a", sweep / "anynet_x_e"], settings=Settings(bootstrap=50), figures=True
    )
    seq = result.sequential
    assert seq.decided and seq.used == 4 and seq.rounds_done == 1 and seq.fixed_n == 40
    assert seq.pairs[0]["better"] == "anynet_x_a" and seq.sizes == [4, 8]
    assert all(r.planned == 4 and r.pending == 0 for r in result.runs.values())
    assert f"sequential {seq.sentence}" in format_report(result)
    assert "anynet_x_a better than anynet_x_e (KS 1.000 >= 0.500 after 4 models)" in seq.sentence
    assert result.figures["sequential"] == sweep / "analysis" / "sequential.png"
    assert result.figures["sequential"].stat().st_size > 10_000
    assert result.to_dict()["sequential"]["used"] == 4


def test_start_plans_every_pair_at_a_bonferroni_level(tmp_path):
    exp = config.parse(
        {"spaces": ["anynet_x_a", "anynet_x_b", "anynet_x_c"], "samples": 12, "compare": {"round": 4}},
        "cmp.yaml",
    )
    lines: list[str] = []
    comp = compare.start(exp, tmp_path, lines.append)
    assert [p.label for p in comp.pairs] == [
        "anynet_x_a vs anynet_x_b",
        "anynet_x_a vs anynet_x_c",
        "anynet_x_b vs anynet_x_c",
    ]
    assert comp.design.level == pytest.approx(0.05 / 3) and comp.design.sizes == (4, 8, 12)
    record = json.loads((tmp_path / store.COMPARISON).read_text())
    assert record["correction"].startswith("Bonferroni: each of the 3 pair(s) is tested at level 0.05 / 3")
    assert not record["decided"] and record["models_per_space"] == 12 and record["rounds_done"] == 0
    assert compare.read(tmp_path).to_dict() == record
    assert lines[0] == "designing the sequential test: 3 looks, 20,000 simulated comparisons..."
    assert lines[1].startswith(
        "comparing 3 pair(s) in up to 3 rounds of 4 models per space, each pair at level 0.0167"
    )
    assert "12 per space gives power" in lines[1]  # 12 models cannot reach power 0.8 at difference 0.1

"""The results store's integrity: a torn tail is moved aside before the next append, a full
disk stops with one line and leaves whole lines, one sweep folder has one writer, and readers
name (FILE:LINE) and skip any line that is not a row."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from blocks.errors import UserError
from nas.analysis.frame import load
from nas.cli import main
from nas.records import store
from nas.records.rows import PlanEntry, Status, TrialRow
from nas.sweeping import driver
from tests.synth import tiny_experiment


def _row(index: int, error: float = 10.0) -> TrialRow:
    entry = PlanEntry(
        index, "toy", 7, f"m{index}", {"stages": []}, {"d": index}, {"flops": 1e6, "params": 9, "acts": 3}
    )
    return TrialRow(entry, "exp", Status.OK, error=error + index % 90, epochs=1)


def _run(tmp_path: Path, n: int) -> Path:
    """A run folder of a sweep folder with `n` rows."""
    run = tmp_path / "sweep" / "toy"
    run.mkdir(parents=True)
    for i in range(n):
        store.append_row(run, _row(i))
    return run


def _tear(path: Path) -> bytes:
    """Cut the file's last line in half, as a crash mid-write would; returns what is left of it."""
    data = path.read_bytes()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    cut = start + (len(data) - start) // 2
    path.write_bytes(data[:cut])
    return data[start:cut]


def _read_everywhere(run: Path, capsys) -> tuple[list[list[int]], str]:
    """The trial indices each reader sees (store.rows, store.trial_rows, analysis, `nas results`),
    and what they printed on stderr."""
    seen = [
        [r["trial_index"] for r in store.rows(run)],
        [r.entry.trial_index for r in store.trial_rows(run)],
        list(load(run).index),
    ]
    assert main(["results", str(run), "--jsonl"]) == 0
    out, err = capsys.readouterr()
    return [*seen, [json.loads(line)["trial_index"] for line in out.splitlines()]], err


def test_a_torn_tail_is_moved_aside_and_resuming_twice_keeps_every_row(tmp_path, capsys):
    run = _run(tmp_path, 3)
    trials = run / store.TRIALS
    first = _tear(trials)  # row 2 torn
    store.append_row(run, _row(2))  # resume re-runs trial 2
    store.append_row(run, _row(3))
    second = _tear(trials)  # row 3 torn
    store.append_row(run, _row(3))
    assert "torn last line" in capsys.readouterr().err
    assert all(json.loads(line) for line in trials.read_text().splitlines())  # whole lines only
    assert _read_everywhere(run, capsys) == ([[0, 1, 2, 3]] * 4, "")
    kept = b"".join(p.read_bytes() for p in run.glob(f"{store.TRIALS}.torn-*"))
    assert first in kept and second in kept  # the fragments are kept aside, not lost


def test_a_whole_last_row_missing_only_its_line_break_is_kept(tmp_path):
    run = _run(tmp_path, 2)
    trials = run / store.TRIALS
    trials.write_bytes(trials.read_bytes().rstrip(b"\n"))
    store.append_row(run, _row(2))
    assert [r["trial_index"] for r in store.rows(run)] == [0, 1, 2]
    assert not list(run.glob("*.torn-*"))


@pytest.mark.parametrize("fail", ["write", "partial", "fsync"])
def test_a_full_disk_stops_in_one_line_and_leaves_whole_rows(tmp_path, monkeypatch, fail):
    run = _run(tmp_path, 2)
    trials = run / store.TRIALS
    before = trials.read_bytes()
    real_write = os.write

    def write(fd, data):
        if fail == "partial" and len(data) > 10:
            return real_write(fd, data[: len(data) // 2])  # the OS took half, then the disk filled
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fsync(fd):
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))

    monkeypatch.setattr(os, "fsync" if fail == "fsync" else "write", fsync if fail == "fsync" else write)
    with pytest.raises(UserError) as err:
        store.append_row(run, _row(2))
    assert str(err.value) == (
        f"disk full writing {trials}; the 2 rows already recorded are intact; free space and "
        f"resume the sweep folder {run.parent}"
    )
    assert trials.read_bytes() == before


def test_a_real_full_disk_leaves_every_recorded_row_readable(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True
    )
    if not mounted or mounted.returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        run = mnt / "toy"
        run.mkdir()
        recorded = 0
        with pytest.raises(UserError, match=r"^disk full writing .*trials.jsonl; the \d+ rows already"):
            for i in range(10_000):
                store.append_row(run, _row(i))
                recorded += 1
        assert recorded > 10 and [r["trial_index"] for r in store.rows(run)] == list(range(recorded))
        assert (run / store.TRIALS).read_bytes().endswith(b"\n")
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


HOLD = textwrap.dedent(
    """
    import sys
    from contextlib import ExitStack
    from pathlib import Path
    from nas.records import store
    with ExitStack() as held:
        for folder in sys.argv[1:]:
            held.enter_context(store.lock(Path(folder)))
        print("held", flush=True)
        sys.stdin.readline()
    """
)


def test_one_writer_per_sweep_folder(tmp_path):
    run = _run(tmp_path, 1)
    sweep = run.parent
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(sweep), str(tmp_path / "new")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        refused = rf"^{sweep}: another sweep is writing into it \(PID {holder.pid}\)"
        for target in (sweep, run):  # the sweep folder, or one of its runs
            with pytest.raises(UserError, match=refused), store.lock(target):
                pass
        with pytest.raises(UserError, match=refused):
            driver.sweep("", resume=str(sweep))
        exp = tiny_experiment(tmp_path, samples=1, seed=0, epochs=1)
        with pytest.raises(UserError, match=rf"^{tmp_path / 'new'}: another sweep .* \(PID {holder.pid}\)"):
            driver.sweep(str(exp), out=str(tmp_path / "new"))  # a new sweep into a folder being started
    finally:
        holder.communicate("\n", timeout=30)
    assert holder.returncode == 0
    with store.lock(sweep):  # released when its holder ends
        pass
    assert [r["trial_index"] for r in store.rows(run)] == [0]  # the refused sweeps wrote nothing


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("[1, 2]", "a JSON list, not an object"),
        ('"row"', "a JSON str, not an object"),
        ("{not json", "not valid JSON"),
        ('{"trial_index": 9, "status": "ok", "error": "low"}', "'error' is \"low\", not int or float"),
        ('{"trial_index": "9", "status": "ok"}', "'trial_index' is \"9\", not int"),
        ('{"trial_index": 9}', "no 'status'"),
        ('{"trial_index": 9, "status": "lost"}', "'status' is 'lost', not one of"),
        ('{"trial_index": 9, "status": "ok", "complexity": {"flops": "many"}}', "'complexity' holds a value"),
    ],
)
def test_readers_name_a_line_that_is_not_a_row_and_go_on(tmp_path, capsys, line, why):
    run = _run(tmp_path, 2)
    with open(run / store.TRIALS, "a") as fh:
        fh.write(line + "\n")
    store.append_row(run, _row(2))
    seen, err = _read_everywhere(run, capsys)
    assert seen == [[0, 1, 2]] * 4
    assert err == f"warning: {run / store.TRIALS}:3: {err.split(':3: ', 1)[-1]}"
    assert why in err and err.endswith("skipped\n") and err.count("\n") == 1  # one line, once
    assert main(["results", str(run)]) == 0 and main(["results", str(run), "--sort", "flops"]) == 0


def test_a_row_missing_record_fields_reads_as_a_record_with_blanks(tmp_path, capsys):
    """Every reader reads the same rows: one with what no reader can do without (its index and
    status) is a TrialRow whose missing fields take their defaults or blanks."""
    run = _run(tmp_path, 1)
    store.append(run / store.TRIALS, {"trial_index": 5, "status": "ok", "error": 1.0, "reason": None})
    assert [r["trial_index"] for r in store.rows(run)] == [0, 5]
    last = store.trial_rows(run)[-1]
    assert (last.entry.trial_index, last.status, last.error, last.reason) == (5, Status.OK, 1.0, "")
    assert (last.entry.space, last.entry.seed, last.entry.spec, last.epochs, last.val_errors) == (
        "",
        0,
        {},
        0,
        [],
    )
    assert capsys.readouterr().err == ""


def test_results_show_rows_without_complexity(tmp_path, capsys):
    run = _run(tmp_path, 1)
    refused = PlanEntry.refused(1, "toy", 7, {"d": 1}, "too many flops")
    store.append_row(run, TrialRow(refused, "exp", Status.REJECTED, reason="too many flops"))
    for sort in ("trial_index", "flops", "error"):
        assert main(["results", str(run), "--sort", sort]) == 0
    out = capsys.readouterr().out
    assert "rejected" in out and "too many flops" in out


def test_a_symlink_planted_as_the_store_is_not_followed(tmp_path):
    run = _run(tmp_path, 0)
    elsewhere = tmp_path / "users-file"
    elsewhere.write_text("mine\n")
    (run / store.TRIALS).symlink_to(elsewhere)
    with pytest.raises(UserError, match=r"^cannot open .*trials.jsonl: "):
        store.append_row(run, _row(0))
    assert elsewhere.read_text() == "mine\n"


@pytest.mark.slow
def test_a_full_disk_mid_sweep_stops_it_in_one_line(tmp_path, monkeypatch, capsys):
    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(store, "_write_all", full)
    out = tmp_path / "out"
    exp = tiny_experiment(tmp_path, samples=1, seed=0, epochs=1)
    assert main(["sweep", str(exp), "--out", str(out), "--no-analyze"]) == 2
    everything = capsys.readouterr().err
    assert "Traceback" not in everything
    err = everything.strip().splitlines()[-1]
    assert err.startswith("nas sweep: error: disk full writing ") and "Traceback" not in err
    assert f"the 0 rows already recorded are intact; free space and resume the sweep folder {out}" in err
    assert not any(p.stat().st_size for p in out.glob("*/trials.jsonl"))


def test_a_follower_reads_each_appended_row_once_and_waits_for_a_torn_tail(tmp_path, capsys):
    run = _run(tmp_path, 3)
    follow = store.Follower(run)
    assert sorted(follow.latest()) == [0, 1, 2]
    store.append_row(run, _row(3))
    store.append_row(run, _row(1, error=50.0))  # a later row of trial 1 wins, as in `rows`
    seen = follow.latest()
    assert {i: r.error for i, r in seen.items()} == {r["trial_index"]: r["error"] for r in store.rows(run)}
    assert seen[1].error == 51.0 and follow.lines == 5
    with open(run / store.TRIALS, "ab") as fh:
        fh.write(b'{"trial_index": 9, "sta')  # a driver killed mid-write
    assert sorted(follow.latest()) == [0, 1, 2, 3]  # the torn tail is not read yet
    store.append_row(run, _row(4))  # moves the torn tail aside
    assert sorted(follow.latest()) == [0, 1, 2, 3, 4] and follow.lines == 6
    with open(run / store.TRIALS, "a") as fh:
        fh.write("[1, 2]\n")
    assert sorted(follow.latest()) == [0, 1, 2, 3, 4]
    assert "trials.jsonl:7: a JSON list, not an object, skipped" in capsys.readouterr().err

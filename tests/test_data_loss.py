"""A catalogue of ways the tool could destroy a user's data (issue 20, "Data lost"): retraining
over a sweep's kept weights, a claim on weights left behind by a failed write, writing through a
link planted at SWEEP/analysis, writing figures or a report over a user's files, and pruning the
weights of two trials of one model. Each case checks the bytes of the user's files and of the
kept weights before and after, and that what is exported is paired with the row that made it."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest
import torch
import yaml

from blocks.complexity import complexity
from blocks.network import build
from nas import config as cfgmod
from nas.cli import main
from nas.exporting.export import run_job
from nas.exporting.select import Candidate, candidates
from nas.outputs import MANIFEST
from nas.records import store
from nas.records import weights as wmod
from nas.records.rows import PlanEntry, Status
from nas.records.weights import OWNER, weights_owner, weights_path
from nas.sweeping.pruning import prune_weights
from nas.sweeping.trial import keep_weights, make_row
from tests.synth import write_run
from tests.test_export import spec_of

EXPERIMENT = {
    "name": "tiny",
    "space": "anynet_x_a",
    "samples": 3,
    "dataset": {"name": "synthetic", "params": {"num_samples": 64, "size": 8, "num_classes": 4}},
    "training": {"epochs": 2, "batch_size": 32},
}


def model_of(width: int, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build(spec_of(width)).eval()


def entry(index: int, width: int) -> PlanEntry:
    spec = spec_of(width)
    return PlanEntry(index, "a", 100 + index, spec.model_id, spec.to_dict(), {}, complexity(spec).to_dict())


def new_run(root: Path) -> Path:
    """An empty run folder with the tiny experiment as its recipe."""
    run = root / "a"
    run.mkdir(parents=True)
    exp = cfgmod.parse(EXPERIMENT, "tiny.yaml")
    (run / store.EXPERIMENT).write_text(yaml.safe_dump(exp.to_dict(), sort_keys=False))
    return run


def finish(run: Path, index: int, width: int, error: float, keep: int | None = None) -> torch.nn.Module:
    """Trial `index` as the sweep ends it: keep its weights (the worker), then record its row and
    prune to the best `keep` (the driver); returns the model it trained."""
    model = model_of(width, seed=index)
    keep_weights(model, str(run), entry(index, width))
    store.append_row(
        run, make_row(entry(index, width), "tiny", Status.OK, error=error, val_errors=[error], epochs=2)
    )
    if keep is not None:
        prune_weights(run, keep)
    return model


def digests(*folders: Path) -> dict[str, str]:
    """SHA-256 of every file under the folders, by path (links by their target's path)."""
    out = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_symlink():
                out[str(path)] = "link -> " + os.readlink(path)
            elif path.is_file():
                out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def one_line(capsys, *names: str) -> str:
    """The single stderr line of a refused command, naming each of `names`, with no traceback."""
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and len(err.splitlines()) == 1, err
    assert all(name in err for name in names), err
    return err


def same_tensors(path: Path, model: torch.nn.Module) -> bool:
    state = torch.load(path, weights_only=True)
    return state.keys() == model.state_dict().keys() and all(
        torch.equal(state[k], v) for k, v in model.state_dict().items()
    )


# --- 1. retraining never replaces the sweep's kept weights -------------------------------------


@pytest.fixture
def kept(tmp_path):
    """A run whose only trial kept its weights: (run, model id, the trial's model)."""
    run = new_run(tmp_path / "sweep")
    model = finish(run, 0, 12, error=2.79)
    return run, spec_of(12).model_id, model


def test_retrain_writes_beside_the_kept_weights_and_export_keeps_the_rows_pair(kept, tmp_path, capsys):
    run, model_id, model = kept
    before = digests(run / "weights")
    assert main(["retrain", model_id, "--run", str(run), "--epochs", "1", "--threads", "1"]) == 0
    retrained = run / "retrained" / f"{model_id}-1ep-seed100.pt"
    assert f"-> {retrained}" in capsys.readouterr().out and retrained.is_file()
    assert digests(run / "weights") == before  # the sweep's weights and owner record, byte for byte
    out = tmp_path / "out"
    assert main(["export", str(run), "--id", model_id, "--format", "weights", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "error 2.79%" in printed and "weights: trained" in printed
    assert same_tensors(out / model_id / "weights.pt", model)  # the row's error beside the row's weights
    # the retrained file, given explicitly, carries its own error; the trial's is kept apart
    again = tmp_path / "again"
    assert main(["export", str(run), "--id", model_id, "--weights", str(retrained), "--out", str(again)]) == 0
    printed = capsys.readouterr().out
    record = yaml.safe_load((again / model_id / "spec.yaml").read_text())
    assert record["weights"] == "retrained" and record["trial_error"] == 2.79
    assert record["error"] != 2.79 and f"error {record['error']:.2f}%" in printed
    assert "(trial 0: error 2.79%, not these weights)" in printed
    # retraining the same way again would replace its own file: only with --force
    assert main(["retrain", model_id, "--run", str(run), "--epochs", "1", "--threads", "1"]) == 2
    one_line(capsys, str(retrained), "--force")
    assert main(["retrain", model_id, "--run", str(run), "--epochs", "1", "--threads", "1", "--force"]) == 0
    assert digests(run / "weights") == before


def test_the_kept_file_given_as_weights_keeps_its_rows_error(kept, tmp_path, capsys):
    run, model_id, model = kept
    out = tmp_path / "out"
    argv = ["export", str(run), "--id", model_id, "--weights", str(weights_path(run, model_id))]
    assert main([*argv, "--format", "weights", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "error 2.79%" in printed and "not these weights" not in printed
    assert yaml.safe_load((out / model_id / "spec.yaml").read_text())["error"] == 2.79
    assert same_tensors(out / model_id / "weights.pt", model)


RETRAIN_OUT = {
    # --out into the run's weights/ folder: refused even with --force
    "kept-weights-file": ("{run}/weights/{id}.pt", ["--force"], "where the sweep keeps its trials' weights"),
    "other-name-in-weights": ("{run}/weights/mine.pt", [], "where the sweep keeps its trials' weights"),
    "link-to-weights-folder": (
        "{tmp}/link/{id}.pt",
        ["--force"],
        "where the sweep keeps its trials' weights",
    ),
    # a user's file is replaced only with --force
    "existing-user-file": ("{tmp}/mine.pt", [], "--force"),
    "existing-source-record": ("{tmp}/fresh.pt", [], "fresh.pt.json: exists"),
    "a-folder": ("{tmp}/folder", ["--force"], "is a folder"),
    # a link planted in the run's retrained/ folder
    "link-in-retrained": ("{run}/retrained/{id}-1ep-seed100.pt", ["--force"], "symbolic link"),
}


@pytest.mark.parametrize("out, extra, message", RETRAIN_OUT.values(), ids=RETRAIN_OUT.keys())
def test_retrain_refuses_to_replace(kept, tmp_path, capsys, out, extra, message):
    run, model_id, _ = kept
    (tmp_path / "mine.pt").write_bytes(b"a user's weights")
    (tmp_path / "fresh.pt.json").write_text("a user's notes")
    (tmp_path / "folder").mkdir()
    (tmp_path / "link").symlink_to(run / "weights")
    (run / "retrained").mkdir()
    (run / "retrained" / f"{model_id}-1ep-seed100.pt").symlink_to(tmp_path / "mine.pt")
    before = digests(run, tmp_path)
    target = out.format(run=run, id=model_id, tmp=tmp_path)
    argv = ["retrain", model_id, "--run", str(run), "--epochs", "1", "--out", target, *extra]
    assert main(argv) == 2
    one_line(capsys, message)
    assert digests(run, tmp_path) == before


def test_export_never_pairs_a_row_with_weights_it_did_not_produce(kept, tmp_path, capsys):
    run, model_id, _ = kept
    path = weights_path(run, model_id)
    row = store.trial_rows(run)[0]
    assert run_job(Candidate(row, run), None).weights == path
    # the file replaced after the trial kept it (a copy, or an old `nas retrain` into weights/)
    torch.save(model_of(12, seed=99).state_dict(), path)
    job = run_job(Candidate(row, run), None)
    assert job.weights is None and "SHA-256 differs" in job.record["weights_note"]
    out = tmp_path / "out"
    assert main(["export", str(run), "--id", model_id, "--format", "weights", "--out", str(out)]) == 2
    one_line(capsys, "SHA-256 differs", f"retrain {model_id} from run")
    assert main(["export", str(run), "--id", model_id, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "weights: none" in printed and "SHA-256 differs" in printed
    # weights that `nas retrain` wrote there are no trial's, whatever the owner record says
    wmod.write_source(path, {"weights": "retrained", "error": 22.56})
    assert (
        "written by a retrain, not by this trial" in run_job(Candidate(row, run), None).record["weights_note"]
    )


# --- 2. a failed weights write leaves no claim behind ------------------------------------------


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _fail_claim(monkeypatch):
    monkeypatch.setattr(wmod, "_draft", _no_space)


def _fail_save(monkeypatch):
    monkeypatch.setattr(torch, "save", _no_space)


def _fail_rename(monkeypatch):
    real = os.replace
    monkeypatch.setattr(
        os, "replace", lambda a, b: _no_space() if str(a).endswith(".partial") else real(a, b)
    )


def _fail_owner_record(monkeypatch):
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: _no_space() if str(b).endswith(OWNER) else real(a, b))


FULL_DISK = {
    "claim": _fail_claim,
    "weights": _fail_save,
    "rename": _fail_rename,
    "owner-record": _fail_owner_record,
}


@pytest.mark.parametrize("fail", FULL_DISK.values(), ids=FULL_DISK.keys())
def test_a_failed_weights_write_leaves_no_claim(tmp_path, monkeypatch, fail):
    run = new_run(tmp_path)
    with monkeypatch.context() as patch:
        fail(patch)
        with pytest.raises(OSError, match="No space left"):
            keep_weights(model_of(12, seed=0), str(run), entry(0, 12))
    assert sorted(p.name for p in (run / "weights").iterdir()) == []  # no claim, no partial, no draft
    later = model_of(12, seed=5)  # a later trial of the same model keeps its weights
    assert keep_weights(later, str(run), entry(5, 12))
    path = weights_path(run, spec_of(12).model_id)
    assert same_tensors(path, later) and weights_owner(path) == "5" and wmod.produced_by(path, 5)


def test_a_failed_retry_keeps_the_owners_earlier_weights(tmp_path, monkeypatch):
    run = new_run(tmp_path)
    first = model_of(12, seed=0)
    assert keep_weights(first, str(run), entry(0, 12))
    before = digests(run / "weights")
    monkeypatch.setattr(torch, "save", _no_space)
    with pytest.raises(OSError):
        keep_weights(model_of(12, seed=1), str(run), entry(0, 12))  # the same trial, retried
    assert digests(run / "weights") == before


def test_an_empty_claim_left_by_an_earlier_version_is_cleared(tmp_path):
    run = new_run(tmp_path)
    finish(run, 0, 24, error=4.0)  # the crash left trial 0's claim empty, with no weights
    path = weights_path(run, spec_of(24).model_id)
    path.unlink()
    path.with_suffix(OWNER).write_bytes(b"")
    assert not keep_weights(model_of(24, seed=3), str(run), entry(3, 24))  # blocked, as seen
    prune_weights(run, 2)
    assert not path.with_suffix(OWNER).exists()
    assert keep_weights(model_of(24, seed=3), str(run), entry(3, 24)) and weights_owner(path) == "3"


# --- 3 and 4. nas analyze writes only what it was asked to, never through a link --------------


@pytest.fixture
def sweep(tmp_path):
    root = tmp_path / "sweep"
    write_run(root, "anynet_x_a", 12, lambda values, rng: float(rng.uniform(1, 10)))
    return root


def test_a_link_planted_at_the_analysis_folder_is_refused(sweep, tmp_path, capsys):
    victim = tmp_path / "victim"
    victim.mkdir()
    for name in ("edf.png", "search.png", "complexity.png"):
        (victim / name).write_bytes(f"the user's {name}".encode())
    (sweep / "analysis").symlink_to(victim)
    before = digests(victim)
    assert main(["analyze", str(sweep), "--bootstrap", "0"]) == 2
    one_line(capsys, "symbolic link", str(sweep / "analysis"))
    assert digests(victim) == before


def test_figure_writes_only_the_file_named(sweep, tmp_path, capsys):
    mine = tmp_path / "u"
    mine.mkdir()
    for name in ("search.png", "complexity.png", "edf_normalized.png", "trends_anynet_x_a.png"):
        (mine / name).write_bytes(f"the user's {name}".encode())
    before = digests(mine)
    assert main(["analyze", str(sweep), "--figure", str(mine / "mine.png"), "--bootstrap", "0"]) == 0
    assert f"EDF figure: {mine / 'mine.png'}" in capsys.readouterr().out
    after = digests(mine)
    assert after.pop(str(mine / "mine.png")) and after == before
    assert not (sweep / "analysis").exists()  # nor anywhere it was not asked to write


REPORT_FOLDERS = {
    "index-html": ("index.html", b"<html>the user's page</html>"),
    "a-figure": ("edf.png", b"the user's figure"),
    "a-table": ("summary.csv", b"the user's table"),
    "unrelated": ("notes.txt", b"the user's notes"),
}


@pytest.mark.parametrize("name, content", REPORT_FOLDERS.values(), ids=REPORT_FOLDERS.keys())
def test_report_refuses_a_folder_it_did_not_write(sweep, tmp_path, capsys, name, content):
    report = tmp_path / "report"
    report.mkdir()
    (report / name).write_bytes(content)
    assert main(["analyze", str(sweep), "--report", str(report), "--bootstrap", "0"]) == 2
    one_line(capsys, f"--report {report}", name, "new or empty folder")
    assert digests(report) == {str(report / name): hashlib.sha256(content).hexdigest()}


def test_report_rewrites_its_own_folder_but_not_what_the_user_changed_there(sweep, tmp_path, capsys):
    report = tmp_path / "report"
    argv = ["analyze", str(sweep), "--report", str(report), "--bootstrap", "0"]
    assert main(argv) == 0 and (report / MANIFEST).is_file()
    (report / "notes.txt").write_text("the user's notes")  # their own file: left alone
    assert main(argv) == 0  # re-running into the tool's own report folder works
    assert (report / "notes.txt").read_text() == "the user's notes"
    (report / "index.html").write_text("the user's edit")
    capsys.readouterr()
    before = digests(report)
    assert main(argv) == 2
    one_line(capsys, str(report / "index.html"), "not written by this tool")
    assert digests(report) == before


# --- 5. keep_weights K with two trials of one model --------------------------------------------


def test_pruning_keeps_files_of_trials_and_exports_find_them(tmp_path, capsys):
    run = new_run(tmp_path)
    first = finish(run, 0, 12, error=5.0, keep=2)  # keeps model 12's file
    finish(run, 1, 12, error=3.0, keep=2)  # the same model, better, but keeps nothing
    other = finish(run, 2, 24, error=4.0, keep=2)
    finish(run, 3, 32, error=9.0, keep=2)  # worse than both kept files: pruned
    m12, m24, m32 = (spec_of(w).model_id for w in (12, 24, 32))
    assert sorted(p.name for p in (run / "weights").iterdir()) == sorted(
        [f"{m12}.pt", f"{m12}{OWNER}", f"{m24}.pt", f"{m24}{OWNER}"]
    )
    assert weights_owner(weights_path(run, m12)) == "0"
    # model 12 is exported with the row whose weights were kept, so its error is theirs
    assert [(c.model_id, c.row.entry.trial_index) for c in candidates([run])] == [
        (m24, 2),
        (m12, 0),
        (m32, 3),
    ]
    out = tmp_path / "out"
    assert main(["export", str(run), "--top", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("weights: trained") == 2 and "error 5.00%" in printed
    assert same_tensors(out / m12 / "weights.pt", first) and same_tensors(out / m24 / "weights.pt", other)
    # the other trial of model 12 says truthfully that the kept file is not its own
    job = run_job(Candidate(store.trial_rows(run)[1], run), None)
    assert (
        job.weights is None
        and "holds trial 0's weights of this model, not trial 1's" in job.record["weights_note"]
    )


def test_a_file_whose_trial_has_no_row_yet_is_not_pruned(tmp_path):
    run = new_run(tmp_path)
    finish(run, 0, 12, error=5.0, keep=1)
    late = model_of(24, seed=1)
    keep_weights(late, str(run), entry(1, 24))  # trained and kept; its row not yet at the driver
    finish(run, 2, 32, error=9.0, keep=1)
    assert same_tensors(weights_path(run, spec_of(24).model_id), late)
    store.append_row(run, make_row(entry(1, 24), "tiny", Status.OK, error=1.0, epochs=2))
    prune_weights(run, 1)
    assert [p.name for p in (run / "weights").glob("*.pt")] == [f"{spec_of(24).model_id}.pt"]

"""A catalogue of output paths the OS will not write: every flag that names an output (`--out` of
sweep, export and refine, `--figure` and `--report` of analyze, `--plot` of hdc) at a dangling
symbolic link, a link loop, under a regular file and in a read-only folder. Each is refused before
any work with one line naming the flag and the path, and nothing is written anywhere."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import synth
from tests.test_bad_inputs import refused

QUICKSTART = str(Path(__file__).parent.parent / "experiments" / "quickstart.yaml")


@pytest.fixture(scope="module")
def read_only(tmp_path_factory) -> Path:
    """A folder the OS refuses to write into, even for root: a read-only tmpfs where we may mount
    one, else a folder without write permission (root ignores that, so the case is skipped)."""
    folder = tmp_path_factory.mktemp("read-only")
    if os.geteuid() == 0:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=16k", "tmpfs", str(folder)], capture_output=True
        )
        if done.returncode:
            pytest.skip("cannot mount a read-only tmpfs here")
        yield folder
        subprocess.run(["umount", str(folder)], check=True)
        return
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sweep")
    synth.write_run(root, "anynet_x_a", 12, lambda values, rng: float(rng.uniform(10, 60)))
    return root


COMMANDS = {
    "sweep-out": (["sweep", QUICKSTART, "--out", "{path}"], "--out", ""),
    "export-out": (["export", "resnet18", "--out", "{path}"], "--out", ""),
    "refine-out": (["refine", "{sweep}/anynet_x_a", "--out", "{path}", "--force"], "--out", ".yaml"),
    "analyze-figure": (["analyze", "{sweep}", "--figure", "{path}", "--bootstrap", "0"], "--figure", ".png"),
    "analyze-report": (["analyze", "{sweep}", "--report", "{path}", "--bootstrap", "0"], "--report", ""),
    "hdc-plot": (["hdc", "1,2,5", "--plot", "{path}"], "--plot", ".png"),
}


def _place(kind: str, tmp_path: Path, read_only: Path, suffix: str) -> tuple[Path, str]:
    """The bad path of `kind`, and what the refusal says about it."""
    if kind == "dangling-link":
        path = tmp_path / f"link{suffix}"
        path.symlink_to(tmp_path / f"nowhere{suffix}")
        return path, "which does not exist"
    if kind == "link-loop":
        path = tmp_path / f"loop{suffix}"
        path.symlink_to(path)
        return path, "is a symbolic link to"
    if kind == "under-a-file":
        return tmp_path / "file" / f"out{suffix}", f"{tmp_path / 'file'} is a file, not a folder"
    if os.geteuid() != 0:
        try:
            (read_only / "probe").write_text("")
        except OSError:
            pass
        else:
            pytest.skip("this user writes into folders without write permission")
    return read_only / "deeper" / f"out{suffix}", f"cannot write into {read_only}"


@pytest.mark.parametrize("kind", ["dangling-link", "link-loop", "under-a-file", "read-only"])
@pytest.mark.parametrize("argv, flag, suffix", COMMANDS.values(), ids=COMMANDS.keys())
def test_an_output_the_os_will_not_write_is_one_line(
    tmp_path, capsys, template, read_only, argv, flag, suffix, kind
):
    sweep = Path(shutil.copytree(template, tmp_path / "sweep"))
    (tmp_path / "file").write_text("a user's file")
    path, why = _place(kind, tmp_path, read_only, suffix)
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = [a.replace("{path}", str(path)).replace("{sweep}", str(sweep)) for a in argv]
    refused(argv, capsys, f"{flag} {path}: ", why)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no link target, no folder made
    assert (tmp_path / "file").read_text() == "a user's file"
    assert not any(read_only.iterdir())
    assert not (sweep / "analysis").exists() and not list(sweep.glob("*/*.yaml.tmp"))


@pytest.mark.parametrize(
    "argv, flag",
    [(["export", "resnet18"], "--out exported"), (["sweep", QUICKSTART], "--out runs/quickstart")],
    ids=["export-default-out", "sweep-default-out"],
)
def test_a_read_only_working_folder_is_one_line(capsys, monkeypatch, read_only, argv, flag):
    if os.geteuid() != 0:
        pytest.skip("a folder without write permission does not stop root")
    monkeypatch.chdir(read_only)
    refused(argv, capsys, f"{flag}: cannot write into ", "Read-only file system")
    assert not any(read_only.iterdir())


def test_a_disk_that_fills_during_an_export_is_one_line(tmp_path, capsys, monkeypatch):
    """The checks up front pass; writing the export's index then finds the disk full: one line
    naming the export's folder, the file and why, exit 2, no traceback. (A graph whose write fails
    is already a FAILED check on the model's line.)"""
    import errno

    from nas.exporting import export

    out = tmp_path / "out"

    def full(path, done):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(export, "write_index", full)
    argv = ["export", "resnet18", "--out", str(out), "--random-init", "--format", "spec"]
    err = refused(argv, capsys, "No space left on device")
    assert (
        err.strip() == f"nas export: error: {out}: cannot write {out / 'index.csv'}: No space left on device"
    )

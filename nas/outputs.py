"""Files and folders the user names for output (`nas hdc --plot`, `nas analyze --figure` and
`--report`, the `--out` of `nas sweep`, `nas export` and `nas refine`): checked before any work is
done, and an OS refusal while writing (a read-only folder, a full disk) turned into one line
naming the file and why."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from blocks.errors import UserError

FIGURE_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg")


def figure_file(text: str, flag: str) -> Path:
    """A figure to write: a format matplotlib writes here, not an existing folder, a path the OS takes."""
    path = _target(text, flag)
    fmt = path.suffix[1:].lower()
    if fmt not in FIGURE_FORMATS:
        legal = ", ".join(f".{f}" for f in FIGURE_FORMATS)
        raise UserError(
            f"{flag} {text}: format {fmt or '(no suffix)'!r} is not one written here; legal: {legal}"
        )
    return file(text, flag, example="edf.png")


def file(text: str, flag: str, example: str = "out.yaml") -> Path:
    """A file to write: not an existing folder, a path the OS takes."""
    path = _target(text, flag)
    if path.is_dir():
        raise UserError(f"{flag} {text}: is a folder; give a file name such as {path / example}")
    return path


def folder(text: str, flag: str) -> Path:
    """A folder to write files into (made when missing): not an existing file, a path the OS takes."""
    path = _target(text, flag)
    if path.exists() and not path.is_dir():
        raise UserError(f"{flag} {text}: is a file, not a folder")
    return path


def _target(text: str, flag: str) -> Path:
    """`text` as a path the OS can write: no NUL, each name within the file system's length limit,
    not a dangling symbolic link, and its nearest existing folder one the OS lets us write into
    (tried with a file, made and removed: the missing folders are made when written)."""
    if not text or "\0" in text:
        raise UserError(f"{flag} {text!r}: not a path; give a non-empty path without NUL characters")
    path = Path(text)
    above = _existing(path.parent)
    if not above.is_dir():
        raise UserError(f"{flag} {text}: {above} is a file, not a folder")
    limit = _name_max(above)
    long = [name for name in path.parts if len(os.fsencode(name)) > limit]
    if long:
        raise UserError(
            f"{flag} {text}: a name in it is {len(os.fsencode(long[0]))} bytes; the file system takes {limit}"
        )
    if path.is_symlink() and not path.exists():
        raise UserError(f"{flag} {text}: is a symbolic link to {os.readlink(path)}, which does not exist")
    try:  # os.access answers for the permission bits only, and yes to root on a read-only mount
        fd, probe = tempfile.mkstemp(prefix=".nas-write-check-", dir=above)
    except OSError as err:
        raise UserError(f"{flag} {text}: cannot write into {above}: {err.strerror or err}") from None
    os.close(fd)
    os.unlink(probe)
    return path


def unlinked(path: Path) -> Path:
    """`path` unless it is a symbolic link: files written into a run or report folder never go
    through a link someone planted there (the tool makes none)."""
    if path.is_symlink():
        raise UserError(
            f"{path}: is a symbolic link to {os.readlink(path)}; this tool writes no links and does "
            "not write through one; remove it and run again"
        )
    return path


def _existing(path: Path) -> Path:
    """The path itself, or its nearest ancestor that exists (the working folder at the top)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _name_max(folder: Path) -> int:
    """The longest file name, in bytes, the file system holding `folder` takes (255 when unknown)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


@contextmanager
def writing(what: str) -> Iterator[None]:
    """Run the block; an OS refusal to write becomes one UserError naming `what`, the file and why."""
    try:
        yield
    except OSError as err:
        where = f" {err.filename}" if err.filename else ""
        raise UserError(f"{what}: cannot write{where}: {err.strerror or err}") from None

"""Files and folders the user names for output (the `plot` of `nas hdc`, `figure` and `report`
of `nas analyze`, the `out` of `nas sweep`, `nas export` and `nas refine`): checked before any
work is done, and an OS refusal while writing (a read-only folder, a full disk) turned into one
line naming the argument, the file and why (an ArgError, so the CLI names the flag).

A report folder is the tool's: new, empty, or one it wrote before, marked by MANIFEST, which
records each file written there with its SHA-256. A file there is replaced only when the
manifest records its present bytes, so a user's own file (or one they edited) is never lost."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from blocks.errors import ArgError, UserError, literal

FIGURE_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg")
MANIFEST = ".nas-written.json"  # in a report folder: the files the tool wrote there, with their SHA-256


def figure_file(text: str, name: str) -> Path:
    """A figure to write: a format matplotlib writes here, not an existing folder, a path the OS takes."""
    path = _target(text, name)
    fmt = path.suffix[1:].lower()
    if fmt not in FIGURE_FORMATS:
        legal = ", ".join(f".{f}" for f in FIGURE_FORMATS)
        raise _refused(name, text, f"format {fmt or '(no suffix)'!r} is not one written here; legal: {legal}")
    return file(text, name, example="edf.png")


def file(text: str, name: str, example: str = "out.yaml") -> Path:
    """A file to write: not an existing folder, a path the OS takes."""
    path = _target(text, name)
    if path.is_dir():
        raise _refused(name, text, f"is a folder; give a file name such as {path / example}")
    return path


def folder(text: str, name: str) -> Path:
    """A folder to write files into (made when missing): not an existing file, a path the OS takes."""
    path = _target(text, name)
    if path.exists() and not path.is_dir():
        raise _refused(name, text, "is a file, not a folder")
    return path


def _refused(name: str, text: str, why: str) -> ArgError:
    """The error naming argument `name`, the path given for it, and why it is refused."""
    return ArgError("", f"{{{name}}} {literal(text)}: {literal(why)}", [name])


def _target(text: str, name: str) -> Path:
    """`text` as a path the OS can write: no NUL, each name within the file system's length limit,
    not a dangling symbolic link, and its nearest existing folder one the OS lets us write into
    (tried with a file, made and removed: the missing folders are made when written)."""
    if not text or "\0" in text:
        raise ArgError(
            "",
            f"{{{name}}} {literal(repr(text))}: not a path; give a non-empty path without NUL characters",
            [name],
        )
    path = Path(text)
    above = _existing(path.parent)
    if not above.is_dir():
        raise _refused(name, text, f"{above} is a file, not a folder")
    limit = _name_max(above)
    long = [part for part in path.parts if len(os.fsencode(part)) > limit]
    if long:
        raise _refused(
            name, text, f"a name in it is {len(os.fsencode(long[0]))} bytes; the file system takes {limit}"
        )
    if path.is_symlink() and not path.exists():
        raise _refused(name, text, f"is a symbolic link to {os.readlink(path)}, which does not exist")
    try:  # os.access answers for the permission bits only, and yes to root on a read-only mount
        fd, probe = tempfile.mkstemp(prefix=".nas-write-check-", dir=above)
    except OSError as err:
        raise _refused(name, text, f"cannot write into {above}: {err.strerror or err}") from None
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


def check_report(path: Path) -> Path:
    """A report folder to write into, refused before any work: not a link, and new, empty or
    marked as one the tool wrote (MANIFEST) whose files are as it wrote them, never a folder of
    someone's files."""
    unlinked(path)
    written = _manifest(path) if path.is_dir() else None
    for name, digest in (written or {}).items():
        file = unlinked(path / name)
        if file.is_file() and _digest(file) != digest:
            raise _refused(
                "report",
                str(path),
                f"{file} was not written by this tool (or was changed since), so it is not replaced; "
                "move it away, or give another folder",
            )
    if path.is_dir() and written is None:
        found = sorted(path.iterdir())
        for entry in found:
            unlinked(entry)
        if found:
            raise ArgError(
                "",
                f"{{report}} {literal(path)}: holds files no analysis wrote (such as "
                f"{literal(found[0].name)}), which it will not replace; give a new or empty folder, or one "
                "an earlier {report} wrote",
                ["report"],
            )
    return path


def mark(path: Path) -> Path:
    """Make a report folder checked by check_report, and mark it as the tool's (an empty MANIFEST)."""
    path.mkdir(parents=True, exist_ok=True)
    if not (unlinked(path / MANIFEST)).is_file():
        _write_manifest(path, {})
    return path


def replaceable(path: Path) -> Path:
    """`path`, about to be written: never a link, and in a folder marked with MANIFEST an existing
    file only when the manifest records its present bytes (the tool wrote it, and no one changed it)."""
    unlinked(path)
    written = _manifest(path.parent)
    if written is not None and path.exists() and written.get(path.name) != _digest(path):
        raise UserError(
            f"{path}: exists and was not written by this tool (or was changed since), so it is not "
            "replaced; move it away, or give another folder"
        )
    return path


def wrote(path: Path) -> Path:
    """Record a file just written in its folder's MANIFEST, when it has one, so a later run may replace it."""
    written = _manifest(path.parent)
    if written is not None:
        _write_manifest(path.parent, {**written, path.name: _digest(path)})
    return path


def _manifest(folder: Path) -> dict[str, str] | None:
    """The files a marked folder's MANIFEST records (empty when it is unreadable); None when unmarked."""
    path = unlinked(folder / MANIFEST)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    return {k: v for k, v in files.items() if isinstance(v, str)} if isinstance(files, dict) else {}


def _write_manifest(folder: Path, files: dict[str, str]) -> None:
    """Write a folder's MANIFEST whole (beside, then renamed into place)."""
    path = folder / MANIFEST
    draft = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex}")
    try:
        draft.write_text(
            json.dumps({"written_by": "nas analyze", "files": files}, indent=1), encoding="utf-8"
        )
        os.replace(draft, path)
    finally:
        draft.unlink(missing_ok=True)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
def writing(what: str, *, argument: bool = False) -> Iterator[None]:
    """Run the block; an OS refusal to write becomes one UserError naming `what` (an ArgError when
    it is the name of the argument that chose the place), the file and why."""
    try:
        yield
    except OSError as err:
        where = f" {err.filename}" if err.filename else ""
        if argument:
            raise ArgError(what, f"cannot write{where}: {err.strerror or err}") from None
        raise UserError(f"{what}: cannot write{where}: {err.strerror or err}") from None

"""The sweep's folder: a new one's name and checks, removing one refused before any trial, and
how far an interrupted one got."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from blocks.errors import ArgError, literal
from nas import outputs
from nas.records import store


def interrupted_line(out: Path) -> str:
    """How far an interrupted sweep got, and how to finish it."""
    runs = [d for d in out.iterdir() if d.is_dir() and store.is_run(d)] if out.is_dir() else []
    if not runs:
        return "interrupted before any trial was planned; nothing recorded"
    done = sum(len(store.rows(r)) for r in runs)
    total = sum(store.planned(r) for r in runs)
    return f"interrupted: {done} of {total} trials done; resume the sweep folder {out} to finish"


def default_out(base: Path) -> Path:
    """runs/NAME, or, when an earlier sweep of the name is there, runs/NAME-YYYYmmdd-HHMMSS beside
    it (as Hydra and Ray Tune make a new folder per run), said in a line."""
    if not base.is_dir() or not any(base.iterdir()):
        return base
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out, i = base.with_name(f"{base.name}-{stamp}"), 1
    while out.exists():
        i += 1
        out = base.with_name(f"{base.name}-{stamp}-{i}")
    print(f"{base} holds an earlier sweep (resume that folder to finish it); this one goes to {out}")
    return out


def undo_unstarted(out: Path, made: bool) -> None:
    """Remove the folder of a new sweep that was refused with no trial recorded (its resources
    do not fit, say), so the same command is not then told the folder holds runs; a folder that
    existed before, or holds a row, stays (an interrupted sweep keeps its folder to resume)."""
    runs = [d for d in out.iterdir() if d.is_dir() and store.is_run(d)] if made and out.is_dir() else []
    if made and out.is_dir() and not any(store.rows(r) for r in runs):
        shutil.rmtree(out, ignore_errors=True)


def check_new_out(out: Path) -> None:
    """Refuse a new sweep's folder that is a file, holds runs, or holds anything else (the
    user's own files, which the sweep's files could overwrite), or a path the OS will not make."""
    outputs.folder(str(out), "out")
    if out.exists() and not out.is_dir():
        raise ArgError(
            "", f"{literal(out)}: {{out}} names a file; give a folder for the sweep (new or empty)", ["out"]
        )
    if not out.is_dir() or not [p for p in out.iterdir() if p.name != store.LOCK]:
        return
    if any(store.is_run(d) for d in out.iterdir() if d.is_dir()):
        raise ArgError(
            "",
            f"{literal(out)}: already holds runs; finish it with {{resume}} {literal(out)} or pick another {{out}}",
            ["resume", "out"],
        )
    raise ArgError(
        "",
        f"{literal(out)}: not empty and not a sweep folder; pick a new or empty folder with {{out}}",
        ["out"],
    )

"""The results store of a run: one JSON line per finished trial, appended and fsynced as it
finishes, so rows survive a crash of the driver and can be read while a sweep runs.

A run directory holds `experiment.yaml` (what was asked), `plan.jsonl` (the sampled specs,
one per trial index) and `trials.jsonl` (the rows). `rows` and `plan` give the lines as dicts;
`trial_rows`, `plan_entries` and `append_row` read and write them as typed records.

Integrity: each row is one write on an append-only descriptor, undone when the disk is full
(one line says so); a last line torn by a crash is moved to `trials.jsonl.torn-TIME` before the
next append, so the file stays whole lines; a line that is not a row is named (FILE:LINE) on
stderr and skipped by every reader; and `lock` makes a sweep the only writer of its folder.
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blocks import yamlio
from blocks.errors import UserError
from nas.records.rows import PlanEntry, Status, TrialRow, row_fields

TRIALS, PLAN, EXPERIMENT = "trials.jsonl", "plan.jsonl", "experiment.yaml"
COMPARISON = "comparison.json"  # a sweep's sequential comparison (nas.sweeping.compare), beside its runs
RUNS_LIST = "runs.txt"  # a folder that lists its runs, one path relative to it per line (nas explore)


def append(path: Path, row: dict[str, Any], then: str = "append again") -> None:
    """Append one JSON row as one write and force it to disk: a torn tail left by a crash is
    moved aside first, and a failed write is undone, so the file stays whole lines."""
    line = (json.dumps(row, sort_keys=True, default=_jsonable) + "\n").encode()
    fd = _open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
    try:
        size = os.fstat(fd).st_size
        try:
            size = _mend_tail(path, fd, size)
            _write_all(fd, line)
            os.fsync(fd)
        except OSError as err:
            os.ftruncate(fd, size)
            raise _write_error(path, err, fd, size, then) from None
    finally:
        os.close(fd)


def _open(path: Path, flags: int) -> int:
    """Open a store file without following a symlink planted in its place; refusals in one line."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW, 0o644)
    except OSError as err:
        raise UserError(f"cannot open {path}: {err.strerror}") from None


def _write_all(fd: int, data: bytes) -> None:
    """Write all of `data`: one os.write, more only where the OS takes it in parts."""
    while data:
        data = data[os.write(fd, data) :]


def _write_error(path: Path, err: OSError, fd: int, size: int, then: str) -> UserError:
    """The one line a failed append raises; the file was cut back to its `size` before."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        rows = os.pread(fd, size, 0).count(b"\n")
        return UserError(
            f"disk full writing {path}; the {rows} rows already recorded are intact; free space and {then}"
        )
    return UserError(f"cannot write {path}: {err.strerror}; the rows already recorded are intact")


def _mend_tail(path: Path, fd: int, size: int) -> int:
    """Make the file end on a line break and return its new size: a last line torn by a crash is
    completed when it is whole JSON, else moved to a `.torn-TIME` file beside it, with a warning."""
    if not size or os.pread(fd, 1, size - 1) == b"\n":
        return size
    start = _last_line_start(fd, size)
    fragment = os.pread(fd, size - start, start)
    if _is_object(fragment):
        _write_all(fd, b"\n")
        return size + 1
    aside = path.with_name(f"{path.name}.torn-{time.strftime('%Y%m%d-%H%M%S')}")
    keep = _open(aside, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        _write_all(keep, fragment + b"\n")
        os.fsync(keep)
    finally:
        os.close(keep)
    os.ftruncate(fd, start)
    _warn(f"{path}: torn last line ({size - start} bytes, a crash mid-write) moved to {aside}")
    return start


def _last_line_start(fd: int, size: int) -> int:
    """The offset just past the file's last line break (0 when it has none)."""
    end = size
    while end > 0:
        begin = max(0, end - 65536)
        at = os.pread(fd, end - begin, begin).rfind(b"\n")
        if at >= 0:
            return begin + at + 1
        end = begin
    return 0


def _is_object(text: bytes) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


_warned: set[str] = set()


def _warn(message: str) -> None:
    """One line on stderr, once per process for the same message (readers run many times a sweep)."""
    if message not in _warned:
        _warned.add(message)
        print(f"warning: {message}", file=sys.stderr)


def _object(line: bytes, path: Path, number: int, last: bool = False) -> dict[str, Any] | None:
    """A line of a JSONL file as an object; None, named on stderr, when it is not one (blank lines
    silently). `last`: a bad last line is called torn, as a crash mid-write leaves it."""
    if not line.strip():
        return None
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):  # bad UTF-8 and deep nesting included
        _warn(f"{path}:{number}: {'torn last line' if last else 'not valid JSON'}, skipped")
        return None
    if not isinstance(value, dict):
        _warn(f"{path}:{number}: a JSON {type(value).__name__}, not an object, skipped")
        return None
    return value


def _numbered(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each line of a JSONL file; any other line is named and skipped."""
    if not path.exists():
        return
    lines = path.read_bytes().splitlines()
    for i, line in enumerate(lines, 1):
        value = _object(line, path, i, i == len(lines))
        if value is not None:
            yield i, value


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The objects of a JSONL file; a line that is not one (a torn last line, say) is named and skipped."""
    return [value for _, value in _numbered(path)]


LOCK = ".nas-sweep.lock"


@contextmanager
def lock(path: Path) -> Iterator[None]:
    """Hold the one-writer lock of a sweep folder (a run folder's is its sweep folder's) for the
    block; when another process holds it, refuse at once naming the folder and its PID."""
    folder = path.parent if is_run(path) else path
    folder.mkdir(parents=True, exist_ok=True)
    fd = _open(folder / LOCK, os.O_RDWR | os.O_CREAT)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise UserError(
                f"{folder}: another sweep is writing into it (PID {holder}); wait for it to end or stop it"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def is_run(path: Path) -> bool:
    """Whether a directory is a run directory (it has a plan or trial rows)."""
    return (path / PLAN).exists() or (path / TRIALS).exists()


def find_runs(paths: list[str]) -> list[Path]:
    """Expand each argument into run directories: a run itself, a sweep folder of runs, or a
    folder listing its runs in RUNS_LIST (an exploration: the runs of its accepted path)."""
    out: list[Path] = []
    for arg in paths:
        p = Path(arg)
        if not p.is_dir():
            raise UserError(f"{p}: no such run directory")
        if is_run(p):
            out.append(p)
            continue
        if (p / RUNS_LIST).is_file():
            listed = [p / line.strip() for line in (p / RUNS_LIST).read_text().splitlines() if line.strip()]
            gone = [r for r in listed if not is_run(r)]
            if gone or not listed:
                where = f"{gone[0]} is not a run directory" if gone else "it lists none"
                raise UserError(f"{p / RUNS_LIST}: {where}")
            out.extend(listed)
            continue
        subs = sorted(d for d in p.iterdir() if d.is_dir() and is_run(d))
        if not subs:
            raise UserError(f"{p}: not a run directory (no {TRIALS} or {PLAN} in it or its sub-folders)")
        out.extend(subs)
    return out


_STATUSES = {s.value for s in Status}


def _row_problem(row: dict[str, Any], planned: int | None) -> str:
    """Why an object is not a trial row readers can use ("" when it is one); `planned` is the
    number of trials of a run's plan (indices 0..planned-1), None where it has none (optimize)."""
    for name, (types, required) in row_fields().items():
        value = row.get(name)
        if value is None:
            if required:
                return f"no '{name}'"
        elif (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            return f"'{name}' is {json.dumps(value)[:40]}, not {' or '.join(t.__name__ for t in types)}"
    if row["status"] not in _STATUSES:
        return f"'status' is {row['status']!r}, not one of {', '.join(sorted(_STATUSES))}"
    for name, value in (row.get("complexity") or {}).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
            return f"'complexity' holds a value that is not a finite number from 0 ({name}: {json.dumps(value)[:40]})"
    index = row["trial_index"]
    if index < 0 or (planned is not None and index >= planned):
        legal = "0 or more" if planned is None else f"0..{planned - 1}, the plan's trials"
        return f"'trial_index' is {index}, not {legal}"
    error = row.get("error")
    if error is None and row["status"] == Status.OK:
        return "'status' is 'ok' but it has no 'error'"
    if error is not None and not 0 <= error <= 100:
        return f"'error' is {error!r}, not a percentage from 0 to 100"
    for name in ("wall_time", "epochs"):
        if row.get(name) is not None and not 0 <= row[name] < math.inf:
            return f"'{name}' is {row[name]!r}, not a finite number from 0"
    return _spec_problem(row.get("spec"))


def _spec_problem(spec: dict[str, Any] | None) -> str:
    """Why a row's `spec` is not the shape analysis reads ("" when it is, or when there is none):
    a mapping (empty for a refused draw) whose `stages` is a list of mappings, each with a block
    name, a positive depth and width, and mappings where a part has `params`."""
    stages = (spec or {}).get("stages", [])
    if not isinstance(stages, list):
        return f"'spec.stages' is {json.dumps(stages)[:40]}, not a list of stages"
    for i, stage in enumerate(stages):
        where = f"'spec.stages[{i}]"
        if not isinstance(stage, dict):
            return f"{where}' is {json.dumps(stage)[:40]}, not a mapping"
        if not isinstance(stage.get("block"), str):
            return f"{where}.block' is {json.dumps(stage.get('block'))[:40]}, not a block name"
        for key in ("depth", "width"):
            value = stage.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                return f"{where}.{key}' is {json.dumps(value)[:40]}, not a positive int"
        if not isinstance(stage.get("params", {}), dict):
            return f"{where}.params' is {json.dumps(stage['params'])[:40]}, not a mapping"
    for part in ("stem", "head"):
        if not isinstance((spec or {}).get(part, {}), dict):
            return f"'spec.{part}' is {json.dumps(spec[part])[:40]}, not a mapping"
    return ""


def _plan_size(run: Path) -> int | None:
    """How many trials a run's plan holds (its lines; indices 0..n-1), None when it has none."""
    try:
        n = sum(1 for line in (run / PLAN).read_bytes().splitlines() if line.strip())
    except OSError:
        return None
    return n or None


def _latest(run: Path) -> dict[int, tuple[int, dict[str, Any]]]:
    """Per trial index, the line number and row of its last usable row; other lines are named and skipped."""
    path, planned = run / TRIALS, _plan_size(run)
    latest: dict[int, tuple[int, dict[str, Any]]] = {}
    for line, value in _numbered(path):
        row = _row(value, path, line, planned)
        if row is not None:
            latest[row["trial_index"]] = (line, row)
    return latest


def _row(value: dict[str, Any], path: Path, number: int, planned: int | None) -> dict[str, Any] | None:
    """An object of a trials file as a row readers can use; None, named on stderr, when it is not one."""
    problem = _row_problem(value, planned)
    if problem:
        _warn(f"{path}:{number}: not a trial row ({problem}), skipped")
        return None
    return value


@dataclass
class Follower:
    """A run's rows as they are appended: each `latest` call parses only the whole lines added
    since the last one, so following a run through many rounds reads each row once. A torn
    last line is left for the next call (the next append completes it or moves it aside)."""

    run: Path
    offset: int = 0  # bytes of whole lines read so far
    lines: int = 0
    found: dict[int, TrialRow] = field(default_factory=dict)
    planned: int | None = field(init=False)

    def __post_init__(self) -> None:
        self.planned = _plan_size(self.run)  # written before any row, never changed

    def latest(self) -> dict[int, TrialRow]:
        """Per trial index, its last usable row (`trial_rows` of the run, by index)."""
        path = self.run / TRIALS
        if not path.exists():
            return self.found
        with open(path, "rb") as fh:
            fh.seek(self.offset)
            added = fh.read()
        whole = added[: added.rfind(b"\n") + 1]
        self.offset += len(whole)
        for line in whole.splitlines():
            self.lines += 1
            value = _object(line, path, self.lines)
            row = None if value is None else _row(value, path, self.lines, self.planned)
            if row is not None:
                self.found[row["trial_index"]] = TrialRow.from_dict(row)
        return self.found


def rows(run: Path) -> list[dict[str, Any]]:
    """The trial rows of a run, in the order they finished; the last row wins per trial index."""
    return [row for _, row in _latest(run).values()]


def append_row(run: Path, row: TrialRow) -> None:
    """Record one finished trial of a run; a full disk names how to finish the sweep later."""
    append(run / TRIALS, row.to_dict(), then=f"resume with `nas sweep --resume {run.parent}`")


def trial_rows(run: Path) -> list[TrialRow]:
    """The trial rows of a run as records (see `rows`: a line that is not a row is named and skipped)."""
    return [TrialRow.from_dict(row) for row in rows(run)]


def plan_entries(run: Path) -> list[PlanEntry]:
    """The planned trials of a run as records."""
    return [_typed(PlanEntry, entry, run / PLAN) for entry in plan(run)]


def _typed(record: type, data: dict[str, Any], path: Path) -> Any:
    try:
        return record.from_dict(data)
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"{path}: trial {data.get('trial_index')}: not a {record.__name__} ({err})") from None


def plan(run: Path) -> list[dict[str, Any]]:
    """The planned trials of a run (index, seed, spec, drawn values)."""
    return read_jsonl(run / PLAN)


def planned(run: Path) -> int:
    """How many trials a run was asked for: its plan (sample mode) or its samples (optimize),
    or as many as its sweep's decided comparison used (the rest were never to run)."""
    return within_comparison(run, len(plan(run)) or int(experiment(run).get("samples", 0)))


def within_comparison(run: Path, asked: int) -> int:
    """`asked` trials of a run, capped at the models per space its sweep's comparison uses."""
    return min(asked, compared(run) or asked)


def compared(run: Path) -> int | None:
    """Models per space the sweep's comparison asks of a run (its budget until decided), or None."""
    path = run.parent / COMPARISON
    try:
        return int(json.loads(path.read_text(encoding="utf-8"))["models_per_space"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def experiment(run: Path) -> dict[str, Any]:
    """The experiment mapping a run was started with."""
    path = run / EXPERIMENT
    if not path.exists():
        return {}
    data = yamlio.read(path) or {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected the mapping of fields the run was started with, got {data!r:.60}")
    return data


def design_space(experiment: dict[str, Any], run: str) -> str:
    """The design space a run drew from: the experiment's space labelled `run`, else `run` itself."""
    spaces = experiment.get("spaces") or []
    return next((s["name"] for s in spaces if isinstance(s, dict) and s.get("label") == run), run)

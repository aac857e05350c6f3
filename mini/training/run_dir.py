"""A run directory belongs to one run.

``run.json`` in the folder names the run (a random id, when it started, the command). Reusing a
folder that holds another run would mix two runs' checkpoints and metrics, so it is refused
with a message saying what to do: ``overwrite=True`` (the examples' ``--overwrite``) clears the
folder first, resuming continues the run it holds, anything else should go to a new folder.
Folders written before ``run.json`` existed are adopted when resumed from.

Only a run folder (one with ``run.json``) is ever cleared, and only of the files our runs write
there (:data:`RUN_OUTPUTS`); anything else in it stays. A folder with other files is refused
whatever the flags. While a process uses a folder it holds its lock (:mod:`run_lock`), so a
second writer is refused with a message naming the first.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from mini.atomic import remove_stale_temp_files, write_text
from mini.training import run_lock
from mini.training.run_lock import LOCK_FILE, RunLockedError

log = logging.getLogger(__name__)

RUN_FILE = "run.json"

# What our runs write in a run folder (file name patterns); ``--overwrite`` removes only these.
RUN_OUTPUTS = (
    RUN_FILE, LOCK_FILE, "metrics.jsonl", "summary.json", "schedule.png", "phase-history.png",
    "latest.png", "latent-evolution.mp4", "codebook-evolution.mp4", "assignment.mp4",
    "codebook-health.png", "reconstructions.png", "assignment-*.png", "explored-run*-step*.csv",
    ".*.tmp*",
)  # fmt: skip
CHECKPOINT_OUTPUTS = ("step-*.pt", "phase-end-*.pt", "fault-*.pt", "best.pt", ".*.tmp*")
EXPLORER_RUNS = "run-*"  # the explorer's runs: run folders inside a run folder


class RunDirError(RuntimeError):
    """The output folder cannot be used for this run (it holds another one, or files that are
    not a run's, or another process writes it)."""


@dataclass(frozen=True)
class RunDir:
    """A claimed output folder and the id of the run that owns it. ``fresh``: the folder was
    empty when claimed (a resumed run may then adopt its checkpoint's run id).

    Attributes:
        path: the folder.
        run_id: the id of the run that owns it (in ``run.json``).
        fresh: the folder was empty when claimed.
    """

    path: Path
    run_id: str
    fresh: bool = False

    def __fspath__(self) -> str:
        return str(self.path)

    def __truediv__(self, other: str) -> Path:
        return self.path / other


def read_run_id(folder: str | os.PathLike[str]) -> str | None:
    """The id in ``folder/run.json``, or ``None`` (no file, or unreadable)."""
    try:
        return str(json.loads((Path(folder) / RUN_FILE).read_text(encoding="utf-8"))["run_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def claim_run_dir(
    folder: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    resume_run_id: str | None = None,
    resuming: bool = False,
) -> RunDir:
    """Make ``folder`` this run's output folder and return it.

    - empty or missing: a new run (``run.json`` written);
    - holds the run being resumed (``resume_run_id`` matches, or ``resuming`` from inside it):
      the same run continues;
    - holds anything else: :class:`RunDirError`, unless ``overwrite`` (then it is emptied).
    """
    path = Path(folder)
    try:
        run_lock.check(path)  # a folder another process writes: say so before anything else
    except RunLockedError as e:
        raise RunDirError(str(e)) from None
    existing = read_run_id(path)
    if resuming and existing is not None and resume_run_id in (None, existing):
        _lock(path)
        _sweep(path)
        return RunDir(path, existing)
    if resuming and existing is None and resume_run_id is not None and _only_run_outputs(path):
        _lock(path)
        return _write(path, resume_run_id)  # adopt a folder written before run.json existed
    if _has_content(path):
        if existing is None:
            raise RunDirError(_foreign(path, overwrite))
        if not overwrite:
            raise RunDirError(_refusal(path, existing, resume_run_id, resuming))
        _lock(path)
        kept = clear_run_outputs(path)
        if kept:
            log.info("--overwrite kept what runs do not write: %s", ", ".join(kept[:10]))
    else:
        path.mkdir(parents=True, exist_ok=True)
        _lock(path)
    return _write(path, resume_run_id or uuid.uuid4().hex[:12], fresh=True)


def _lock(path: Path) -> None:
    try:
        run_lock.acquire(path)
    except RunLockedError as e:
        raise RunDirError(str(e)) from None


def _has_content(path: Path) -> bool:
    """Anything in ``path`` besides a lock file (a stale lock alone leaves it empty)."""
    return path.exists() and any(p.name != LOCK_FILE for p in path.iterdir())


def _sweep(path: Path) -> None:
    """Temp files of writers killed mid-write (checkpoints, metrics, summaries) go on resume."""
    for folder in (path, path / "checkpoints"):
        for stale in remove_stale_temp_files(folder):
            log.info("removed %s, left by a write that was interrupted", stale)


def _only_run_outputs(path: Path) -> bool:
    """A folder a resumed run may adopt: an old run folder, or only files runs write."""
    return path.is_dir() and (
        (path / "checkpoints").is_dir()
        or all(p.is_file() and _matches(p.name, RUN_OUTPUTS) for p in path.iterdir())
    )


def adopt_run_id(run: RunDir, run_id: str) -> RunDir:
    """A fresh folder taken over by a resumed run keeps the checkpoint's run id."""
    if not run.fresh:
        raise RunDirError(f"{run.path} already belongs to run {run.run_id}")
    return _write(run.path, run_id)


def _write(path: Path, run_id: str, fresh: bool = False) -> RunDir:
    path.mkdir(parents=True, exist_ok=True)
    info = {
        "run_id": run_id,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "",
    }
    write_text(path / RUN_FILE, json.dumps(info, indent=2) + "\n")
    return RunDir(path, run_id, fresh)


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def clear_run_outputs(path: Path) -> list[str]:
    """Remove what our runs write in the run folder ``path`` (never anything else; this
    process's lock stays); returns the names of what was kept."""
    kept: list[str] = []
    for child in sorted(path.iterdir()):
        if child.is_symlink():
            kept.append(child.name)
        elif child.is_dir():
            if child.name == "checkpoints":
                _remove_matching(child, CHECKPOINT_OUTPUTS, kept, prefix="checkpoints/")
            elif child.name == "schedules":  # --watch's copies of adopted edits
                _remove_matching(child, ("step-*.csv", ".*.tmp*"), kept, prefix="schedules/")
            elif fnmatch.fnmatchcase(child.name, EXPLORER_RUNS) and read_run_id(child):
                kept += [f"{child.name}/{k}" for k in clear_run_outputs(child)]
                _remove_if_empty(child)
            else:
                kept.append(child.name + "/")
        elif child.name == LOCK_FILE and run_lock.held(path):
            continue
        elif _matches(child.name, RUN_OUTPUTS):
            child.unlink()
        else:
            kept.append(child.name)
    return kept


def _remove_matching(folder: Path, patterns: tuple[str, ...], kept: list[str], prefix: str) -> None:
    for child in sorted(folder.iterdir()):
        if child.is_file() and not child.is_symlink() and _matches(child.name, patterns):
            child.unlink()
        else:
            kept.append(prefix + child.name)
    _remove_if_empty(folder)


def _remove_if_empty(folder: Path) -> None:
    if not any(folder.iterdir()):
        folder.rmdir()


def _foreign(path: Path, overwrite: bool) -> str:
    names = sorted(p.name for p in path.iterdir() if p.name != LOCK_FILE)
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    flag = " (--overwrite only ever clears a run folder, one with run.json)" if overwrite else ""
    return (
        f"{path} is not empty and is not a run folder: it holds {shown}. Nothing was changed"
        f"{flag}. Choose another --out folder (a new or empty one)"
    )


def _refusal(path: Path, existing: str | None, resume_run_id: str | None, resuming: bool) -> str:
    if resuming and existing is not None:
        return (
            f"{path} holds run {existing}, but the checkpoint belongs to run {resume_run_id}: "
            "resume into the folder of the run the checkpoint came from, or pass a new --out"
        )
    what = f"another run ({existing})" if existing else "files from something else"
    started = _started(path)
    return (
        f"{path} is not empty: it holds {what}{started}. Reusing it would mix two runs' "
        f"checkpoints and metrics. Pass --overwrite to replace it, --resume {path} to continue "
        "it, or choose another --out folder"
    )


def _started(path: Path) -> str:
    try:
        info = json.loads((path / RUN_FILE).read_text(encoding="utf-8"))
        return f", started {info['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


LATEST = "latest"


def new_run_folder(base: str | os.PathLike[str], date: str | None = None) -> Path:
    """Create and return a new, empty folder ``base/<date>-<n>`` (``n`` = 1, 2, ...: the first
    free one, safe against concurrent runs) and point ``base/latest`` at it, so that a command
    without an explicit output folder can be run again and again. A ``latest`` that is not a
    link (a user's file) is left alone."""
    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    date = date or time.strftime("%Y-%m-%d")
    taken = [p.name for p in base.glob(f"{date}-*")]
    n = 1 + max(
        (int(t.rsplit("-", 1)[1]) for t in taken if t.rsplit("-", 1)[1].isdigit()), default=0
    )
    while True:
        folder = base / f"{date}-{n}"
        try:
            folder.mkdir()
            break
        except FileExistsError:
            n += 1
    link = base / LATEST
    if link.is_symlink() or not link.exists():
        tmp = base / f".{LATEST}.{os.getpid()}.tmp"
        try:
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(folder.name, target_is_directory=True)
            os.replace(tmp, link)
        except OSError as e:  # no symlinks here (some file systems): the printed path will do
            log.debug("cannot point %s at %s: %s", link, folder, e)
            tmp.unlink(missing_ok=True)
    return folder


def run_folder_of(checkpoint: str | os.PathLike[str]) -> Path:
    """The run folder that a ``--resume`` path (a run folder, its ``checkpoints/`` or a file
    in it) belongs to."""
    path = Path(checkpoint)
    if not path.is_dir():
        path = path.parent
    return path.parent if path.name == "checkpoints" else path

"""A run directory belongs to one run.

``run.json`` in the folder names the run (a random id, when it started, the command). Reusing a
folder that holds another run would mix two runs' checkpoints and metrics, so it is refused
with a message saying what to do: ``overwrite=True`` (the examples' ``--overwrite``) clears the
folder first, resuming continues the run it holds, anything else should go to a new folder.
Folders written before ``run.json`` existed are adopted when resumed from.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from mini.atomic import remove_stale_temp_files, write_text

log = logging.getLogger(__name__)

RUN_FILE = "run.json"


class RunDirError(RuntimeError):
    """The output folder cannot be used for this run (it holds another one)."""


@dataclass(frozen=True)
class RunDir:
    """A claimed output folder and the id of the run that owns it. ``fresh``: the folder was
    empty when claimed (a resumed run may then adopt its checkpoint's run id)."""

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
    existing = read_run_id(path)
    if resuming and existing is not None and resume_run_id in (None, existing):
        _sweep(path)
        return RunDir(path, existing)
    if resuming and existing is None and resume_run_id is not None and _only_run_outputs(path):
        return _write(path, resume_run_id)  # adopt a folder written before run.json existed
    if path.exists() and any(path.iterdir()):
        if not overwrite:
            raise RunDirError(_refusal(path, existing, resume_run_id, resuming))
        _clear(path)
    return _write(path, resume_run_id or uuid.uuid4().hex[:12], fresh=True)


def _sweep(path: Path) -> None:
    """Temp files of writers killed mid-write (checkpoints, metrics, summaries) go on resume."""
    for folder in (path, path / "checkpoints"):
        for stale in remove_stale_temp_files(folder):
            log.info("removed %s, left by a write that was interrupted", stale)


def _only_run_outputs(path: Path) -> bool:
    return path.is_dir() and (path / "checkpoints").is_dir()


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


def _clear(path: Path) -> None:
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


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

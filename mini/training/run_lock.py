"""One writer per run folder: ``run.lock`` names the process that writes it.

Two processes writing one folder interleave ``metrics.jsonl`` and mix their checkpoints, so a
folder is locked for as long as the process that claimed it lives. The lock file records the
host, the process id and that process's start time. It is stale (and taken over) only when it
was written on this host and that process is gone, or the id now belongs to a newer process; a
lock from another host sharing the file system is never guessed stale — the message names the
holder and says how to release it by hand once that process is known to be gone.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mini.atomic import process_alive

LOCK_FILE = "run.lock"


class RunLockedError(RuntimeError):
    """Another live process writes this run folder."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: host, process id, that process's start time, when and what."""

    host: str
    pid: int
    pid_start: str | None
    since: str
    command: str

    def describe(self) -> str:
        return f"process {self.pid} on {self.host} (since {self.since}: {self.command or '?'})"


_held: dict[Path, str] = {}  # lock files this process holds -> their content


def process_start(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (``/proc``), or ``None`` where
    that cannot be read: with the pid it tells a process from a later one reusing the id."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def me() -> Holder:
    pid = os.getpid()
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else ""
    return Holder(
        socket.gethostname(), pid, process_start(pid), time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        command[:200],
    )  # fmt: skip


def read_holder(path: Path) -> Holder | None:
    """The holder recorded in ``path``, or ``None`` if it is missing or unreadable."""
    try:
        info: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return Holder(
            str(info["host"]), int(info["pid"]), info.get("pid_start"), str(info.get("since")),
            str(info.get("command", "")),
        )  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_stale(holder: Holder) -> bool:
    """Only a lock written on this host can be known stale: its process is gone or replaced."""
    if holder.host != socket.gethostname():
        return False
    if not process_alive(holder.pid):
        return True
    now = process_start(holder.pid)
    return holder.pid_start is not None and now is not None and now != holder.pid_start


def _ours(holder: Holder | None) -> bool:
    return (
        holder is not None
        and holder.host == socket.gethostname()
        and holder.pid == os.getpid()
        and holder.pid_start == process_start(os.getpid())
    )


def acquire(folder: str | os.PathLike[str]) -> Path:
    """Lock ``folder`` (which must exist) for this process until it exits or :func:`release`.
    Re-entrant within a process. :class:`RunLockedError` naming the holder if another live
    process (or one on another host) holds it."""
    path = Path(folder).resolve() / LOCK_FILE
    for _ in range(20):
        if path in _held and _ours(read_holder(path)):
            return path
        mine = me()
        text = json.dumps(mine.__dict__, indent=2) + "\n"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = read_holder(path)
            if holder is None:  # being written by its holder this instant, or garbage
                if time.time() - _mtime(path) > 10:
                    _take_over(path, None)
                else:
                    time.sleep(0.05)
                continue
            if _ours(holder):
                _held[path] = path.read_text(encoding="utf-8")
                return path
            if is_stale(holder):
                _take_over(path, holder)
                continue
            raise RunLockedError(_message(Path(folder), path, holder)) from None
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        _held[path] = text
        return path
    raise RunLockedError(f"cannot lock {folder}: {path} keeps changing; is another run starting?")


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def _take_over(path: Path, holder: Holder | None) -> None:
    """Remove a stale lock so that exactly one contender creates the next one: the lock is moved
    aside first (a rename succeeds for one process only) and removed only if it still names the
    stale holder."""
    aside = path.with_name(f".{LOCK_FILE}.{os.getpid()}.stale")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    if holder is not None and read_holder(aside) != holder:  # a fresh lock: put it back
        with contextlib.suppress(OSError):
            os.link(aside, path)
    with contextlib.suppress(OSError):
        aside.unlink()


def _message(folder: Path, path: Path, holder: Holder) -> str:
    here = holder.host == socket.gethostname()
    gone = (
        "wait for it to finish or stop it"
        if here
        else f"wait for it to finish; if that process is gone (it ran on {holder.host}, so this "
        f"machine cannot check), delete {path}"
    )
    return (
        f"{folder} is in use by another run: {holder.describe()} writes it. Two processes "
        f"writing one run folder would mix their metrics and checkpoints: {gone}, or choose "
        "another --out folder"
    )


def check(folder: str | os.PathLike[str]) -> None:
    """:class:`RunLockedError` naming the holder if another live process (or one on another
    host) holds ``folder``'s lock; read-only, so it can come before any other check."""
    path = Path(folder) / LOCK_FILE
    holder = read_holder(path)
    if holder is not None and not _ours(holder) and not is_stale(holder):
        raise RunLockedError(_message(Path(folder), path, holder))


def release(folder: str | os.PathLike[str]) -> None:
    """Give up this process's lock on ``folder`` (if it still holds it)."""
    path = Path(folder).resolve() / LOCK_FILE
    text = _held.pop(path, None)
    if text is None:
        return
    with contextlib.suppress(OSError):
        if path.read_text(encoding="utf-8") == text:
            path.unlink()


def held(folder: str | os.PathLike[str]) -> bool:
    """Whether this process holds the lock of ``folder``."""
    return Path(folder).resolve() / LOCK_FILE in _held


@atexit.register
def _release_all() -> None:
    for path in list(_held):
        release(path.parent)

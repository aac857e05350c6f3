"""Atomic file output: write to a temp file beside the target, fsync, then rename.

A run that is killed mid-write never leaves a truncated file under the final name; the old file
(if any) stays until the new one is complete. No third-party imports, so every layer can use it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


class OutputError(OSError):
    """Writing an output failed; the message names the file and the cause in plain words."""


def describe_os_error(error: OSError, path: str | os.PathLike[str]) -> str:
    """``"no space left on device writing out/x.pt"`` style text for an ``OSError``."""
    if error.errno == errno.ENOSPC:
        return f"no space left on device writing {path}"
    if error.errno == errno.EDQUOT:
        return f"disk quota exceeded writing {path}"
    if error.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied writing {path}"
    if error.errno == errno.EROFS:
        return f"read-only file system: cannot write {path}"
    return f"cannot write {path}: {error.strerror or error}"


def temp_path(path: Path) -> Path:
    """The temp name used while ``path`` is written (hidden, per process, same folder)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")


_TEMP_NAME = re.compile(r"^\..+\.(\d+)\.tmp(\.[^.]*)?$")


def remove_stale_temp_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the temp files that writers killed mid-write (``kill -9``, a crash) left in
    ``folder``: :func:`temp_path` names whose process is gone. Returns what was removed."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for p in folder.iterdir():
        m = _TEMP_NAME.match(p.name)
        if m is None or not p.is_file() or process_alive(int(m.group(1))):
            continue
        with contextlib.suppress(OSError):
            p.unlink()
            removed.append(p)
    return removed


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (ours always does)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: str = "w", *, encoding: str | None = "utf-8"
) -> Iterator[IO[Any]]:
    """``with atomic_write(p) as f: f.write(...)`` — ``p`` appears only once complete.

    ``mode`` is ``"w"`` (text) or ``"wb"`` (bytes). On any error the temp file is removed and the
    error re-raised; an ``OSError`` becomes :class:`OutputError` with a plain message
    (``no space left on device writing ...``).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    tmp = temp_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OutputError:
        raise
    except OSError as e:
        raise OutputError(e.errno, describe_os_error(e, path)) from e
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_write(path, "w") as f:
        f.write(text)
    return Path(path)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, "wb") as f:
        f.write(data)
    return Path(path)

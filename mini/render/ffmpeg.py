"""Running ffmpeg as an encoder process, and turning its failures into one clear error.

imageio-ffmpeg finds the binary (``IMAGEIO_FFMPEG_EXE``, its bundled build, or the system one)
but its ``write_frames`` lets ffmpeg's stderr go straight to the terminal and ignores the exit
code, so a broken ffmpeg shows up as a bare ``BrokenPipeError``. Here ffmpeg runs under our own
``Popen``: a thread keeps the last lines of its stderr, and any failure (cannot start, dies
mid-stream, exits non-zero, disk full) becomes a :class:`VideoError` that names the executable,
its exit code, what it printed and what to try.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import imageio_ffmpeg

from mini.atomic import OutputError, describe_os_error

log = logging.getLogger(__name__)

_HEAD_LINES, _TAIL_LINES = 4, 8  # ffmpeg's stderr quoted in an error: the cause is usually
# in its first lines, the consequence in its last


class VideoError(OutputError):
    """Writing a video failed (ffmpeg missing, crashed, or could not write its output).

    The message says which ffmpeg ran, how it ended, the last lines it printed and what to try;
    ``errno`` is ``ENOSPC`` when the disk filled up. Also an :class:`~mini.atomic.OutputError`
    (an ``OSError``), so code that guards every output against ``OSError`` catches it too.
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path,
        executable: str,
        returncode: int | None = None,
        stderr: Sequence[str] = (),
        error_number: int | None = None,
    ):
        super().__init__(message)
        self.errno = error_number
        self.path = path
        self.executable = executable
        self.returncode = returncode
        self.stderr = tuple(stderr)


def ffmpeg_executable(path: Path) -> str:
    """The ffmpeg imageio-ffmpeg would use (``IMAGEIO_FFMPEG_EXE`` first); a
    :class:`VideoError` (for writing ``path``) if there is none."""
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as e:
        raise VideoError(
            f"no ffmpeg found to write {path} ({e}).\nWhat to try: reinstall imageio-ffmpeg "
            "(pip install --force-reinstall imageio-ffmpeg), which bundles one, or set "
            "IMAGEIO_FFMPEG_EXE to an ffmpeg executable; or skip the video.",
            path=path,
            executable="",
        ) from e


class FFmpegProcess:
    """One ffmpeg reading raw frames on stdin; its stderr's last lines are kept for errors."""

    def __init__(self, executable: str, args: Sequence[str]):
        self.executable = executable
        self.proc = subprocess.Popen(
            [executable, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            # Its own process group: Ctrl-C reaches Python, which then stops ffmpeg itself
            # (instead of ffmpeg dying first and the write failing with a broken pipe).
            process_group=0,
        )
        self._head: list[str] = []
        self._tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
        self._lines = 0
        assert self.proc.stderr is not None
        self._reader = threading.Thread(
            target=self._read_stderr, args=(self.proc.stderr,), daemon=True, name="ffmpeg-stderr"
        )
        self._reader.start()

    def _read_stderr(self, stream: IO[bytes]) -> None:
        for raw in stream:
            for line in raw.decode("utf-8", "replace").replace("\r", "\n").splitlines():
                if not line.strip():
                    continue
                self._lines += 1
                if len(self._head) < _HEAD_LINES:
                    self._head.append(line.rstrip())
                else:
                    self._tail.append(line.rstrip())

    def write(self, data: memoryview) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)

    def finish(self) -> int:
        """Close ffmpeg's input, wait for it to exit; returns its exit code."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):  # it may already be gone: the exit code says
                self.proc.stdin.close()
        code = self.proc.wait()
        self._reader.join(timeout=5)
        if self.proc.stderr is not None and not self._reader.is_alive():
            self.proc.stderr.close()
        return code

    def kill(self) -> None:
        """Stop ffmpeg now (its output is about to be thrown away)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.finish()

    def stderr_lines(self) -> list[str]:
        """What ffmpeg printed: its first and last lines, with ``…`` for any left out."""
        self._reader.join(timeout=5)
        skipped = self._lines - len(self._head) - len(self._tail)
        return [*self._head, *(["…"] if skipped > 0 else []), *self._tail]


def start_error(path: Path, executable: str, error: OSError) -> VideoError:
    """ffmpeg could not be started at all (missing, not executable)."""
    why = error.strerror or str(error)
    return VideoError(
        f"cannot start ffmpeg {executable!r} to write {path}: {why}.\n{_advice(None)}",
        path=path,
        executable=executable,
        error_number=error.errno,
    )


def output_error(path: Path, executable: str, error: OSError) -> VideoError:
    """Our side of the output failed (folder not creatable, temp file, rename)."""
    return VideoError(
        f"{describe_os_error(error, path)}.\n{_advice(error.errno)}",
        path=path,
        executable=executable,
        error_number=error.errno,
    )


def process_error(
    path: Path, ffmpeg: FFmpegProcess, returncode: int, frames: int, total: int | None
) -> VideoError:
    """ffmpeg ended badly: how it ended, its last lines of output, what to try."""
    tail = ffmpeg.stderr_lines()
    text = "\n".join(tail).lower()
    number = None
    if "no space left on device" in text:
        number = errno.ENOSPC
    elif "disk quota exceeded" in text:
        number = errno.EDQUOT
    elif "permission denied" in text:
        number = errno.EACCES
    elif "read-only file system" in text:
        number = errno.EROFS
    of = f" of {total}" if total is not None else ""
    ended = _how_it_ended(returncode) if returncode else "exited with code 0 but wrote no video"
    what = f"ffmpeg {ffmpeg.executable!r} {ended} after {frames}{of} frames"
    if number is not None:
        head = f"{describe_os_error(OSError(number, os.strerror(number)), path)} ({what})"
    else:
        head = f"ffmpeg failed writing {path}: {what}"
    printed = (
        "It printed:\n" + "\n".join(f"    {line}" for line in tail)
        if tail
        else "It printed nothing."
    )
    return VideoError(
        f"{head}.\n{printed}\n{_advice(number)}",
        path=path,
        executable=ffmpeg.executable,
        returncode=returncode,
        stderr=tail,
        error_number=number,
    )


def _how_it_ended(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name} (exit code {returncode})"
    return f"exited with code {returncode}"


def _advice(number: int | None) -> str:
    if number in (errno.ENOSPC, errno.EDQUOT):
        return "What to try: free some disk space, or write the video to another folder."
    if number in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "What to try: write the video to a folder you can write to."
    override = os.environ.get("IMAGEIO_FFMPEG_EXE")
    first = (
        f"unset IMAGEIO_FFMPEG_EXE (it is set to {override!r}) so imageio-ffmpeg's own "
        "ffmpeg is used"
        if override
        else "reinstall imageio-ffmpeg (pip install --force-reinstall imageio-ffmpeg)"
    )
    return f"What to try: {first}; check that the disk has free space; or skip the video."

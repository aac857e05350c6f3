"""The streaming MP4 writer: decodable output, exact frame count and size, atomic on failure."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from mini.render import VideoError, VideoWriter, count_frames, iter_frames, probe

W, H = 96, 64


def solid(level: int, channels: int = 4) -> np.ndarray:
    frame = np.full((H, W, channels), level, dtype=np.uint8)
    if channels == 4:
        frame[..., 3] = 255
    return frame


def test_writes_decodable_mp4_with_expected_frames_and_size(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    levels = [0, 60, 120, 180, 240, 30, 90]
    with VideoWriter(path, (W, H), fps=12, progress=False) as video:
        for level in levels:
            video.write(solid(level))
    info = probe(path)
    assert (info.frames, info.width, info.height) == (len(levels), W, H)
    assert info.fps == pytest.approx(12)
    assert count_frames(path) == len(levels)
    decoded = [frame.mean() for frame in iter_frames(path)]
    assert decoded == pytest.approx(levels, abs=4)  # lossy, but each frame is its own
    assert sorted(os.listdir(tmp_path)) == ["clip.mp4"]  # no temp file left behind


def test_rgb24_frames_and_buffer_objects(tmp_path: Path) -> None:
    path = tmp_path / "rgb.mp4"
    red = np.zeros((H, W, 3), dtype=np.uint8)
    red[..., 0] = 220
    with VideoWriter(path, (W, H), pix_fmt="rgb24", progress=False) as video:
        video.write(red)
        video.write(memoryview(red.tobytes()))
        video.write(red.tobytes())
    frames = list(iter_frames(path))
    assert len(frames) == 3
    mean = frames[1].reshape(-1, 3).mean(axis=0)
    assert mean[0] > 180 and mean[1] < 40 and mean[2] < 40


def test_exception_mid_write_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError, match="boom"), VideoWriter(path, (W, H)) as video:
        for i in range(5):
            video.write(solid(10 * i))
        raise RuntimeError("boom")
    assert not path.exists()
    assert os.listdir(tmp_path) == []


def test_failure_keeps_the_previous_video(tmp_path: Path) -> None:
    path = tmp_path / "video.mp4"
    with VideoWriter(path, (W, H)) as video:
        for _ in range(3):
            video.write(solid(100))
    with pytest.raises(KeyboardInterrupt), VideoWriter(path, (W, H)) as video:
        video.write(solid(200))
        raise KeyboardInterrupt
    assert count_frames(path) == 3
    assert os.listdir(tmp_path) == ["video.mp4"]


def test_wrong_frame_shape_is_an_error_and_aborts(tmp_path: Path) -> None:
    path = tmp_path / "bad.mp4"
    with pytest.raises(ValueError, match="frame must be"), VideoWriter(path, (W, H)) as video:
        video.write(solid(0))
        video.write(np.zeros((H, W + 2, 4), dtype=np.uint8))
    assert os.listdir(tmp_path) == []


def test_no_frames_saves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    with pytest.raises(ValueError, match="no frames"), VideoWriter(path, (W, H)):
        pass
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("size", [(95, 64), (96, 63), (0, 64)])
def test_rejects_odd_or_empty_sizes(tmp_path: Path, size: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="even"):
        VideoWriter(tmp_path / "x.mp4", size)


def test_write_before_open_is_an_error(tmp_path: Path) -> None:
    video = VideoWriter(tmp_path / "x.mp4", (W, H))
    with pytest.raises(RuntimeError, match="not open"):
        video.write(solid(0))


def test_creates_parent_directories_and_counts_time(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "clip.mp4"
    with VideoWriter(path, (W, H), progress=False) as video:
        for level in (0, 255):
            video.write(solid(level))
    assert video.frames_written == 2
    assert video.write_seconds > 0
    assert count_frames(path) == 2


def test_progress_bar_reports_to_stderr(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    path = tmp_path / "shown.mp4"
    with VideoWriter(path, (W, H), total=2, progress=True, description="demo-video") as video:
        video.write(solid(0))
        video.write(solid(1))
    assert "demo-video" in capfd.readouterr().err


def test_progress_is_quiet_when_not_a_terminal(
    tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    with VideoWriter(tmp_path / "quiet.mp4", (W, H), description="quiet-video") as video:
        video.write(solid(0))
    assert "quiet-video" not in capfd.readouterr().err


def test_probe_rejects_a_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, (W, H)) as video:
        for level in range(0, 250, 10):
            video.write(solid(level))
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises((OSError, RuntimeError)):
        probe(cut)


def test_video_gets_ordinary_file_permissions(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, (W, H)) as video:
        video.write(solid(0))
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert path.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


@pytest.mark.parametrize("n_frames", [1, 40])  # ffmpeg fails at close / while we still write
def test_ffmpeg_failure_is_an_error_and_leaves_nothing(tmp_path: Path, n_frames: int) -> None:
    path = tmp_path / "clip.mp4"
    bad = VideoWriter(path, (W, H), preset="no-such-preset")
    with pytest.raises(VideoError, match="invalid preset 'no-such-preset'"), bad as video:
        for _ in range(n_frames):
            video.write(solid(0))
    assert os.listdir(tmp_path) == []


# -- ffmpeg failures: one clear VideoError, nothing half-written, the previous video kept -------


def good_video(path: Path, frames: int = 3) -> bytes:
    with VideoWriter(path, (W, H)) as video:
        for _ in range(frames):
            video.write(solid(100))
    return path.read_bytes()


def fake_ffmpeg(tmp_path: Path, *, frames: int, code: int, stderr: str) -> Path:
    """An executable that creates its output file, reads ``frames`` frames, prints ``stderr``
    and exits with ``code`` (ffmpeg dying mid-stream, or at the end when ``frames`` is large)."""
    script = tmp_path / "bin" / "ffmpeg"
    script.parent.mkdir()
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "open(sys.argv[-1], 'wb').write(b'partial mp4')\n"
        f"for _ in range({frames}):\n"
        f"    if len(sys.stdin.buffer.read({W * H * 4})) < {W * H * 4}:\n"
        "        break\n"
        f"sys.stderr.write({stderr!r})\n"
        f"sys.exit({code})\n"
    )
    script.chmod(0o755)
    return script


def write_frames(path: Path, n: int) -> None:
    with VideoWriter(path, (W, H), total=n) as video:
        for i in range(n):
            video.write(solid(i % 250))


def test_bin_false_as_ffmpeg_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    path = out / "clip.mp4"
    before = good_video(path)
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", "/bin/false")
    with pytest.raises(VideoError) as caught:
        write_frames(path, 40)
    message = str(caught.value)
    assert "'/bin/false' exited with code 1" in message
    assert str(path) in message
    assert "printed nothing" in message
    assert "unset IMAGEIO_FFMPEG_EXE" in message
    assert isinstance(caught.value, OSError)
    assert caught.value.returncode == 1 and caught.value.executable == "/bin/false"
    assert path.read_bytes() == before  # the previous video is untouched
    assert os.listdir(out) == ["clip.mp4"]  # no temp file left


def test_missing_ffmpeg_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(tmp_path / "no-such-ffmpeg"))
    with pytest.raises(
        VideoError, match=r"cannot start ffmpeg .*no-such-ffmpeg(.|\n)*unset IMAGEIO"
    ):
        write_frames(tmp_path / "clip.mp4", 2)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("dies_after", [3, 1000])  # mid-stream / when told to finish
def test_ffmpeg_dying_names_its_exit_code_and_last_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dies_after: int
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    path = out / "clip.mp4"
    before = good_video(path)
    noise = "".join(f"frame {i} encoded\n" for i in range(30))
    fake = fake_ffmpeg(tmp_path, frames=dies_after, code=3, stderr=noise + "encoder died: boom\n")
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(fake))
    with pytest.raises(VideoError) as caught:
        write_frames(path, 20)
    message = str(caught.value)
    assert f"{str(fake)!r} exited with code 3 after" in message
    assert "encoder died: boom" in message.splitlines()[-2]  # its last line, just before advice
    assert "frame 0 encoded" in message  # and its first
    assert "frame 15 encoded" not in message and "…" in message  # not all 30 lines
    assert caught.value.returncode == 3
    assert path.read_bytes() == before
    assert os.listdir(out) == ["clip.mp4"]  # the fake's partial output was removed


def test_disk_full_in_ffmpeg_is_reported_in_plain_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out" / "clip.mp4"
    stderr = "[out#0/mp4] Error writing trailer: No space left on device\n"
    fake = fake_ffmpeg(tmp_path, frames=2, code=1, stderr=stderr)
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(fake))
    with pytest.raises(VideoError) as caught:
        write_frames(path, 10)
    assert str(caught.value).startswith(f"no space left on device writing {path}")
    assert "free some disk space" in str(caught.value)
    assert caught.value.errno == errno.ENOSPC
    assert os.listdir(path.parent) == []


def test_ffmpeg_killed_mid_stream(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    video = VideoWriter(path, (W, H)).open()
    video.write(solid(0))
    assert video._ffmpeg is not None
    video._ffmpeg.proc.kill()
    with pytest.raises(VideoError, match="killed by SIGKILL"):
        for _ in range(50):  # the pipe buffer takes a few frames before the write fails
            video.write(solid(0))
        video.close()
    assert os.listdir(tmp_path) == []


def _mount_tmpfs(where: Path, options: str) -> bool:
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True
    )
    return done.returncode == 0


@pytest.fixture
def unwritable_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder this process cannot create files in: read-only permissions, or (as root, who
    ignores permissions) a read-only tmpfs."""
    folder = tmp_path / "locked"
    if os.geteuid() != 0:
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    if not _mount_tmpfs(folder, "ro,size=1m"):
        pytest.skip("running as root and cannot mount a read-only tmpfs")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_unwritable_folder_fails_before_any_frame(unwritable_folder: Path) -> None:
    video = VideoWriter(unwritable_folder / "clip.mp4", (W, H))
    with pytest.raises(VideoError, match=r"(permission denied|read-only file system).*clip\.mp4"):
        video.open()
    assert video._ffmpeg is None  # ffmpeg never started
    assert os.listdir(unwritable_folder) == []


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB file system (root only: a tmpfs mount)."""
    folder = tmp_path / "small"
    if os.geteuid() != 0 or not _mount_tmpfs(folder, "size=256k"):
        pytest.skip("needs root to mount a small tmpfs")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_real_disk_full_is_reported_and_leaves_nothing(small_disk: Path) -> None:
    path = small_disk / "clip.mp4"
    rng = np.random.default_rng(0)
    with pytest.raises(VideoError) as caught, VideoWriter(path, (W * 4, H * 4)) as video:
        for _ in range(200):  # noise does not compress: far more than 256 KiB of video
            video.write(rng.integers(0, 256, (H * 4, W * 4, 4), dtype=np.uint8))
    assert str(caught.value).startswith(f"no space left on device writing {path}")
    assert caught.value.errno == errno.ENOSPC
    assert os.listdir(small_disk) == []


def test_no_ffmpeg_at_all_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def nothing() -> str:
        raise RuntimeError("No ffmpeg exe could be found.")

    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", nothing)
    with pytest.raises(VideoError, match=r"no ffmpeg found (.|\n)*reinstall imageio-ffmpeg"):
        write_frames(tmp_path / "clip.mp4", 2)
    assert os.listdir(tmp_path) == []

"""The streaming MP4 writer: decodable output, exact frame count and size, atomic on failure."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from mini.render import VideoWriter, count_frames, iter_frames, probe

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
    with pytest.raises(OSError), VideoWriter(path, (W, H), preset="no-such-preset") as video:
        for _ in range(n_frames):
            video.write(solid(0))
    assert os.listdir(tmp_path) == []

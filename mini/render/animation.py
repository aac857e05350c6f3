"""The latent-evolution animation: scatter layers on the left, schedule/metric curves on the right.

Why it is fast: matplotlib's standard route (``FuncAnimation.save``) redraws the whole figure —
axes, ticks, labels, every curve — for every frame. Here the static parts are drawn once; each
frame restores that background, draws only the artists that change (points, cursor, step label) and
hands the canvas's RGBA buffer to ffmpeg without a copy, while ffmpeg encodes the previous frame
in its own process.

The data come in as plain arrays recorded elsewhere (``positions[frame, point, 2]``); nothing
here knows about models or torch.
"""

from __future__ import annotations

import io
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from mini.atomic import write_bytes
from mini.render.layout import build_scene
from mini.render.panels import CurvePanel, ScatterLayer
from mini.render.video import DEFAULT_CRF, DEFAULT_PRESET, VideoWriter
from mini.render.view import FollowView

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RenderStats:
    """Where the time went: drawing (matplotlib), handing frames to ffmpeg (blocked while it
    encodes), and waiting for ffmpeg to flush at the end.

    Attributes:
        frames: frames written.
        seconds: the whole render.
        draw_seconds: drawing (matplotlib).
        write_seconds: handing frames to ffmpeg.
        close_seconds: waiting for ffmpeg at the end.
    """

    frames: int
    seconds: float
    draw_seconds: float
    write_seconds: float
    close_seconds: float

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class LatentAnimation:
    """Frames of a latent space evolving beside the schedule that drove it.

    The latent panel's limits are ``xlim``/``ylim``, or else fixed to hold every point of every
    frame; with ``view=FollowView()`` they follow the layers' ``follow`` points frame by frame
    instead (smoothly; ``xlim``/``ylim`` are then ignored).

    Attributes:
        steps: the training step shown in each frame (see :func:`frame_steps`).
        layers: the point sets on the latent panel.
        panels: the curve panels stacked on the right.
        phases: the phase name of each frame (optional).
        phase_starts: ``(step, name)`` pairs drawn as dashed lines across the curve panels.
        title: the figure's title.
        xlabel: the latent panel's x label.
        ylabel: its y label.
        xlim: its fixed x limits.
        ylim: its fixed y limits.
        equal_aspect: one unit is as long on both axes.
        decorate: ``decorate(ax)`` adds static extras (a unit circle, reference points).
        size: the video size in pixels, ``(width, height)``.
        dpi: the figure's dots per inch.
        view: the following view (see above).
        notes: a note per frame, shown in the latent panel's lower right corner.
    """

    steps: np.ndarray
    layers: Sequence[ScatterLayer]
    panels: Sequence[CurvePanel] = ()
    phases: Sequence[str | None] | None = None
    phase_starts: Sequence[tuple[int, str | None]] = ()
    title: str = ""
    xlabel: str = "dim 0"
    ylabel: str = "dim 1"
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None
    equal_aspect: bool = True
    decorate: Callable[[Axes], Any] | None = None
    size: tuple[int, int] = (1280, 720)
    dpi: int = 100
    view: FollowView | None = None
    notes: Sequence[str] | None = None

    def __post_init__(self) -> None:
        self.steps = np.asarray(self.steps, dtype=np.int64).reshape(-1)
        n = len(self.steps)
        if n == 0:
            raise ValueError("an animation needs at least one frame")
        if not self.layers and not self.panels:
            raise ValueError("nothing to draw: give at least one scatter layer or curve panel")
        if self.phases is not None and len(self.phases) != n:
            raise ValueError(f"phases has {len(self.phases)} entries for {n} frames")
        if self.notes is not None and len(self.notes) != n:
            raise ValueError(f"notes has {len(self.notes)} entries for {n} frames")
        width, height = self.size
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"video size must be positive and even (yuv420p), got {self.size}")
        for i, layer in enumerate(self.layers):
            shape = np.shape(layer.positions)
            if len(shape) not in (2, 3) or shape[-1] != 2:
                raise ValueError(
                    f"layer {i}: positions must be (frames, points, 2) or (points, 2), "
                    f"got shape {shape}"
                )
            if len(shape) == 3 and shape[0] != n:
                raise ValueError(f"layer {i}: positions has {shape[0]} frames for {n} steps")

    def __len__(self) -> int:
        return len(self.steps)

    # -- the figure ------------------------------------------------------------------------------
    def figure(self, *, animated: bool = True) -> tuple[Figure, Callable[[int], list[Artist]]]:
        """The figure and ``update(frame) -> changed artists``.

        With ``animated=True`` the changing artists are left out of ``canvas.draw()`` (for
        blitting); ``animated=False`` gives an ordinary figure, e.g. for ``FuncAnimation``.

        Args:
            animated: leave the changing artists out of ``canvas.draw()`` (for blitting).
        """
        scene = build_scene(self, animated)
        phase_text = scene.phase_text

        def update(i: int) -> list[Artist]:
            scene.update(i)
            phase_text.set_text(self._phase_label(i))
            return [*scene.layers, *scene.others, phase_text]

        return scene.fig, update

    def _phase_label(self, i: int) -> str:
        phase = self.phases[i] if self.phases is not None else None
        return "" if phase is None else str(phase)

    # -- rendering -------------------------------------------------------------------------------
    def iter_rgba(self, *, stats: dict[str, float] | None = None) -> Iterator[memoryview]:
        """Yield each frame's RGBA pixels (``height × width × 4`` bytes, top row first).

        The buffer is the canvas itself and is overwritten by the next frame: copy it to keep
        it. Drawing time accumulates in ``stats["draw_seconds"]``.

        Args:
            stats: accumulates ``draw_seconds`` if given.
        """
        scene = build_scene(self, animated=True)
        canvas = scene.fig.canvas
        assert isinstance(canvas, FigureCanvasAgg)
        canvas.draw()  # every static artist, once
        if canvas.get_width_height() != tuple(self.size):
            raise RuntimeError(
                f"canvas is {canvas.get_width_height()} pixels, expected {self.size}; "
                "choose a size that is a whole number of pixels at this dpi"
            )
        renderer = canvas.get_renderer()
        bbox = scene.fig.bbox
        static = canvas.copy_from_bbox(bbox)
        # The phase label changes rarely: each one is drawn once and its pixels kept.
        phase_labels: dict[str, Any] = {}
        moving = scene.moving_axes
        if moving is not None:  # not in the static draw: draw the legends once to copy them
            for artist in scene.overlays:
                artist.draw(renderer)
        # Static artists that sit above the points are re-blitted after the points are drawn.
        overlays = [
            canvas.copy_from_bbox(artist.get_window_extent(renderer).padded(1.0))
            for artist in scene.overlays
        ]
        buffer = canvas.buffer_rgba()
        draw_seconds = 0.0
        for i in range(len(self)):
            t0 = time.perf_counter()
            label = self._phase_label(i)
            if label and label not in phase_labels:
                canvas.restore_region(static)
                scene.phase_text.set_text(label)
                scene.phase_text.draw(renderer)
                box = scene.phase_text.get_window_extent(renderer).padded(2.0)
                phase_labels[label] = canvas.copy_from_bbox(box)
            canvas.restore_region(static)
            if label:
                canvas.restore_region(phase_labels[label])
            scene.update(i)
            if moving is not None:
                moving.draw(renderer)  # its new limits, ticks and grid; not the animated points
            for artist in scene.layers:
                artist.draw(renderer)
            for region in overlays:
                canvas.restore_region(region)
            for artist in scene.others:
                artist.draw(renderer)
            draw_seconds += time.perf_counter() - t0
            if stats is not None:
                stats["draw_seconds"] = draw_seconds
            yield buffer

    def render(
        self,
        path: str | os.PathLike[str],
        *,
        fps: float = 30,
        crf: int = DEFAULT_CRF,
        preset: str = DEFAULT_PRESET,
        progress: bool | None = None,
        last_frame: str | os.PathLike[str] | None = None,
    ) -> RenderStats:
        """Write the animation to an MP4 at ``path`` (atomically) and say where the time went.

        ``last_frame``: also save the final frame as a PNG there (atomically; e.g. ``latest.png``
        beside the video, a still for a README or a dashboard). It is written once every frame
        has been drawn, before ffmpeg finishes, so it exists even if ffmpeg then fails.
        Raises :class:`~mini.render.VideoError` when ffmpeg fails.

        Args:
            path: the MP4.
            fps: frames per second.
            crf: x264 quality (lower: better, larger).
            preset: x264 speed preset.
            progress: show a progress bar (``None``: when stderr is a terminal).
            last_frame: also save the final frame as a PNG there.
        """
        t0 = time.perf_counter()
        stats: dict[str, float] = {"draw_seconds": 0.0}
        with VideoWriter(
            path,
            self.size,
            fps=fps,
            pix_fmt="rgba",
            crf=crf,
            preset=preset,
            total=len(self),
            progress=progress,
            description=Path(path).name,
        ) as video:
            frame = None
            for frame in self.iter_rgba(stats=stats):
                video.write(frame)
            if last_frame is not None and frame is not None:
                save_png(last_frame, frame, self.size)
        result = RenderStats(
            frames=video.frames_written,
            seconds=time.perf_counter() - t0,
            draw_seconds=stats["draw_seconds"],
            write_seconds=video.write_seconds,
            close_seconds=video.close_seconds,
        )
        log.info(
            "rendered %s: %d frames in %.2f s (%.1f frames/s; draw %.2f s, ffmpeg wait %.2f s)",
            path,
            result.frames,
            result.seconds,
            result.frames_per_second,
            result.draw_seconds,
            result.write_seconds + result.close_seconds,
        )
        return result


def save_png(path: str | os.PathLike[str], rgba: Any, size: tuple[int, int]) -> Path:
    """Write an RGBA frame buffer (``height × width × 4`` bytes) as an RGB PNG, atomically."""
    width, height = size
    pixels = np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[..., :3]
    data = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(data, format="png")
    return write_bytes(path, data.getvalue())

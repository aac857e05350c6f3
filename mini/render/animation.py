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

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba, to_rgba_array
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.text import Text
from matplotlib.transforms import IdentityTransform

from mini.render.video import DEFAULT_CRF, DEFAULT_PRESET, VideoWriter

log = logging.getLogger(__name__)

_MAX_BACKGROUNDS = 8  # cached full-figure backgrounds (one per phase label), ~3.7 MB each

ColorSpec = str | tuple[float, ...] | np.ndarray


@dataclass
class ScatterLayer:
    """One set of points on the latent panel.

    ``positions``: ``(frames, points, 2)`` (or ``(points, 2)`` for points that never move).
    ``colors``: one colour, ``(points, 3|4)`` RGB(A) in ``[0, 1]``, or ``(frames, points, 3|4)``.
    ``filled`` / ``visible``: a bool, ``(points,)`` or ``(frames, points)``; an unfilled point is
    drawn as a ring (○) in its edge colour, a filled one as a disc (●). ``edgecolor=None`` uses
    each point's own colour for its edge; ``linewidth=None`` means no edge when every point is
    filled and 1 pt otherwise. ``size`` is the marker area in points², scalar or ``(points,)``.
    Non-finite positions are not drawn.
    """

    positions: np.ndarray
    colors: ColorSpec = "C0"
    marker: str = "o"
    size: float | np.ndarray = 12.0
    filled: bool | np.ndarray = True
    visible: bool | np.ndarray = True
    edgecolor: ColorSpec | None = None
    linewidth: float | None = None
    alpha: float | None = None
    label: str | None = None
    zorder: float = 2.0


@dataclass
class Curve:
    """One line on a curve panel: ``y`` against ``x`` (steps)."""

    x: np.ndarray
    y: np.ndarray
    label: str
    color: ColorSpec | None = None


@dataclass
class CurvePanel:
    """One of the stacked panels on the right; ``log`` for a log-scale y axis."""

    curves: list[Curve]
    title: str | None = None
    log: bool = False

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        columns: Sequence[str],
        *,
        x: str = "STEP",
        title: str | None = None,
        log: bool = False,
    ) -> CurvePanel:
        """Curves for ``columns`` of a DataFrame (a ``realize(...)`` schedule, a metrics history)
        against its ``x`` column; rows where a column is missing are dropped for that curve."""
        xs = frame[x].to_numpy(dtype=float)
        curves = []
        for name in columns:
            ys = frame[name].to_numpy(dtype=float)
            keep = np.isfinite(ys)
            curves.append(Curve(xs[keep], ys[keep], str(name)))
        return cls(curves, title=title, log=log)


def schedule_panels(
    schedule: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    log: Sequence[str] = (),
    groups: Mapping[str, Sequence[str]] | None = None,
    x: str = "STEP",
) -> list[CurvePanel]:
    """Panels for the property curves of a realized schedule: one panel per column (titled with
    its name), or one per entry of ``groups`` (title → columns). Columns in ``log`` (or a group
    whose columns all are) get a log axis."""
    log_set = set(log)
    if groups is None:
        if columns is None:
            columns = [c for c in schedule.columns if c not in {x, "PHASE", "ACTION"}]
        groups = {c: [c] for c in columns}
    return [
        CurvePanel.from_frame(schedule, cols, x=x, title=title, log=all(c in log_set for c in cols))
        for title, cols in groups.items()
    ]


def schedule_phases(
    schedule: pd.DataFrame, steps: Sequence[int] | np.ndarray, *, x: str = "STEP"
) -> tuple[list[str | None], list[tuple[int, str | None]]]:
    """From a realized schedule (``STEP`` and ``PHASE`` columns): the phase name at each of
    ``steps`` (for ``LatentAnimation.phases``) and ``(start step, name)`` of every phase (for
    ``phase_starts``). Empty phase names become ``None``."""
    at = schedule[x].to_numpy()
    names = schedule["PHASE"].astype(str).to_numpy()
    if len(at) == 0:
        raise ValueError("the schedule is empty")
    order = np.argsort(at, kind="stable")
    at, names = at[order], names[order]
    changes = np.flatnonzero(np.r_[True, names[1:] != names[:-1]])
    starts = [(int(at[i]), str(names[i]) or None) for i in changes]
    rows = np.searchsorted(at, np.asarray(steps), side="right") - 1
    if np.any(rows < 0):
        raise ValueError(f"steps before the schedule's first step {int(at[0])}")
    return [str(names[r]) or None for r in rows], starts


@dataclass(frozen=True, slots=True)
class RenderStats:
    """Where the time went: drawing (matplotlib), handing frames to ffmpeg (blocked while it
    encodes), and waiting for ffmpeg to flush at the end."""

    frames: int
    seconds: float
    draw_seconds: float
    write_seconds: float
    close_seconds: float

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class _Scene:
    """A built figure: what changes every frame, and the phase label (which changes rarely, so
    the renderer bakes it into a per-phase background instead of drawing it every frame)."""

    fig: Figure
    layers: list[Artist]  # the scatter collections, drawn first
    others: list[Artist]  # cursor, dots, step label, drawn after the overlays
    updates: list[Callable[[int], None]]
    phase_text: Text
    overlays: list[Artist]  # static artists that must stay above the points (the legend)

    def update(self, i: int) -> None:
        for upd in self.updates:
            upd(i)


@dataclass
class LatentAnimation:
    """Frames of a latent space evolving beside the schedule that drove it.

    ``steps[frame]`` is the training step shown in each frame (see :func:`frame_steps`);
    ``phases[frame]`` (optional) its phase name. ``phase_starts`` are ``(step, name)`` pairs
    drawn as dashed lines across the curve panels. ``decorate(ax)`` adds static extras to the
    latent panel (a unit circle, reference points). ``size`` is the video size in pixels.
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

    def __post_init__(self) -> None:
        self.steps = np.asarray(self.steps, dtype=np.int64).reshape(-1)
        n = len(self.steps)
        if n == 0:
            raise ValueError("an animation needs at least one frame")
        if not self.layers and not self.panels:
            raise ValueError("nothing to draw: give at least one scatter layer or curve panel")
        if self.phases is not None and len(self.phases) != n:
            raise ValueError(f"phases has {len(self.phases)} entries for {n} frames")
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
        """
        scene = self._build(animated)
        phase_text = scene.phase_text

        def update(i: int) -> list[Artist]:
            scene.update(i)
            phase_text.set_text(self._phase_label(i))
            return [*scene.layers, *scene.others, phase_text]

        return scene.fig, update

    def _phase_label(self, i: int) -> str:
        phase = self.phases[i] if self.phases is not None else None
        return "" if phase is None else str(phase)

    def _build(self, animated: bool) -> _Scene:
        width, height = self.size
        fig = Figure(figsize=(width / self.dpi, height / self.dpi), dpi=self.dpi)
        FigureCanvasAgg(fig)
        n_panels = len(self.panels)
        box = {"left": 0.06, "right": 0.985, "top": 0.9, "bottom": 0.08}
        if self.layers and n_panels:
            outer = fig.add_gridspec(1, 2, width_ratios=(1.1, 1.0), wspace=0.16, **box)
            left_spec, right = outer[0, 0], outer[0, 1].subgridspec(n_panels, 1, hspace=0.12)
        elif self.layers:
            left_spec, right = fig.add_gridspec(1, 1, **box)[0, 0], None
        else:
            left_spec, right = None, fig.add_gridspec(n_panels, 1, hspace=0.12, **box)

        layers: list[Artist] = []
        others: list[Artist] = []
        overlays: list[Artist] = []
        updates: list[Callable[[int], None]] = []
        if left_spec is not None:
            ax = fig.add_subplot(left_spec)
            drawers = [_LayerDrawer(layer, len(self)) for layer in self.layers]
            legend = self._setup_latent(ax, drawers)
            if legend is not None:
                overlays.append(legend)
            for drawer in drawers:
                artist, update = drawer.build(ax, animated)
                layers.append(artist)
                updates.append(update)
        if right is not None:
            panel_axes: list[Axes] = []
            at_cursor: list[np.ndarray] = []
            for k, panel in enumerate(self.panels):
                ax = fig.add_subplot(right[k, 0], sharex=panel_axes[0] if panel_axes else None)
                panel_axes.append(ax)
                at_cursor.append(self._build_panel(ax, panel, last=k == n_panels - 1))
            top = panel_axes[0]
            x0, x1 = top.get_xlim()
            width_px = top.get_position().width * self.size[0]
            bounds = [s for s, _ in self.phase_starts[1:]] + [x1] if self.phase_starts else []
            for (start, name), end in zip(self.phase_starts, bounds, strict=True):
                if name:
                    # Short phases get a shortened label rather than one that runs into the next.
                    room = int((end - start) / max(x1 - x0, 1e-9) * width_px / 5.6) - 2
                    label = name if len(name) <= room else name[: max(room - 1, 1)].rstrip() + "…"
                    top.text(
                        start,
                        1.02,
                        f" {label}",
                        transform=top.get_xaxis_transform(),
                        ha="left",
                        va="bottom",
                        fontsize=7,
                        color="0.35",
                        clip_on=False,
                    )
            playhead = _Playhead(fig, panel_axes, self.steps, at_cursor, animated)
            others.extend(playhead.artists)
            updates.append(playhead.update)

        if self.title:
            fig.text(0.5, 0.965, self.title, ha="center", va="center", fontsize=13)
        phase_text = fig.text(
            box["left"],
            0.925,
            "",
            ha="left",
            va="center",
            fontsize=11,
            fontweight="bold",
            animated=animated,
        )
        step_text = fig.text(
            box["right"], 0.925, "", ha="right", va="center", fontsize=11, animated=animated
        )
        steps = self.steps

        def update_step(i: int) -> None:
            step_text.set_text(f"step {int(steps[i]):,}")

        others.append(step_text)
        updates.append(update_step)
        return _Scene(fig, layers, others, updates, phase_text, overlays)

    def _setup_latent(self, ax: Axes, drawers: list[_LayerDrawer]) -> Legend | None:
        xlim, ylim = self.xlim, self.ylim
        if xlim is None or ylim is None:
            auto_x, auto_y = _data_limits([np.asarray(layer.positions) for layer in self.layers])
            xlim = xlim or auto_x
            ylim = ylim or auto_y
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        if self.equal_aspect:
            ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel(self.xlabel)
        ax.set_ylabel(self.ylabel)
        ax.grid(True, linewidth=0.4, alpha=0.4)
        if self.decorate is not None:
            self.decorate(ax)
        labelled = [drawer for drawer in drawers if drawer.layer.label]
        if not labelled:
            return None
        # Proxy handles: the real collections are animated and change every frame.
        return ax.legend(
            [drawer.legend_handle(ax) for drawer in labelled],
            [drawer.layer.label for drawer in labelled],
            loc="upper right",
            fontsize=8,
            framealpha=1.0,
        )

    def _build_panel(self, ax: Axes, panel: CurvePanel, *, last: bool) -> np.ndarray:
        """Draw one panel's static parts; returns ``(frames, curves)``: each curve's value at
        each frame's step (NaN outside the curve), for the dots that ride on the cursor."""
        steps = self.steps.astype(float)
        if panel.log:
            ax.set_yscale("log")
        at_cursor: list[np.ndarray] = []
        lo, hi = float(steps.min()), float(steps.max())
        for curve in panel.curves:
            x = np.asarray(curve.x, dtype=float)
            y = np.asarray(curve.y, dtype=float)
            if panel.log:
                y = np.where(y > 0, y, np.nan)
            ax.plot(x, y, lw=1.2, color=curve.color, label=curve.label)
            ok = np.isfinite(x) & np.isfinite(y)
            if ok.any():
                at_cursor.append(np.interp(steps, x[ok], y[ok], left=np.nan, right=np.nan))
                lo, hi = min(lo, float(x[ok].min())), max(hi, float(x[ok].max()))
            else:
                at_cursor.append(np.full(len(steps), np.nan))
        ax.set_xlim(lo, hi if hi > lo else lo + 1)
        for start, _name in self.phase_starts:
            ax.axvline(start, color="0.6", lw=0.8, ls="--", zorder=0.5)
        if panel.title:
            ax.text(
                0.01,
                0.93,
                panel.title,
                transform=ax.transAxes,
                ha="left",
                va="top",
                fontsize=8,
                fontweight="bold",
            )
        if len(panel.curves) > 1:
            ax.legend(loc="upper right", fontsize=7, frameon=False, ncol=min(3, len(panel.curves)))
        ax.tick_params(labelsize=7)
        ax.grid(True, linewidth=0.4, alpha=0.4)
        if last:
            ax.set_xlabel("step", fontsize=8)
        else:
            ax.tick_params(labelbottom=False)
        return np.column_stack(at_cursor) if at_cursor else np.zeros((len(steps), 0))

    # -- rendering -------------------------------------------------------------------------------
    def iter_rgba(self, *, stats: dict[str, float] | None = None) -> Iterator[memoryview]:
        """Yield each frame's RGBA pixels (``height × width × 4`` bytes, top row first).

        The buffer is the canvas itself and is overwritten by the next frame: copy it to keep
        it. Drawing time accumulates in ``stats["draw_seconds"]``.
        """
        scene = self._build(animated=True)
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
        backgrounds: dict[str, Any] = {}  # static parts + phase label, per phase
        # Static artists that sit above the points are re-blitted from the static draw.
        overlays = [
            canvas.copy_from_bbox(artist.get_window_extent(renderer).padded(1.0))
            for artist in scene.overlays
        ]
        buffer = canvas.buffer_rgba()
        draw_seconds = 0.0
        for i in range(len(self)):
            t0 = time.perf_counter()
            label = self._phase_label(i)
            background = backgrounds.get(label)
            if background is None:
                if len(backgrounds) >= _MAX_BACKGROUNDS:
                    backgrounds.pop(next(iter(backgrounds)))
                canvas.restore_region(static)
                scene.phase_text.set_text(label)
                scene.phase_text.draw(renderer)
                background = backgrounds[label] = canvas.copy_from_bbox(bbox)
            canvas.restore_region(background)
            scene.update(i)
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
    ) -> RenderStats:
        """Write the animation to an MP4 at ``path`` (atomically) and say where the time went."""
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
            for frame in self.iter_rgba(stats=stats):
                video.write(frame)
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


class _Playhead:
    """The moving cursor across every curve panel, and a dot on each curve at the cursor.

    Both are single figure-level artists in display pixels (positions precomputed for every
    frame), so a frame draws two lines however many panels there are.
    """

    def __init__(
        self,
        fig: Figure,
        axes: list[Axes],
        steps: np.ndarray,
        values: list[np.ndarray],
        animated: bool,
    ):
        self.axes = axes
        self.steps = steps.astype(float)
        self.values = values
        pixels = IdentityTransform()
        self.cursor = Line2D(
            [], [], color="k", lw=1.0, transform=pixels, animated=animated, zorder=5
        )
        self.dots = Line2D(
            [],
            [],
            ls="none",
            marker="o",
            ms=4,
            mfc="k",
            mec="white",
            mew=0.8,
            transform=pixels,
            animated=animated,
            zorder=6,
        )
        fig.add_artist(self.cursor)
        fig.add_artist(self.dots)
        self.artists: list[Artist] = [self.cursor, self.dots]
        self._xy: tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, float]] | None = None

    def _pixels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, float]]:
        """Display coordinates of the cursor and dots for every frame (after autoscaling)."""
        xs, ys = [], []
        for ax, vals in zip(self.axes, self.values, strict=True):
            ax.get_ylim()  # settles autoscaling so transData is final
            k = vals.shape[1]
            data = np.column_stack([np.repeat(self.steps, k), vals.reshape(-1)])
            px = ax.transData.transform(data).reshape(len(self.steps), k, 2)
            xs.append(px[..., 0])
            ys.append(px[..., 1])
        cursor_x = self.axes[0].transData.transform(
            np.column_stack([self.steps, np.ones_like(self.steps)])
        )[:, 0]
        span = (float(self.axes[-1].bbox.y0), float(self.axes[0].bbox.y1))
        return cursor_x, np.concatenate(xs, axis=1), np.concatenate(ys, axis=1), span

    def update(self, i: int) -> None:
        if self._xy is None:
            self._xy = self._pixels()
        cursor_x, dots_x, dots_y, span = self._xy
        self.cursor.set_data([cursor_x[i], cursor_x[i]], span)
        self.dots.set_data(dots_x[i], dots_y[i])


class _LayerDrawer:
    """Precomputed colours and masks for one scatter layer, and its per-frame update."""

    def __init__(self, layer: ScatterLayer, n_frames: int):
        self.layer = layer
        self.linewidth = (
            layer.linewidth
            if layer.linewidth is not None
            else (0.0 if np.all(np.asarray(layer.filled, dtype=bool)) else 1.0)
        )
        pos = np.asarray(layer.positions, dtype=float)
        self.pos = pos if pos.ndim == 3 else None
        self.static_pos = pos if pos.ndim == 2 else None
        n_points = pos.shape[-2]
        self.n_points = n_points
        self.colors = _rgba(layer.colors, n_frames, n_points, layer.alpha, "colors")
        self.edge = (
            None
            if layer.edgecolor is None
            else _rgba(layer.edgecolor, n_frames, n_points, layer.alpha, "edgecolor")
        )
        self.filled = _mask(layer.filled, n_frames, n_points, "filled")
        self.visible = _mask(layer.visible, n_frames, n_points, "visible")
        size = np.asarray(layer.size, dtype=float)
        if size.ndim == 0:
            self.sizes = np.full(n_points, float(size))
        elif size.shape == (n_points,):
            self.sizes = size
        else:
            raise ValueError(f"size must be a number or ({n_points},), got shape {size.shape}")
        self.check_finite = not np.isfinite(pos).all()

    def build(self, ax: Axes, animated: bool) -> tuple[Artist, Callable[[int], None]]:
        layer = self.layer
        collection = ax.scatter(
            np.zeros(self.n_points),
            np.zeros(self.n_points),
            s=self.sizes,
            marker=layer.marker,
            linewidths=self.linewidth,
            zorder=layer.zorder,
            animated=animated,
        )
        simple = (
            self.colors.ndim == 2
            and (self.edge is None or self.edge.ndim == 2)
            and self.filled.ndim <= 1
            and self.visible.ndim <= 1
            and bool(np.all(self.visible))
            and not self.check_finite
        )
        if simple:
            face, edge = self._colors_at(0)
            collection.set_facecolor(face)
            collection.set_edgecolor(edge)

            def update(i: int) -> None:
                collection.set_offsets(self._positions_at(i))

        else:

            def update(i: int) -> None:
                pos = self._positions_at(i)
                face, edge = self._colors_at(i)
                vis = self.visible[i] if self.visible.ndim == 2 else self.visible
                if self.check_finite:
                    vis = vis & np.isfinite(pos).all(axis=1)
                if not vis.all():
                    pos, face, edge = pos[vis], face[vis], edge[vis]
                    collection.set_sizes(self.sizes[vis])
                else:
                    collection.set_sizes(self.sizes)
                collection.set_offsets(pos)
                collection.set_facecolor(face)
                collection.set_edgecolor(edge)

        return collection, update

    def legend_handle(self, ax: Axes) -> Artist:
        """An empty scatter that looks like this layer's points (grey where colours vary)."""
        colors = self.colors.reshape(-1, 4)
        color = colors[0] if np.all(colors == colors[0]) else np.array([0.45, 0.45, 0.45, 1.0])
        edge = color if self.edge is None else self.edge.reshape(-1, 4)[0]
        return ax.scatter(
            [],
            [],
            marker=self.layer.marker,
            s=float(np.clip(np.max(self.sizes), 20.0, 80.0)),
            facecolors=[color],
            edgecolors=[edge],
            linewidths=self.linewidth,
        )

    def _positions_at(self, i: int) -> np.ndarray:
        return self.pos[i] if self.pos is not None else self.static_pos

    def _colors_at(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        colors = self.colors[i] if self.colors.ndim == 3 else self.colors
        edge = colors if self.edge is None else (self.edge[i] if self.edge.ndim == 3 else self.edge)
        filled = self.filled[i] if self.filled.ndim == 2 else self.filled
        if filled.all():
            return colors, edge
        face = colors.copy()
        face[~filled, 3] = 0.0
        return face, edge


def _rgba(
    spec: ColorSpec, n_frames: int, n_points: int, alpha: float | None, what: str
) -> np.ndarray:
    """Colours as float RGBA: ``(points, 4)`` when fixed, ``(frames, points, 4)`` per frame.

    A string, a tuple of numbers or a 1-D array of 3 or 4 numbers is one colour for all points.
    """
    if isinstance(spec, str) or (
        np.ndim(spec) == 1 and len(spec) in (3, 4) and np.asarray(spec).dtype.kind in "fiu"
    ):
        return np.tile(
            np.asarray(to_rgba(tuple(spec) if np.ndim(spec) else spec, alpha)), (n_points, 1)
        )
    arr = np.asarray(spec)
    if arr.ndim == 1 and arr.dtype.kind in "USO" and len(arr) == n_points:
        out = to_rgba_array(list(spec))  # colour names, one per point
    elif arr.ndim == 2 and arr.shape[0] == n_points and arr.shape[1] in (3, 4):
        out = to_rgba_array(arr.astype(float))
    elif arr.ndim == 3 and arr.shape[:2] == (n_frames, n_points) and arr.shape[2] in (3, 4):
        out = np.ones((n_frames, n_points, 4))
        out[..., : arr.shape[2]] = arr
        if out.min() < 0 or out.max() > 1:
            raise ValueError(f"{what} must be in [0, 1]")
    else:
        raise ValueError(
            f"{what} must be a colour, {n_points} colours, ({n_points}, 3|4) or "
            f"({n_frames}, {n_points}, 3|4) RGB(A) in [0, 1]; got shape {arr.shape}"
        )
    if alpha is not None:
        out[..., 3] = alpha
    return out


def _mask(spec: bool | np.ndarray, n_frames: int, n_points: int, what: str) -> np.ndarray:
    arr = np.asarray(spec, dtype=bool)
    if arr.ndim == 0:
        return np.full(n_points, bool(arr))
    if arr.shape in ((n_points,), (n_frames, n_points)):
        return arr
    raise ValueError(
        f"{what} must be a bool, ({n_points},) or ({n_frames}, {n_points}); got shape {arr.shape}"
    )


def _data_limits(
    positions: Sequence[np.ndarray], margin: float = 0.05
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Axis limits that hold every finite position of every frame, with a margin."""
    xs = [p[..., 0][np.isfinite(p[..., 0])] for p in positions]
    ys = [p[..., 1][np.isfinite(p[..., 1])] for p in positions]
    x = np.concatenate(xs) if xs else np.zeros(0)
    y = np.concatenate(ys) if ys else np.zeros(0)
    limits = []
    for v in (x, y):
        if v.size == 0:
            limits.append((-1.0, 1.0))
            continue
        lo, hi = float(v.min()), float(v.max())
        pad = (hi - lo) * margin or 1.0
        limits.append((lo - pad, hi + pad))
    return limits[0], limits[1]

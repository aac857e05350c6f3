"""The figure of an animation: the latent panel on the left, stacked curve panels on the right,
phase names and lines, title, phase label and step counter.

:func:`build_scene` draws nothing itself; it creates the artists and says which of them change
per frame, so the renderer can draw the static ones once and blit the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.text import Text
from matplotlib.ticker import LogLocator, NullFormatter

from mini.render.layers import LayerDrawer, data_limits
from mini.render.panels import CurvePanel
from mini.render.playhead import Playhead
from mini.render.ruler import Ruler
from mini.render.stamps import StampedText
from mini.render.view import follow_limits

if TYPE_CHECKING:
    from mini.render.animation import LatentAnimation

_MARGINS = {"left": 0.06, "right": 0.985, "top": 0.9, "bottom": 0.08}


@dataclass
class Scene:
    """A built figure: what changes every frame, and the phase label (which changes rarely, so
    the renderer bakes it into a per-phase background instead of drawing it every frame)."""

    fig: Figure
    layers: list[Artist]  # the scatter collections, drawn first
    others: list[Artist]  # cursor, dots, step label, off-screen note, drawn after the overlays
    updates: list[Callable[[int], None]]
    phase_text: Text
    overlays: list[Artist]  # static artists that must stay above the points (legends)
    moving_axes: Axes | None = None  # the latent panel when its limits change every frame

    def update(self, i: int) -> None:
        for upd in self.updates:
            upd(i)


def build_scene(anim: LatentAnimation, animated: bool) -> Scene:
    """Create ``anim``'s figure; with ``animated`` the changing artists are left out of
    ``canvas.draw()`` (for blitting)."""
    width, height = anim.size
    fig = Figure(figsize=(width / anim.dpi, height / anim.dpi), dpi=anim.dpi)
    FigureCanvasAgg(fig)
    n_panels = len(anim.panels)
    box = _MARGINS
    if anim.layers and n_panels:
        outer = fig.add_gridspec(1, 2, width_ratios=(1.1, 1.0), wspace=0.16, **box)
        left_spec, right = outer[0, 0], outer[0, 1].subgridspec(n_panels, 1, hspace=0.12)
    elif anim.layers:
        left_spec, right = fig.add_gridspec(1, 1, **box)[0, 0], None
    else:
        left_spec, right = None, fig.add_gridspec(n_panels, 1, hspace=0.12, **box)

    layers: list[Artist] = []
    others: list[Artist] = []
    overlays: list[Artist] = []
    updates: list[Callable[[int], None]] = []
    moving_axes = None
    if left_spec is not None:
        ax = fig.add_subplot(left_spec)
        drawers = [LayerDrawer(layer, len(anim)) for layer in anim.layers]
        limits = _setup_latent(anim, ax, drawers)
        # Every legend (ours and any a `decorate` added) stays above the points.
        overlays.extend(a for a in ax.get_children() if isinstance(a, Legend))
        for drawer in drawers:
            artist, update = drawer.build(ax, animated)
            layers.append(artist)
            updates.append(update)
        if limits.ndim == 3:
            moving_axes = ax
            ax.set_animated(animated)
            for legend in overlays:
                # Opaque, so the renderer can draw each once and re-blit its pixels.
                legend.get_frame().set_alpha(1.0)
                legend.set_animated(animated)
            updates.append(_follow(ax, limits))
        note = _note(anim, ax, drawers, limits, animated)
        if note is not None:
            others.append(note[0])
            updates.append(note[1])
    if right is not None:
        panel_axes: list[Axes] = []
        at_cursor: list[np.ndarray] = []
        for k, panel in enumerate(anim.panels):
            ax = fig.add_subplot(right[k, 0], sharex=panel_axes[0] if panel_axes else None)
            panel_axes.append(ax)
            at_cursor.append(_build_panel(anim, ax, panel, last=k == n_panels - 1))
        _phase_names(anim, panel_axes[0])
        playhead = Playhead(fig, panel_axes, anim.steps, at_cursor, animated)
        others.extend(playhead.artists)
        updates.append(playhead.update)

    if anim.title:
        fig.text(0.5, 0.965, anim.title, ha="center", va="center", fontsize=13)
    phase_text = fig.text(
        box["left"], 0.925, "", ha="left", va="center", fontsize=11, fontweight="bold",
        animated=animated,
    )  # fmt: skip
    step_text = fig.text(
        box["right"], 0.925, "", ha="right", va="center", fontsize=11, animated=animated
    )
    steps = anim.steps

    def update_step(i: int) -> None:
        step_text.set_text(f"step {int(steps[i]):,}")

    others.append(step_text)
    updates.append(update_step)
    return Scene(fig, layers, others, updates, phase_text, overlays, moving_axes)


def _phase_names(anim: LatentAnimation, top: Axes) -> None:
    """Each phase's name above the top curve panel, at its start; short phases get a shortened
    label rather than one that runs into the next."""
    if not anim.phase_starts:
        return
    x0, x1 = top.get_xlim()
    width_px = top.get_position().width * anim.size[0]
    bounds = [s for s, _ in anim.phase_starts[1:]] + [x1]
    for (start, name), end in zip(anim.phase_starts, bounds, strict=True):
        if not name:
            continue
        room = int((end - start) / max(x1 - x0, 1e-9) * width_px / 5.6) - 2
        label = name if len(name) <= room else name[: max(room - 1, 1)].rstrip() + "…"
        top.text(
            start, 1.02, f" {label}", transform=top.get_xaxis_transform(), ha="left",
            va="bottom", fontsize=7, color="0.35", clip_on=False,
        )  # fmt: skip


def _setup_latent(anim: LatentAnimation, ax: Axes, drawers: list[LayerDrawer]) -> np.ndarray:
    """Limits, labels, grid, decorations and legend of the latent panel; returns the limits:
    ``(2, 2)`` when fixed, ``(frames, 2, 2)`` when they follow the data."""
    if anim.view is not None:
        aspect = ax.bbox.height / ax.bbox.width if anim.equal_aspect else None
        positions = [drawer.positions for drawer in drawers]
        follow = [drawer.follow_mask() for drawer in drawers]
        limits = follow_limits(positions, follow, anim.view, aspect=aspect)
        ax.set_xlim(*limits[0, 0])
        ax.set_ylim(*limits[0, 1])
    else:
        xlim, ylim = anim.xlim, anim.ylim
        if xlim is None or ylim is None:
            auto_x, auto_y = data_limits([np.asarray(layer.positions) for layer in anim.layers])
            xlim = xlim or auto_x
            ylim = ylim or auto_y
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        if anim.equal_aspect:
            ax.set_aspect("equal", adjustable="box")
        limits = np.array([ax.get_xlim(), ax.get_ylim()])
    ax.set_xlabel(anim.xlabel)
    ax.set_ylabel(anim.ylabel)
    if limits.ndim == 3:
        Ruler(ax)  # ticks and grid that are cheap to redraw every frame
    else:
        ax.grid(True, linewidth=0.4, alpha=0.4)
    if anim.decorate is not None:
        anim.decorate(ax)
    labelled = [drawer for drawer in drawers if drawer.layer.label]
    if labelled:
        # Proxy handles: the real collections are animated and change every frame.
        ax.legend(
            [drawer.legend_handle(ax) for drawer in labelled],
            [drawer.layer.label for drawer in labelled],
            loc="upper right",
            fontsize=8,
            framealpha=1.0,
        )
    return limits


def _follow(ax: Axes, limits: np.ndarray) -> Callable[[int], None]:
    def update(i: int) -> None:
        ax.set_xlim(*limits[i, 0])
        ax.set_ylim(*limits[i, 1])

    return update


def _note(
    anim: LatentAnimation, ax: Axes, drawers: list[LayerDrawer], limits: np.ndarray, animated: bool
) -> tuple[StampedText, Callable[[int], None]] | None:
    """The corner note of the latent panel: ``anim.notes[frame]`` and, per layer with an
    ``offscreen`` template, how many of its points lie outside the limits."""
    counted = [
        (drawer.layer.offscreen, drawer.offscreen_counts(limits, len(anim)))
        for drawer in drawers
        if drawer.layer.offscreen
    ]
    notes = anim.notes
    if not counted and notes is None:
        return None
    # Few distinct texts over a video: drawn from cached bitmaps.
    text = StampedText(
        ax.figure, (0.985, 0.015), ax.transAxes, ha="right", va="bottom", fontsize=8,
        color="0.15", linespacing=1.4,
        bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "0.7", "alpha": 0.85},
    )  # fmt: skip
    text.set_zorder(6)
    text.set_animated(animated)
    ax.add_artist(text)

    def update(i: int) -> None:
        lines = [notes[i]] if notes is not None and notes[i] else []
        lines += [template.format(n=int(n[i])) for template, n in counted if n[i] > 0]
        text.set_text("\n".join(lines))
        text.set_visible(bool(lines))

    return text, update


def _build_panel(anim: LatentAnimation, ax: Axes, panel: CurvePanel, *, last: bool) -> np.ndarray:
    """Draw one panel's static parts; returns ``(frames, curves)``: each curve's value at each
    frame's step (NaN outside the curve), for the dots that ride on the cursor."""
    steps = anim.steps.astype(float)
    if panel.log:
        ax.set_yscale("log")
    at_cursor: list[np.ndarray] = []
    lo, hi = float(steps.min()), float(steps.max())
    for curve in panel.curves:
        x = np.asarray(curve.x, dtype=float)
        y = np.asarray(curve.y, dtype=float)
        if panel.log:
            y = np.where(y > 0, y, np.nan)
        keep = line_points(x, y, columns=int(ax.bbox.width))
        ax.plot(x[keep], y[keep], lw=1.2, color=curve.color, label=curve.label)
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.any():
            at_cursor.append(np.interp(steps, x[ok], y[ok], left=np.nan, right=np.nan))
            lo, hi = min(lo, float(x[ok].min())), max(hi, float(x[ok].max()))
        else:
            at_cursor.append(np.full(len(steps), np.nan))
    ax.set_xlim(lo, hi if hi > lo else lo + 1)
    if panel.ylim is not None:
        ax.set_ylim(*panel.ylim)
    if panel.log:
        # Over a decade or two, labels at 1, 2 and 5 × 10^k rather than matplotlib's minor-tick
        # labels, which pile up in a short panel; over more, a few whole decades.
        ys = np.concatenate([np.asarray(c.y, dtype=float) for c in panel.curves] or [np.ones(1)])
        ys = ys[np.isfinite(ys) & (ys > 0)]
        decades = float(np.log10(ys.max() / ys.min())) if ys.size else 0.0
        subs = (1.0, 2.0, 5.0) if decades <= 2 else (1.0,)
        ax.yaxis.set_major_locator(LogLocator(subs=subs, numticks=4))
        ax.yaxis.set_minor_formatter(NullFormatter())
    for start, _name in anim.phase_starts:
        ax.axvline(start, color="0.6", lw=0.8, ls="--", zorder=0.5)
    if panel.title:
        ax.text(
            0.01, 0.93, panel.title, transform=ax.transAxes, ha="left", va="top", fontsize=8,
            fontweight="bold",
        )  # fmt: skip
    if len(panel.curves) > 1:
        ax.legend(loc="best", fontsize=7, frameon=False, ncol=min(3, len(panel.curves)))
    ax.tick_params(labelsize=7)
    ax.grid(True, linewidth=0.4, alpha=0.4)
    if last:
        ax.set_xlabel("step", fontsize=8)
    else:
        ax.tick_params(labelbottom=False)
    return np.column_stack(at_cursor) if at_cursor else np.zeros((len(steps), 0))


def line_points(x: np.ndarray, y: np.ndarray, columns: int) -> np.ndarray | slice:
    """Which points of a line to plot so it looks the same ``columns`` pixels wide: per pixel
    column its first, last, lowest and highest point (M4 decimation). A 20,001-step schedule
    curve in a 550-pixel panel keeps ~2,200 points, and matplotlib keeps several copies of
    each line's data. Lines with gaps (NaN), unsorted ``x`` or few points are kept whole."""
    n = len(x)
    if n <= 4 * max(columns, 1) or not (np.isfinite(x).all() and np.isfinite(y).all()):
        return slice(None)
    if np.any(np.diff(x) < 0):
        return slice(None)
    span = x[-1] - x[0]
    if span <= 0:
        return slice(None)
    column = np.minimum(((x - x[0]) / span * columns).astype(np.int64), columns - 1)
    starts = np.flatnonzero(np.r_[True, column[1:] != column[:-1]])
    ends = np.r_[starts[1:], n] - 1
    by_value = np.lexsort((y, column))  # within each column, ascending y
    lowest = by_value[starts]  # column runs are contiguous and in order, so positions match
    highest = by_value[ends]
    return np.unique(np.concatenate([starts, ends, lowest, highest]))

"""Drawing one scatter layer: colours, fill and visibility masks precomputed for every frame,
and the per-frame update of its single matplotlib collection."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba, to_rgba_array

from mini.render.panels import ColorSpec, ScatterLayer


class LayerDrawer:
    """Precomputed colours and masks for one scatter layer, and its per-frame update."""

    def __init__(self, layer: ScatterLayer, n_frames: int):
        self.layer = layer
        self.linewidth = (
            layer.linewidth
            if layer.linewidth is not None
            else (0.0 if np.all(np.asarray(layer.filled, dtype=bool)) else 1.0)
        )
        pos = np.asarray(layer.positions)
        if pos.dtype.kind != "f":  # float32 recordings stay float32: no copy of every frame
            pos = pos.astype(float)
        self.pos = pos if pos.ndim == 3 else None
        self.static_pos = pos if pos.ndim == 2 else None
        n_points = pos.shape[-2]
        self.n_points = n_points
        self.colors = rgba(layer.colors, n_frames, n_points, layer.alpha, "colors")
        self.edge = (
            None
            if layer.edgecolor is None
            else rgba(layer.edgecolor, n_frames, n_points, layer.alpha, "edgecolor")
        )
        self.filled = mask(layer.filled, n_frames, n_points, "filled")
        self.visible = mask(layer.visible, n_frames, n_points, "visible")
        size = np.asarray(layer.size, dtype=float)
        if size.ndim == 0:
            self.sizes = np.full(n_points, float(size))
        elif size.shape == (n_points,):
            self.sizes = size
        else:
            raise ValueError(f"size must be a number or ({n_points},), got shape {size.shape}")
        self.check_finite = not np.isfinite(pos).all()
        self.follow = mask(layer.follow, n_frames, n_points, "follow")

    @property
    def positions(self) -> np.ndarray:
        """``(frames, points, 2)``, or ``(points, 2)`` for a layer that does not move."""
        return self.pos if self.pos is not None else self.static_pos

    def follow_mask(self) -> np.ndarray:
        """The points a following view keeps in sight: followed and visible."""
        return self.follow & self.visible

    def offscreen_counts(self, limits: np.ndarray, n_frames: int) -> np.ndarray:
        """Per frame, how many visible, finite points lie outside ``limits`` (``(frames, 2, 2)``
        or ``(2, 2)``)."""
        pos = self.positions
        if pos.ndim == 2:
            pos = np.broadcast_to(pos, (n_frames, *pos.shape))
        lim = np.broadcast_to(limits, (n_frames, 2, 2))
        low, high = lim[:, None, :, 0], lim[:, None, :, 1]  # (frames, 1, 2)
        with np.errstate(invalid="ignore"):
            inside = ((pos >= low) & (pos <= high)).all(axis=-1)
        shown = np.isfinite(pos).all(axis=-1) & np.broadcast_to(self.visible, inside.shape)
        return (shown & ~inside).sum(axis=1)

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
        """An empty scatter that looks like this layer's points (grey where colours vary; a ring
        when none of its points is ever filled)."""
        colors = self.colors.reshape(-1, 4)
        color = colors[0] if np.all(colors == colors[0]) else np.array([0.45, 0.45, 0.45, 1.0])
        edge = color if self.edge is None else self.edge.reshape(-1, 4)[0]
        face = color.copy()
        if not self.filled.any():
            face[3] = 0.0
        return ax.scatter(
            [],
            [],
            marker=self.layer.marker,
            s=float(np.clip(np.max(self.sizes), 20.0, 80.0)),
            facecolors=[face],
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


def rgba(
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


def mask(spec: bool | np.ndarray, n_frames: int, n_points: int, what: str) -> np.ndarray:
    arr = np.asarray(spec, dtype=bool)
    if arr.ndim == 0:
        return np.full(n_points, bool(arr))
    if arr.shape in ((n_points,), (n_frames, n_points)):
        return arr
    raise ValueError(
        f"{what} must be a bool, ({n_points},) or ({n_frames}, {n_points}); got shape {arr.shape}"
    )


def data_limits(
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

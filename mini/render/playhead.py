"""The playhead: a cursor across every curve panel and a dot on each curve at the frame's step."""

from __future__ import annotations

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import IdentityTransform


class Playhead:
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

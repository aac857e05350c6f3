"""Grid, tick marks and tick labels for an axes whose limits change every frame.

matplotlib's own axis machinery is built for figures drawn once: on every draw it re-creates
ticks and lays out each label's text again, which costs several times as much as drawing the
points themselves. A following view (:class:`~mini.render.FollowView`) changes its limits every
frame, so its panel uses this ruler instead: nice tick values from ``MaxNLocator``, all grid
lines and ticks as two line collections, and each distinct label rendered to a small bitmap
once and stamped where it belongs (tick values repeat a lot as the view glides).
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.collections import LineCollection
from matplotlib.ticker import MaxNLocator, NullLocator
from matplotlib.transforms import IdentityTransform

from mini.render.stamps import TextStamps

_TICK = 3.5  # tick length, points
_PAD = 3.5  # gap between tick and label, points


class Ruler(Artist):
    """Replaces ``ax``'s ticks, grid and axis labels; draws them for whatever its limits are
    at draw time."""

    def __init__(self, ax: Axes, *, fontsize: float = 10.0, nbins: int = 7):
        super().__init__()
        self.ax = ax
        self.locator = MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10])
        pixels = IdentityTransform()
        self.grid = LineCollection([], colors=[(0.69, 0.69, 0.69, 0.4)], linewidths=0.4)
        self.ticks = LineCollection([], colors=["black"], linewidths=0.8)
        for lines in (self.grid, self.ticks):
            lines.set_transform(pixels)
            lines.set_figure(ax.figure)
        self.labels = TextStamps(ax.figure, fontsize=fontsize)
        # The axis labels, drawn by us at a fixed offset (matplotlib would measure every tick
        # label's extent on every draw to place them).
        self.titles = (ax.get_xlabel(), ax.get_ylabel())
        self.title_stamps = TextStamps(ax.figure, fontsize=ax.xaxis.label.get_fontsize())
        ax.set_xlabel("")
        ax.set_ylabel("")
        self._ytitle_gap = 0.0
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(NullLocator())
            axis.set_minor_locator(NullLocator())
        ax.grid(False)
        self.set_zorder(0.9)  # above the axes background, below everything drawn on it
        ax.add_artist(self)

    def ticks_for(self, lo: float, hi: float) -> tuple[np.ndarray, list[str]]:
        """Tick values inside ``[lo, hi]`` and their labels (as many decimals as the step
        needs, with a true minus sign)."""
        values = self.locator.tick_values(lo, hi)
        slack = 1e-9 * abs(hi - lo)
        values = values[(values >= lo - slack) & (values <= hi + slack)] + 0.0  # no -0.0
        step = float(np.diff(values).min()) if len(values) > 1 else abs(hi - lo) or 1.0
        decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
        if step * 10**decimals % 1 > 1e-6:  # steps of 2.5 need one more digit
            decimals += 1
        labels = []
        for v in values:
            text = f"{v:.{decimals}f}"
            labels.append("0" if float(text) == 0 else text.replace("-", "\u2212"))
        return values, labels

    def draw(self, renderer: RendererBase) -> None:
        if not self.get_visible():
            return
        ax = self.ax
        box = ax.bbox
        tick = renderer.points_to_pixels(_TICK)
        pad = renderer.points_to_pixels(_TICK + _PAD)
        xs, xlabels = self.ticks_for(*sorted(ax.get_xlim()))
        ys, ylabels = self.ticks_for(*sorted(ax.get_ylim()))
        x_px = ax.transData.transform(np.c_[xs, np.zeros_like(xs)])[:, 0]
        y_px = ax.transData.transform(np.c_[np.zeros_like(ys), ys])[:, 1]
        self.grid.set_segments(
            [[(x, box.y0), (x, box.y1)] for x in x_px] + [[(box.x0, y), (box.x1, y)] for y in y_px]
        )
        self.ticks.set_segments(
            [[(x, box.y0), (x, box.y0 - tick)] for x in x_px]
            + [[(box.x0, y), (box.x0 - tick, y)] for y in y_px]
        )
        self.grid.draw(renderer)
        self.ticks.draw(renderer)
        for x, label in zip(x_px, xlabels, strict=True):
            self.labels.draw(renderer, label, x, box.y0 - pad, ha="center", va="top")
        for y, label in zip(y_px, ylabels, strict=True):
            self.labels.draw(renderer, label, box.x0 - pad, y, ha="right", va="center")
        size = renderer.points_to_pixels(self.labels.props["fontsize"])
        xtitle, ytitle = self.titles
        self.title_stamps.draw(
            renderer, xtitle, box.x0 + box.width / 2, box.y0 - pad - 1.5 * size, ha="center",
            va="top",
        )  # fmt: skip
        # Left of the widest tick label so far (it only ever moves out, never jitters).
        widest = max((self.labels.width(renderer, label) for label in ylabels), default=0)
        self._ytitle_gap = max(self._ytitle_gap, widest + 0.6 * size)
        self.title_stamps.draw(
            renderer, ytitle, box.x0 - pad - self._ytitle_gap, box.y0 + box.height / 2,
            ha="right", va="center", rotation=90,
        )  # fmt: skip

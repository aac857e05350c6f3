"""Text drawn as cached bitmaps: laid out and rasterized once per distinct string, then stamped.

Laying out text is the slowest thing matplotlib does per frame (font lookup, glyph layout and
rasterizing for every label, every draw). Text that repeats (tick values as a view glides, a
note that changes a few times per video) is rendered here once into a small RGBA image and
afterwards drawn with ``draw_image``, which costs a few microseconds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Transform

Sprite = tuple[np.ndarray, int, int]  # RGBA bottom row first, offset of its lower-left corner


class TextStamps:
    """Bitmaps of text in one style (``Text`` properties such as ``fontsize``, ``color``,
    ``bbox``), keyed by string, alignment and rotation."""

    def __init__(self, figure: Figure, **props: Any):
        self.figure = figure
        self.props = props
        self._cache: dict[tuple[str, str, str, float], Sprite] = {}

    def draw(
        self,
        renderer: RendererBase,
        text: str,
        x: float,
        y: float,
        *,
        ha: str = "left",
        va: str = "baseline",
        rotation: float = 0.0,
    ) -> None:
        """Draw ``text`` anchored at pixel ``(x, y)`` as ``Text(x, y, ha=..., va=...)`` would."""
        if not text:
            return
        key = (text, ha, va, rotation)
        sprite = self._cache.get(key)
        if sprite is None:
            sprite = self._cache[key] = self._render(renderer, *key)
        image, dx, dy = sprite
        if image.size:
            gc = renderer.new_gc()
            renderer.draw_image(gc, round(x) + dx, round(y) + dy, image)
            gc.restore()

    def width(self, renderer: RendererBase, text: str, *, ha: str = "right") -> int:
        """Width in pixels of ``text`` as drawn (rendering it once if needed)."""
        key = (text, ha, "center", 0.0)
        if key not in self._cache:
            self._cache[key] = self._render(renderer, *key)
        return self._cache[key][0].shape[1]

    def _render(self, renderer: RendererBase, text: str, ha: str, va: str, rot: float) -> Sprite:
        probe = Text(0, 0, text, ha=ha, va=va, rotation=rot, **self.props)
        probe.set_figure(self.figure)
        extent = probe.get_window_extent(renderer)
        pad = math.ceil(2 * renderer.points_to_pixels(probe.get_fontsize()))  # room for a bbox
        width = math.ceil(extent.width) + 2 * pad
        height = math.ceil(extent.height) + 2 * pad
        # Place the anchor so the text's extent sits `pad` pixels inside the scratch canvas.
        ax_, ay = pad - math.floor(extent.x0), pad - math.floor(extent.y0)
        scratch = RendererAgg(width, height, self.figure.dpi)
        probe.set_position((ax_, ay))
        probe.draw(scratch)
        rgba = np.asarray(scratch.buffer_rgba())  # top row first
        rows = np.flatnonzero(rgba[..., 3].any(axis=1))
        cols = np.flatnonzero(rgba[..., 3].any(axis=0))
        if not len(rows):
            return np.zeros((0, 0, 4), np.uint8), 0, 0
        top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        crop = rgba[top:bottom, left:right][::-1].copy()  # draw_image wants bottom row first
        return crop, int(left - ax_), int(height - bottom - ay)


class StampedText(Artist):
    """A text artist whose strings are drawn through :class:`TextStamps` (for text that is
    redrawn every frame but takes few distinct values)."""

    def __init__(
        self,
        figure: Figure,
        xy: tuple[float, float],
        transform: Transform,
        *,
        ha: str = "left",
        va: str = "baseline",
        **props: Any,
    ):
        super().__init__()
        self.set_figure(figure)
        self.set_transform(transform)
        self.xy = xy
        self.ha, self.va = ha, va
        self.stamps = TextStamps(figure, **props)
        self.text = ""

    def set_text(self, text: str) -> None:
        self.text = text
        self.stale = True

    def get_text(self) -> str:
        return self.text

    def draw(self, renderer: RendererBase) -> None:
        if not self.get_visible() or not self.text:
            return
        x, y = self.get_transform().transform(self.xy)
        self.stamps.draw(renderer, self.text, x, y, ha=self.ha, va=self.va)

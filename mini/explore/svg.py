"""Small inline-SVG charts for the explorer's panels: line charts and scatter plots.

Why not matplotlib figures? The page refreshes twice a second, and rasterising figures on the
server holds the GIL for tens of milliseconds each, time the training thread would lose. These
charts are strings built with numpy (~1 ms), drawn by the browser, and scale with the page.
Tick positions come from matplotlib's locators (no figure is made).
"""

from __future__ import annotations

import html
import itertools
import math
import struct
import zlib
from base64 import b64encode
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PALETTE = (
    "#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2",
    "#b279a2", "#eeca3b", "#9d755d", "#ff9da6", "#79706e",
)  # fmt: skip
MARGIN = (10, 14, 26, 46)  # top, right, bottom, left
_CLIP_IDS = itertools.count()  # clip paths need ids unique within the page


@dataclass(frozen=True)
class Series:
    """A line: ``y`` over ``x`` (NaN breaks the line)."""

    name: str
    x: np.ndarray
    y: np.ndarray
    color: str
    dashed: bool = False


@dataclass(frozen=True)
class Points:
    """Scatter points: one colour or one per point; ``hollow`` draws rings (e.g. dead codes)."""

    x: np.ndarray
    y: np.ndarray
    color: str | Sequence[str]
    radius: float = 2.5
    hollow: bool = False
    opacity: float = 1.0
    outline: str | None = None


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def fmt(v: float) -> str:
    """A short tick label: 1,200 → 1.2k; 0.00012 → 1.2e-04."""
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1000 and float(v).is_integer():
        return f"{v / 1000:g}k"
    if a < 1e-2 or a >= 1e5:
        return f"{v:.0e}"
    return f"{v:.3g}"


def ticks(lo: float, hi: float, log: bool = False, n: int = 5) -> list[float]:
    from matplotlib.ticker import LogLocator, MaxNLocator

    if log:
        if not (lo > 0 and math.isfinite(hi / lo)):  # beyond float range (subnormals): no ticks
            return []
        subs = (1.0, 2.0, 5.0) if hi / lo < 100 and n > 2 else (1.0,)  # 1-2-5 on short ranges
        vals = LogLocator(subs=subs, numticks=n + 1).tick_values(lo, hi)
    else:
        vals = MaxNLocator(n).tick_values(lo, hi)
    span = (hi - lo) * 1e-9
    return [float(v) for v in vals if lo - span <= v <= hi + span]


class Frame:
    """A plot area of ``width``×``height`` pixels mapping data ranges onto it."""

    def __init__(self, width: int, height: int, xlim: tuple[float, float], ylim: tuple[float, float], ylog: bool = False):  # fmt: skip
        self.width, self.height, self.ylog = width, height, ylog
        top, right, bottom, left = MARGIN
        self.x0, self.x1 = left, width - right
        self.y0, self.y1 = height - bottom, top
        self.xlim = _widen(xlim)
        ylim = (math.log10(ylim[0]), math.log10(ylim[1])) if ylog else ylim
        self.ylim = _widen(ylim)

    def px(self, x: np.ndarray | float) -> np.ndarray:
        lo, hi = self.xlim
        return self.x0 + (np.asarray(x, float) - lo) / (hi - lo) * (self.x1 - self.x0)

    def py(self, y: np.ndarray | float) -> np.ndarray:
        y = np.asarray(y, float)
        if self.ylog:
            with np.errstate(divide="ignore", invalid="ignore"):
                y = np.log10(np.where(y > 0, y, np.nan))
        lo, hi = self.ylim
        return self.y0 + (y - lo) / (hi - lo) * (self.y1 - self.y0)

    def axes(self, xticks: bool = True, yticks: bool = True) -> list[str]:
        n = 5 if self.height >= 140 else 2
        out = [
            f'<rect x="{self.x0}" y="{self.y1}" width="{self.x1 - self.x0}" '
            f'height="{self.y0 - self.y1}" class="mx-plot"/>'
        ]
        if yticks:
            lo, hi = self.ylim
            vals = ticks(10**lo, 10**hi, log=True, n=n) if self.ylog else ticks(lo, hi, n=n)
            for v in vals:
                y = float(self.py(v))
                out.append(
                    f'<line x1="{self.x0}" x2="{self.x1}" y1="{y:.1f}" y2="{y:.1f}" class="mx-grid"/>'
                )
                out.append(
                    f'<text x="{self.x0 - 4}" y="{y + 3.5:.1f}" class="mx-tick" text-anchor="end">{fmt(v)}</text>'
                )
        if xticks:
            for v in ticks(*self.xlim, n=max(n, 4)):
                x = float(self.px(v))
                out.append(
                    f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{self.y0}" y2="{self.y0 + 3}" class="mx-axis"/>'
                )
                out.append(
                    f'<text x="{x:.1f}" y="{self.y0 + 14}" class="mx-tick" text-anchor="middle">{fmt(v)}</text>'
                )
        return out

    def svg(self, parts: list[str], label: str = "") -> str:
        return (
            f'<svg class="mx-chart" viewBox="0 0 {self.width} {self.height}" role="img" '
            f'aria-label="{esc(label)}" xmlns="http://www.w3.org/2000/svg">'
            + "".join(parts)
            + "</svg>"
        )


def _widen(lim: tuple[float, float]) -> tuple[float, float]:
    lo, hi = float(lim[0]), float(lim[1])
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return 0.0, 1.0
    if hi - lo <= 1e-12 * max(1.0, abs(lo), abs(hi)):
        pad = max(abs(lo) * 0.05, 1e-3)
        return lo - pad, hi + pad
    return lo, hi


def polyline(frame: Frame, x: np.ndarray, y: np.ndarray, color: str, dashed: bool = False, width: float = 1.6) -> str:  # fmt: skip
    """A path through the points (NaN or non-positive on a log axis break the line)."""
    px, py = frame.px(x), frame.py(y)
    ok = np.isfinite(px) & np.isfinite(py)
    # the runs of drawable points, each "M x,y L x,y …": one %-format per run, not per point
    # (this string is rebuilt for every curve at every refresh, with the GIL held)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], ok.view(np.int8), [0]))))
    xy = np.stack([px, py], axis=1)
    runs = []
    for a, b in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        runs.append(("M%.1f,%.1f" + " L%.1f,%.1f" * (b - a - 1)) % tuple(xy[a:b].ravel().tolist()))
    dash = ' stroke-dasharray="4 3"' if dashed else ""
    return f'<path d="{" ".join(runs)}" fill="none" stroke="{color}" stroke-width="{width}"{dash} stroke-linejoin="round"/>'


def line_chart(
    series: Sequence[Series],
    *,
    xlim: tuple[float, float],
    ylog: bool = False,
    ylim: tuple[float, float] | None = None,
    cursor: float | None = None,
    bands: Sequence[tuple[str | None, int, int]] = (),
    width: int = 460,
    height: int = 200,
    label: str = "",
) -> str:
    """Lines over a shared x axis, with phase ``bands`` (name, start, end) and a ``cursor``."""
    ys = [s.y[np.isfinite(s.y) & ((s.y > 0) if ylog else True)] for s in series]
    ys = [y for y in ys if len(y)]
    if ylim is None:
        ylim = (min(float(y.min()) for y in ys), max(float(y.max()) for y in ys)) if ys else (0, 1)
        if not ylog:
            pad = 0.06 * (ylim[1] - ylim[0])
            ylim = (ylim[0] - pad, ylim[1] + pad)
    if ylog and not (ylim[0] > 0 and ylim[1] > 0):  # nothing positive to draw on a log axis
        ylim = (ylim[1] / 10, ylim[1]) if ylim[1] > 0 else (0.1, 1.0)
    frame = Frame(width, height, xlim, ylim, ylog)
    parts = []
    for k, (name, start, end) in enumerate(bands):
        a, b = float(frame.px(start)), float(frame.px(end + 1))
        a, b = max(a, frame.x0), min(b, frame.x1)
        if b > a:
            cls = "mx-band mx-band-odd" if k % 2 else "mx-band"
            parts.append(
                f'<rect x="{a:.1f}" y="{frame.y1}" width="{b - a:.1f}" height="{frame.y0 - frame.y1}" class="{cls}"/>'
            )
            if name and b - a > 40:
                parts.append(
                    f'<text x="{a + 4:.1f}" y="{frame.y1 + 11}" class="mx-band-label">{esc(name)}</text>'
                )
    parts += frame.axes()
    for s in series:
        parts.append(polyline(frame, s.x, s.y, s.color, s.dashed))
    if cursor is not None:
        x = float(frame.px(cursor))
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{frame.y1}" y2="{frame.y0}" class="mx-cursor"/>'
        )
    return frame.svg(parts, label)


def add_cursor(svg: str, at: float, *, xlim: tuple[float, float], width: int, height: int) -> str:
    """``svg`` (a :func:`line_chart` of that size and ``xlim``) with a cursor at x = ``at``: a
    chart whose lines did not change is drawn once and only its cursor moves."""
    frame = Frame(width, height, xlim, (0.0, 1.0))
    x = float(frame.px(at))
    line = f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{frame.y1}" y2="{frame.y0}" class="mx-cursor"/>'
    return svg[: -len("</svg>")] + line + "</svg>"


def scatter_chart(
    layers: Sequence[Points],
    *,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    width: int = 300,
    height: int = 300,
    label: str = "",
    rings: Sequence[float] = (),
) -> str:
    """Scatter layers drawn in order (later on top), over dashed circles of radii ``rings``
    around the origin (e.g. the unit circle)."""
    frame = Frame(width, height, xlim, ylim)
    parts = frame.axes()
    clip = f"mx-clip-{next(_CLIP_IDS)}"
    parts.append(
        f'<clipPath id="{clip}"><rect x="{frame.x0 - 6}" y="{frame.y1 - 6}" '
        f'width="{frame.x1 - frame.x0 + 12}" height="{frame.y0 - frame.y1 + 12}"/></clipPath>'
        f'<g clip-path="url(#{clip})">'
    )
    for r in rings:
        cx, cy = float(frame.px(0.0)), float(frame.py(0.0))
        rx = float(frame.px(r)) - cx
        ry = cy - float(frame.py(r))
        parts.append(
            f'<ellipse cx="{cx:.1f}" cy="{cy:.1f}" rx="{rx:.1f}" ry="{ry:.1f}" class="mx-ring"/>'
        )
    for layer in layers:
        parts.append(_points(frame, layer))
    parts.append("</g>")
    return frame.svg(parts, label)


def _points(frame: Frame, layer: Points) -> str:
    """One layer's circles, grouped by colour (a lighter page) unless nearly every point has
    its own colour (then each circle carries its fill)."""
    px, py = frame.px(layer.x), frame.py(layer.y)
    ok = np.isfinite(px) & np.isfinite(py)
    xy = np.stack([px[ok], py[ok]], axis=1)
    colors = np.full(len(px), layer.color, dtype=object) if isinstance(layer.color, str) else np.asarray(list(layer.color), dtype=object)  # fmt: skip
    colors = colors[ok]
    # fill-opacity, not opacity: a group's opacity makes the browser paint it off-screen first
    alpha = f' fill-opacity="{layer.opacity}"' if layer.opacity < 1 else ""
    r = layer.radius
    if layer.hollow:
        base, paint = ' fill="white" fill-opacity="0.85" stroke-width="1.6"', "stroke"
    else:
        edge = f' stroke="{layer.outline}" stroke-width="1"' if layer.outline else ""
        base, paint = edge + alpha, "fill"
    # one %-format per group, not one f-string per circle (rebuilt at every refresh)
    dot = f'<circle cx="%.1f" cy="%.1f" r="{r}"/>'
    groups = {c: None for c in colors.tolist()}  # first-seen order
    if len(groups) * 4 > len(xy):  # nearly one colour per point: no groups
        each = f'<circle cx="%.1f" cy="%.1f" r="{r}" {paint}="%s"/>'
        cells = [
            v for (x, y), c in zip(xy.tolist(), colors.tolist(), strict=True) for v in (x, y, c)
        ]
        return f"<g{base}>{(each * len(xy)) % tuple(cells)}</g>"
    out = []
    for c in groups:
        mine = xy[colors == c]
        out.append(f'<g{base} {paint}="{c}">{(dot * len(mine)) % tuple(mine.ravel().tolist())}</g>')
    return "".join(out)


def limits(*arrays: np.ndarray, pad: float = 0.08, square: bool = True) -> tuple[tuple[float, float], tuple[float, float]]:  # fmt: skip
    """Axis limits that follow the data (robust to a few outliers: 0.5–99.5 percentiles of the
    points, but never cutting off the first array, e.g. the codes)."""
    xs = [np.asarray(a, float)[:, 0] for a in arrays if len(a)]
    ys = [np.asarray(a, float)[:, 1] for a in arrays if len(a)]
    if not xs:
        return (-1.0, 1.0), (-1.0, 1.0)
    x, y = np.concatenate(xs), np.concatenate(ys)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if not len(x):
        return (-1.0, 1.0), (-1.0, 1.0)
    lo, hi = np.percentile(np.stack([x, y], axis=1), [0.5, 99.5], axis=0)
    first = np.asarray(arrays[0], float)
    if len(first):
        lo = np.minimum(lo, np.nanmin(first[:, :2], axis=0))
        hi = np.maximum(hi, np.nanmax(first[:, :2], axis=0))
    span = np.maximum(hi - lo, 1e-6)
    if square:
        mid, half = (lo + hi) / 2, span.max() / 2 * (1 + pad)
        return (mid[0] - half, mid[0] + half), (mid[1] - half, mid[1] + half)
    return (lo[0] - pad * span[0], hi[0] + pad * span[0]), (
        lo[1] - pad * span[1],
        hi[1] + pad * span[1],
    )


def png(gray: np.ndarray) -> bytes:
    """An 8-bit greyscale PNG of ``gray`` (values in [0, 1]; 0 white, 1 black)."""
    pixels = np.round((1.0 - np.clip(gray, 0.0, 1.0)) * 255).astype(np.uint8)
    h, w = pixels.shape
    rows = np.concatenate([np.zeros((h, 1), np.uint8), pixels], axis=1)  # filter byte 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes())) + chunk(b"IEND", b"")  # fmt: skip


def image_strip(images: np.ndarray, columns: int, scale: int = 4) -> str:
    """Greyscale images ``(N, h, w)`` in [0, 1] as one PNG ``<img>`` (pixels kept sharp)."""
    n, h, w = images.shape
    rows = math.ceil(n / columns)
    grid = np.zeros((rows * (h + 1) - 1, columns * (w + 1) - 1))
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        grid[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = img
    uri = "data:image/png;base64," + b64encode(png(grid)).decode("ascii")
    return (
        f'<img class="mx-pixels" src="{uri}" width="{grid.shape[1] * scale}" '
        f'height="{grid.shape[0] * scale}" alt="images"/>'
    )


def legend(items: Sequence[tuple[str, str]], hollow: Sequence[bool] | None = None) -> str:
    """A row of coloured swatches with names."""
    hollow = hollow or [False] * len(items)
    out = []
    for (name, color), ring in zip(items, hollow, strict=True):
        style = f"border:2px solid {color};background:white" if ring else f"background:{color}"
        out.append(f'<span class="mx-key"><i style="{style}"></i>{esc(name)}</span>')
    return '<div class="mx-legend">' + "".join(out) + "</div>"

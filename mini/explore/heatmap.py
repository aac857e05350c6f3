"""An inline-SVG heatmap for the explorer's panels: a matrix as coloured cells with row and
column names, row swatches, separators, framed cells and a colour bar.

Drawn as a string like the charts of :mod:`mini.explore.svg` (the page refreshes twice a
second; no figure is rasterised on the server). Colours come from a matplotlib colormap read
once into a lookup table.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from mini.explore.svg import esc, fmt

_GRADIENT_IDS = itertools.count()  # gradient ids must be unique within the page


@lru_cache(maxsize=8)
def ramp(name: str = "Purples", n: int = 64) -> tuple[str, ...]:
    """``n`` hex colours along the matplotlib colormap ``name`` (no figure is made)."""
    from matplotlib import colormaps

    rgb = colormaps[name](np.linspace(0.0, 1.0, n))[:, :3]
    return tuple(f"#{r:02x}{g:02x}{b:02x}" for r, g, b in np.round(rgb * 255).astype(int))


def heatmap(
    matrix: np.ndarray,
    rows: Sequence[str],
    columns: Sequence[str],
    *,
    row_marks: Sequence[str | None] | None = None,
    outline: np.ndarray | None = None,
    breaks: Sequence[int] = (),
    column_notes: Sequence[str] | None = None,
    notes_label: str = "",
    vlim: tuple[float, float] = (0.0, 1.0),
    colormap: str = "Purples",
    scale_label: str = "",
    label: str = "",
    tooltips: bool = True,
) -> str:
    """``matrix`` (rows × columns) as coloured cells, row names on the left, column names on
    top and a colour bar below. ``row_marks``: a swatch colour per row (``None``: none);
    ``outline``: a boolean mask of cells to frame (e.g. what a hard choice picked);
    ``breaks``: rows above which a separator is drawn (e.g. between groups); ``column_notes``:
    a second header line per column, named ``notes_label`` on its left. Hovering a cell shows
    its row, column and value (for up to 2,000 cells: beyond that the page would grow more
    than the tooltips are worth)."""
    m = np.asarray(matrix, dtype=float)
    n_rows, n_cols = m.shape
    if len(rows) != n_rows or len(columns) != n_cols:
        raise ValueError(f"{len(rows)}×{len(columns)} names for a {n_rows}×{n_cols} matrix")
    lut = ramp(colormap)
    cw = int(min(40, max(18, 216 // max(n_cols, 1))))
    ch = 12 if n_rows <= 40 else 10
    label_w = int(max((len(str(r)) for r in rows), default=1) * 5.7) + 6
    x0 = label_w + (12 if row_marks is not None else 4)
    y0 = 30 if column_notes is not None else 18
    bottom = y0 + n_rows * ch
    width, height = x0 + n_cols * cw + 8, bottom + 38
    lo, hi = vlim
    span = max(hi - lo, 1e-12)
    idx = np.clip(np.round((m - lo) / span * (len(lut) - 1)), 0, len(lut) - 1)
    idx = np.where(np.isfinite(m), idx, 0).astype(int)
    tips = tooltips and m.size <= 2000
    parts = []
    if column_notes is not None and notes_label:
        parts.append(
            f'<text x="{x0 - 4}" y="24" class="mx-tick" text-anchor="end" font-size="9">'
            f"{esc(notes_label)}</text>"
        )
    for j, name in enumerate(columns):
        x = x0 + (j + 0.5) * cw
        parts.append(
            f'<text x="{x:.1f}" y="12" class="mx-tick" text-anchor="middle" '
            f'font-weight="600">{esc(name)}</text>'
        )
        if column_notes is not None:
            parts.append(
                f'<text x="{x:.1f}" y="24" class="mx-tick" text-anchor="middle" '
                f'font-size="9">{esc(column_notes[j])}</text>'
            )
    for i, name in enumerate(rows):
        y = y0 + i * ch
        parts.append(
            f'<text x="{label_w}" y="{y + ch - 3}" class="mx-tick" text-anchor="end">'
            f"{esc(name)}</text>"
        )
        mark = row_marks[i] if row_marks is not None else None
        if mark is not None:
            parts.append(
                f'<rect x="{label_w + 3}" y="{y + 1.5}" width="6" height="{ch - 3}" rx="1.5" '
                f'fill="{esc(mark)}"/>'
            )
        for j in range(n_cols):
            tip = f"<title>{esc(name)} → {esc(columns[j])}: {m[i, j]:.3f}</title>" if tips else ""
            parts.append(
                f'<rect x="{x0 + j * cw}" y="{y}" width="{cw}" height="{ch}" '
                f'fill="{lut[idx[i, j]]}">{tip}</rect>'
            )
    parts.append(
        f'<rect x="{x0}" y="{y0}" width="{n_cols * cw}" height="{n_rows * ch}" fill="none" '
        'stroke="#cbd5e1"/>'
    )
    for b in breaks:
        if 0 < b < n_rows:
            y = y0 + b * ch
            parts.append(
                f'<line x1="{max(label_w - 40, 0)}" x2="{x0 + n_cols * cw}" y1="{y}" y2="{y}" '
                'stroke="#64748b" stroke-width="1"/>'
            )
    if outline is not None:
        for i, j in zip(*np.nonzero(np.asarray(outline, bool)), strict=True):
            parts.append(
                f'<rect x="{x0 + j * cw + 1.5}" y="{y0 + i * ch + 1.5}" width="{cw - 3}" '
                f'height="{ch - 3}" fill="none" stroke="#f59e0b" stroke-width="1.3"/>'
            )
    parts += _colour_bar(lut, x0, bottom + 10, n_cols * cw, vlim, scale_label)
    return (
        f'<svg class="mx-chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{esc(label)}" style="max-width:{round(width * 1.35)}px" '
        f'xmlns="http://www.w3.org/2000/svg">' + "".join(parts) + "</svg>"
    )


def _colour_bar(
    lut: Sequence[str], x0: float, y: float, width: float, vlim: tuple[float, float], label: str
) -> list[str]:
    lo, hi = vlim
    grad = f"mx-ramp-{next(_GRADIENT_IDS)}"
    picks = np.unique(np.linspace(0, len(lut) - 1, 17).round().astype(int))
    stops = "".join(
        f'<stop offset="{k / (len(lut) - 1):.3f}" stop-color="{lut[k]}"/>' for k in picks
    )
    out = [
        f'<defs><linearGradient id="{grad}">{stops}</linearGradient></defs>'
        f'<rect x="{x0}" y="{y}" width="{width}" height="8" fill="url(#{grad})" stroke="#cbd5e1"/>'
    ]
    ticks = [(lo, "start", fmt(lo)), (hi, "end", fmt(hi))]
    ticks.append(((lo + hi) / 2, "middle", label or fmt((lo + hi) / 2)))  # the label, else mid
    for v, anchor, text in ticks:
        x = x0 + (v - lo) / max(hi - lo, 1e-12) * width
        out.append(
            f'<text x="{x:.1f}" y="{y + 19}" class="mx-tick" text-anchor="{anchor}">{esc(text)}</text>'
        )
    return out

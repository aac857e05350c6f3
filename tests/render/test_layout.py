"""Curve decimation: a long line keeps its look at the panel's width with far fewer points."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mini.render.layout import line_points


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 300), st.integers(0, 2**32 - 1))
def test_every_column_keeps_its_first_last_lowest_and_highest_point(
    n: int, columns: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0, 1000, n)) if n else np.zeros(0)
    y = rng.normal(size=n).cumsum()
    keep = line_points(x, y, columns)
    kx, ky = x[keep], y[keep]
    if n <= 4 * columns:
        assert len(kx) == n
        return
    assert len(kx) <= 4 * columns
    assert kx[0] == x[0] and kx[-1] == x[-1]
    col = np.minimum(((x - x[0]) / (x[-1] - x[0]) * columns).astype(int), columns - 1)
    kcol = np.minimum(((kx - x[0]) / (x[-1] - x[0]) * columns).astype(int), columns - 1)
    for c in np.unique(col):
        assert ky[kcol == c].min() == y[col == c].min()
        assert ky[kcol == c].max() == y[col == c].max()


def test_lines_with_gaps_or_unsorted_x_are_kept_whole() -> None:
    x = np.arange(5000.0)
    y = np.sin(x / 50)
    y[100] = np.nan
    assert line_points(x, y, 100) == slice(None)
    assert line_points(x[::-1], np.sin(x), 100) == slice(None)


def test_a_decimated_line_looks_the_same() -> None:
    x = np.arange(20_001.0)
    y = np.exp(-x / 4000) + 0.05 * np.random.default_rng(0).normal(size=len(x))

    def draw(keep: np.ndarray | slice) -> np.ndarray:
        fig = Figure(figsize=(5.5, 1.0), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.plot(x[keep], y[keep], lw=1.2)
        ax.set_xlim(x[0], x[-1])
        ax.set_ylim(y.min(), y.max())
        ax.set_axis_off()
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)

    keep = line_points(x, y, 550)
    assert len(x[keep]) < len(x) / 8
    full, fewer = draw(slice(None)), draw(keep)
    differs = np.abs(full - fewer).max(axis=-1) > 64
    assert differs.mean() < 0.01

"""Pictures of the feature → category assignment: a heatmap, and an MP4 of it sharpening.

The video's static parts (axes, feature names, curves) are drawn once; each frame restores
that background and redraws only the heatmap, the cursors and the title (matplotlib blitting
on the Agg canvas), then streams the canvas's RGBA buffer to ffmpeg through
:class:`mini.render.video.VideoWriter`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SIZE = (1280, 720)


def feature_labels(features: Sequence[str], groups: np.ndarray | None) -> list[str]:
    """Feature names for the pictures; with a planted grouping, each with its group (``f03 ·
    g2``) or ``noise`` for a distractor, so the recovery can be seen."""
    if groups is None:
        return [str(f) for f in features]
    return [
        f"{f} · {'noise' if g < 0 else f'g{g}'}"
        for f, g in zip(features, np.asarray(groups).tolist(), strict=True)
    ]


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _heatmap(ax: Any, matrix: np.ndarray, features: Sequence[str], categories: Sequence[str]):
    im = ax.imshow(matrix, aspect="auto", cmap="magma", vmin=0.0, vmax=1.0, interpolation="none")
    ax.set_yticks(
        range(len(features)), [str(f) for f in features], fontsize=max(4, 9 - len(features) // 10)
    )
    ax.set_xticks(range(len(categories)), list(categories), fontsize=8)
    ax.set_xlabel("category")
    return im


def plot_assignment(
    matrix: np.ndarray, features: Sequence[str], title: str, categories: Sequence[str] | None = None
) -> Any:
    """Heatmap of an assignment matrix (features × categories), feature names on the axis."""
    cats = categories or [f"c{i}" for i in range(matrix.shape[1])]
    fig = _figure(2.5 + 0.45 * matrix.shape[1], 1.5 + 0.16 * matrix.shape[0])
    ax = fig.add_subplot(1, 1, 1)
    im = _heatmap(ax, matrix, features, cats)
    fig.colorbar(im, ax=ax, label="P(category | feature)", fraction=0.08)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def _curve_panel(
    ax: Any, title: str, series: dict[str, tuple[np.ndarray, np.ndarray]], log: bool = False
):
    for label, (x, y) in series.items():
        ax.plot(x, y, lw=1.3, label=label)
    if log:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=9, loc="left")
    ax.tick_params(labelsize=7)
    if len(series) > 1:
        ax.legend(fontsize=7, loc="upper right", frameon=False)
    return ax.axvline(0, color="0.2", lw=1.0, animated=True)


def render_assignment_video(
    path: Path,
    steps: Sequence[int],
    frames: Sequence[np.ndarray],
    features: Sequence[str],
    schedule: pd.DataFrame,
    history: pd.DataFrame,
    *,
    title: str,
    fps: float = 20,
) -> float:
    """Write the MP4 (one frame per recorded assignment); returns frames drawn per second."""
    import time

    from mini.render.video import VideoWriter

    if not frames:
        raise ValueError("no assignment frames were recorded")
    t0 = time.perf_counter()
    fig = _figure(SIZE[0] / 100, SIZE[1] / 100)
    grid = fig.add_gridspec(3, 2, width_ratios=[1.0, 1.25], left=0.08, right=0.97, top=0.9,
                            bottom=0.08, hspace=0.45, wspace=0.18)  # fmt: skip
    ax_map = fig.add_subplot(grid[:, 0])
    k = frames[0].shape[1]
    im = _heatmap(ax_map, frames[0], features, [f"c{i}" for i in range(k)])
    im.set_animated(True)
    s = schedule["STEP"].to_numpy()
    cursors = []
    temp = schedule["assign-temperature"].to_numpy() if "assign-temperature" in schedule else None
    panel = {"assign-temperature (dopesheet)": (s, temp)} if temp is not None else {}
    cursors.append(
        _curve_panel(fig.add_subplot(grid[0, 1]), "assignment temperature", panel, log=True)
    )
    h = history
    hs = h["step"].to_numpy() if len(h) else np.zeros(0)
    losses = {
        name: (hs, h[name].to_numpy())
        for name in ("assign_overlap", "assign_imbalance", "assign_near_hard")
        if name in h
    }
    cursors.append(_curve_panel(fig.add_subplot(grid[1, 1]), "assignment (validation)", losses))
    quality = {
        name: (hs, h[name].to_numpy())
        for name in ("utilization", "recon_quality", "topographic_correlation")
        if name in h
    }
    cursors.append(_curve_panel(fig.add_subplot(grid[2, 1]), "tokenizer (validation)", quality))
    label = fig.text(0.08, 0.95, "", fontsize=12, weight="bold", animated=True)
    fig.suptitle(title, x=0.97, y=0.975, ha="right", fontsize=10)
    canvas = fig.canvas
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)
    temps = dict(zip(s.tolist(), temp.tolist(), strict=True)) if temp is not None else {}
    with VideoWriter(
        path, SIZE, fps=fps, total=len(frames), description="assignment video"
    ) as video:
        for step, matrix in zip(steps, frames, strict=True):
            canvas.restore_region(background)
            im.set_data(matrix)
            for c in cursors:
                c.set_xdata([step, step])
            t = temps.get(step)
            label.set_text(f"step {step:,}" + (f"   temperature {t:.3g}" if t is not None else ""))
            for artist in (im, *cursors, label):
                fig.draw_artist(artist)
            video.write(np.asarray(canvas.buffer_rgba()))
    return len(frames) / (time.perf_counter() - t0)

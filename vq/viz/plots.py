"""Codebook plots: health over time (from a metrics history) and a reconstructions grid.

Figures are built with :class:`matplotlib.figure.Figure` (no pyplot state), so library code and
tests can make them headless; save them with ``fig.savefig`` or, in a script,
:meth:`mini.training.script.RunContext.save_figure`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from torch import Tensor

LEVEL_COLORS = ("C0", "C1", "C2", "C3", "C4", "C5")


def _level_count(history: pd.DataFrame, prefix: str) -> int:
    n = 0
    while f"extras.{prefix}l{n}/active" in history.columns:
        n += 1
    return n


def plot_codebook_health(
    history: pd.DataFrame,
    codes: Sequence[int],
    *,
    phase_starts: Sequence[tuple[int, str | None]] = (),
    refresh_steps: Sequence[int] = (),
    title: str = "",
) -> Figure:
    """Active codes (top) and perplexity (bottom) of each level against the step, from the
    columns a :class:`~vq.HealthMonitor` writes: held-out ``extras.vq/l{i}/active`` and
    ``/perplexity`` as solid lines, the training window's ``extras.vq/train/l{i}/...`` as thin
    dashed lines of the same colour (the held-out ones alone when the monitor had no
    validation split, the training window's alone). ``codes[i]`` (level ``i``'s codebook size)
    is drawn as a dotted ceiling on both; phase starts as dashed grey lines, ``refresh``
    actions as thin red ticks."""
    series = [p for p in ("vq/", "vq/train/") if _level_count(history, p)]
    if not series:
        raise ValueError("the history has no extras.vq/l0/active column: was a HealthMonitor on?")
    n = _level_count(history, series[0])
    if len(codes) != n:
        raise ValueError(f"{len(codes)} codebook sizes for {n} levels in the history")
    fig = Figure(figsize=(8.0, 5.6), layout="constrained")
    ax_active, ax_ppl = fig.subplots(2, 1, sharex=True)
    steps = history["step"].to_numpy(dtype=float)
    for i in range(n):
        color = LEVEL_COLORS[i % len(LEVEL_COLORS)]
        for ax, key in ((ax_active, "active"), (ax_ppl, "perplexity")):
            for prefix in series:
                column = f"extras.{prefix}l{i}/{key}"
                if column not in history.columns:
                    continue
                y = history[column].to_numpy(dtype=float)
                ok = np.isfinite(y)
                if prefix == series[0]:
                    # Earlier levels drawn wider, so equal curves (e.g. all active) stay visible.
                    lw, ls, label = 1.2 + 1.2 * (n - 1 - i), "-", f"level {i}"
                else:
                    lw, ls, label = 0.9, "--", f"level {i}, training window"
                ax.plot(steps[ok], y[ok], color=color, lw=lw, ls=ls, label=label, zorder=2 + i)
            ax.axhline(codes[i], color=color, lw=0.8, ls=":", alpha=0.8)
    for ax in (ax_active, ax_ppl):
        for start, _ in phase_starts:
            ax.axvline(start, color="0.6", lw=0.8, ls="--", zorder=0.5)
        for s in refresh_steps:
            ax.axvline(s, color="tab:red", lw=0.6, alpha=0.5, zorder=0.4)
        ax.grid(True, lw=0.4, alpha=0.4)
        ax.set_ylim(bottom=0)
    for start, name in phase_starts:
        if name:
            ax_active.text(
                start, 1.01, f" {name}", transform=ax_active.get_xaxis_transform(),
                fontsize=8, color="0.35", va="bottom",
            )  # fmt: skip
    where = "held-out" if series[0] == "vq/" else "training window"
    ax_active.set_ylabel(f"active codes ({where})")
    ax_ppl.set_ylabel("perplexity")
    ax_ppl.set_xlabel("step" + ("   (red: refresh actions)" if len(refresh_steps) else ""))
    ax_active.legend(loc="lower right", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def plot_reconstructions(
    inputs: Tensor,
    outputs: Tensor,
    *,
    columns: int = 10,
    image_shape: tuple[int, int] = (8, 8),
    title: str = "",
) -> Figure:
    """Inputs and their reconstructions as alternating rows of images (input row, then the
    reconstruction row beneath it), ``columns`` images per row; values clipped to ``[0, 1]``."""
    x = inputs.detach().cpu().float().numpy().reshape(-1, *image_shape)
    y = outputs.detach().cpu().float().numpy().reshape(-1, *image_shape)
    if x.shape != y.shape:
        raise ValueError(f"{len(x)} inputs but {len(y)} reconstructions")
    pairs = -(-len(x) // columns)
    fig = Figure(figsize=(columns * 0.8, pairs * 1.7 + 0.4), layout="constrained")
    axes = np.asarray(fig.subplots(2 * pairs, columns, squeeze=False))
    for ax in axes.flat:
        ax.set_axis_off()
    for k in range(len(x)):
        r, c = divmod(k, columns)
        for row, images in ((2 * r, x), (2 * r + 1, y)):
            axes[row, c].imshow(np.clip(images[k], 0, 1), cmap="gray_r", vmin=0, vmax=1)
    for r in range(pairs):
        axes[2 * r, 0].text(-0.6, 0.5, "input", transform=axes[2 * r, 0].transAxes, ha="right",
                            va="center", fontsize=8)  # fmt: skip
        axes[2 * r + 1, 0].text(-0.6, 0.5, "recon", transform=axes[2 * r + 1, 0].transAxes,
                                ha="right", va="center", fontsize=8)  # fmt: skip
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def class_examples(labels: Tensor, per_class: int = 2) -> Tensor:
    """Indices of the first ``per_class`` examples of each label, ordered ``0, 1, …, 0, 1, …``
    (so a grid with one column per class shows each class in its own column)."""
    classes = sorted(int(c) for c in labels.unique())
    picks: list[list[int]] = []
    for c in classes:
        idx = (labels == c).nonzero().squeeze(1)[:per_class].tolist()
        picks.append(idx)
    rounds = max((len(p) for p in picks), default=0)
    order = [p[r] for r in range(rounds) for p in picks if r < len(p)]
    return torch.tensor(order, dtype=torch.long)

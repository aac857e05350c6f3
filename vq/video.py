"""The codebook-evolution video: encoder outputs, codes and the schedule that moved them.

What is drawn, per frame (the model as it enters that step):

- the probe digits' encoder outputs, coloured by digit class (small dots);
- level 0's codes: ● active, ○ dead (used / not used in the quantizer's usage window);
- for a residual quantizer, the *composite* codes ``c₀[i] + c₁[j]`` — the points level 0 and
  level 1 together can decode to. Level 1's codes are offsets around whatever level 0 chose, so
  drawing them at their own coordinates (near the origin) would say nothing; drawn around each
  active level-0 code they show the grid the two levels really tile the latent space with. A
  composite is ● when its level-1 code is active, ○ when dead; composites of dead level-0 codes
  are hidden. With more pairs than ``max_composites`` (e.g. 256 × 256) only the composites the
  probe digits are quantized to are drawn. Levels beyond the second are not drawn (the title
  says so).

Latents wider than 2-D are projected on the two principal axes of the last frame's encoder
outputs; codes go through the same projection. On the right: the schedule's curves, active
codes per level and the smoothed reconstruction loss, with a cursor at the frame's step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from torch import Tensor

from mini.render import CurvePanel, LatentAnimation, ScatterLayer, schedule_panels, schedule_phases
from mini.temporal import Dopesheet


def projection(latents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, axes)`` such that ``(x - mean) @ axes`` maps ``(..., E)`` points to 2-D: the
    identity for a 2-D latent, else the two principal axes of ``latents`` ``(N, E)``."""
    dim = latents.shape[-1]
    if dim == 2:
        return np.zeros(2), np.eye(2)
    if dim < 2:
        raise ValueError(f"cannot draw a {dim}-D latent in 2-D")
    ok = np.isfinite(latents).all(axis=1)
    x = latents[ok].astype(float)
    mean = x.mean(0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    return mean, vt[:2].T


def composite_codes(level0: np.ndarray, level1: np.ndarray) -> np.ndarray:
    """Every sum ``level0[..., i, :] + level1[..., j, :]`` as ``(..., K0 * K1, E)`` (row-major
    in ``i``, so point ``i * K1 + j`` is code ``i`` of level 0 plus code ``j`` of level 1)."""
    sums = level0[..., :, None, :] + level1[..., None, :, :]
    return sums.reshape(*level0.shape[:-2], -1, level0.shape[-1])


def view_limits(points: np.ndarray, margin: float = 0.12) -> tuple[tuple[float, float], ...]:
    """Axis limits around the bulk of ``points`` ``(..., 2)`` (0.5–99.5 percentiles of every
    frame together, plus a margin), so one stray early frame does not shrink the rest."""
    flat = points.reshape(-1, 2)
    flat = flat[np.isfinite(flat).all(axis=1)]
    if len(flat) == 0:
        return (-1.0, 1.0), (-1.0, 1.0)
    lo, hi = np.percentile(flat, [0.5, 99.5], axis=0)
    span = np.maximum(hi - lo, 1e-6)
    lo, hi = lo - margin * span, hi + margin * span
    return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))


def _schedule_groups(dopesheet: Dopesheet) -> tuple[dict[str, list[str]], list[str]]:
    """Curve panels for the schedule: learning rates, temperatures, and the other knobs."""
    props = [p for p in dopesheet.specs if p != "recon"]
    groups = {
        "lr": [p for p in props if p == "lr" or p.startswith("lr-")],
        "temperature": [p for p in props if p.startswith("temperature")],
    }
    groups["knobs"] = [p for p in props if p not in groups["lr"] and p not in groups["temperature"]]
    log = [p for p, spec in dopesheet.specs.items() if spec.space == "log"]
    return {k: v for k, v in groups.items() if v}, log


def codebook_animation(
    steps: np.ndarray,
    frames: Mapping[str, Tensor],
    labels: Tensor,
    schedule: pd.DataFrame,
    history: pd.DataFrame,
    dopesheet: Dopesheet,
    *,
    title: str = "",
    loss_columns: Sequence[str] = ("losses.recon",),
    max_composites: int = 1024,
) -> LatentAnimation:
    """The animation of a run recorded with :func:`vq.experiment.codebook_probe` at ``steps``.

    ``frames``: the recorder's ``frames`` (``latents``, ``codes``, ``codebook/i``,
    ``active/i``); with more than ``max_composites`` level-0 × level-1 pairs only the composite
    codes the probe is quantized to are drawn;
    ``labels``: the probe's digit classes; ``schedule``: ``realize(timeline)``; ``history``:
    the trainer's metrics history (``extras.vq/l{i}/active`` from the health monitor).
    """
    latents = frames["latents"].numpy()
    n_levels = sum(1 for k in frames if k.startswith("codebook/"))
    mean, axes = projection(latents[-1])

    def project(x: np.ndarray) -> np.ndarray:
        return (x - mean) @ axes

    points = project(latents)
    colors = colormaps["tab10"](labels.numpy() % 10)[:, :3]
    code0 = frames["codebook/0"].numpy()
    active0 = frames["active/0"].numpy() > 0.5
    layers = [
        ScatterLayer(points, colors=colors, size=7.0, alpha=0.55, zorder=1.0),
    ]
    if n_levels > 1:
        code1 = frames["codebook/1"].numpy()
        k0, k1 = code0.shape[1], code1.shape[1]
        active1 = frames["active/1"].numpy() > 0.5
        if k0 * k1 <= max_composites:
            layers.append(
                ScatterLayer(
                    project(composite_codes(code0, code1)),
                    colors="0.15",
                    size=10.0,
                    filled=np.tile(active1, (1, k0)),
                    visible=np.repeat(active0, k1, axis=1),
                    linewidth=0.8,
                    label="level 0 + level 1 codes",
                    zorder=2.0,
                )
            )
        else:
            # Too many pairs to draw (or to see): only those the probe is quantized to.
            raw = frames["codes"].numpy()
            recorded = np.isfinite(raw).all(axis=-1)  # frames a resumed run never recorded
            c = np.where(np.isfinite(raw), raw, 0).astype(np.int64)
            rows = np.arange(len(c))[:, None]
            layers.append(
                ScatterLayer(
                    project(code0[rows, c[..., 0]] + code1[rows, c[..., 1]]),
                    colors="0.15",
                    size=10.0,
                    filled=active1[rows, c[..., 1]],
                    visible=recorded,
                    linewidth=0.8,
                    label="level 0 + level 1 codes the digits use",
                    zorder=2.0,
                )
            )
    layers.append(
        ScatterLayer(
            project(code0),
            colors="crimson",
            size=55.0,
            filled=active0,
            linewidth=1.5,
            label="level 0 codes (● active ○ dead)",
            zorder=3.0,
        )
    )

    groups, log = _schedule_groups(dopesheet)
    panels = schedule_panels(schedule, groups=groups, log=log)
    active_cols = [f"extras.vq/l{i}/active" for i in range(n_levels)]
    active_cols = [c for c in active_cols if c in history.columns]
    if active_cols:
        panel = CurvePanel.from_frame(history, active_cols, x="step", title="active codes")
        for i, curve in enumerate(panel.curves):
            curve.label = f"level {i}"
        panels.append(panel)
    losses = [c for c in loss_columns if c in history.columns]
    if losses:
        window = max(1, len(history) // 200)
        smooth = history[["step"]].copy()
        for c in losses:
            smooth[c.removeprefix("losses.")] = history[c].rolling(window, min_periods=1).mean()
        names = [c.removeprefix("losses.") for c in losses]
        panels.append(
            CurvePanel.from_frame(smooth, names, x="step", log=True, title="loss (smoothed)")
        )
    phases, starts = schedule_phases(schedule, steps)
    xlim, ylim = view_limits(points)
    digits = sorted(int(c) for c in labels.unique())

    def digit_key(ax: Axes) -> None:
        handles = [
            Line2D([], [], ls="none", marker="o", ms=5, color=colormaps["tab10"](d % 10))
            for d in digits
        ]
        key = ax.legend(handles, [str(d) for d in digits], loc="lower left", fontsize=7,
                        ncol=5, title="digit", title_fontsize=7, framealpha=0.8)  # fmt: skip
        ax.add_artist(key)

    wide = latents.shape[-1] > 2
    extra = f"; levels 2–{n_levels - 1} not drawn" if n_levels > 2 else ""
    return LatentAnimation(
        steps,
        layers=layers,
        panels=panels,
        phases=phases,
        phase_starts=starts,
        title=title + extra,
        xlabel="PC 1" if wide else "latent 0",
        ylabel="PC 2" if wide else "latent 1",
        xlim=xlim,
        ylim=ylim,
        decorate=digit_key,
    )

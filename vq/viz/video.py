"""The codebook-evolution video: encoder outputs, codes and the schedule that moved them.

What is drawn, per frame (the model as it enters that step):

- the probe digits' encoder outputs, coloured by digit class: the picture's subject, and what
  the axes follow (smoothly, frame by frame: early frames are not one blob in a huge box);
- level 0's codes on top, small so the digits stay visible: ● in use, ○ dead (not used in the
  quantizer's usage window). Codes outside the view are counted in the panel's corner
  ("236 dead codes off-screen");
- for a residual quantizer, the *composite* codes ``c₀[i] + c₁[j]`` as small dots: the points
  level 0 and level 1 together decode to (level 1's codes are offsets around whatever level 0
  chose, so drawn at their own coordinates they would say nothing). A composite is ● when its
  level-1 code is in use, ○ when dead; composites of dead level-0 codes are hidden. With more
  pairs than ``max_composites`` only those the probe digits are quantized to are drawn. Levels
  beyond the second are not drawn (the title says so).

Latents wider than 2-D are projected on the principal axes of the last frame's encoder outputs
*and* level-0 codes, weighted equally. Fitting the digits alone would squash codes that sit off
the digits' plane onto it: a collapsed codebook whose dead codes all shrank to one far-away
spot would be drawn among the digits, where it is not. On the right: the schedule's curves,
the held-out metrics the health monitor logged (quality, utilization and perplexity per level)
and the smoothed training loss, with a cursor at the frame's step.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from torch import Tensor

from mini.render import (
    Curve,
    CurvePanel,
    FollowView,
    LatentAnimation,
    ScatterLayer,
    schedule_panels,
    schedule_phases,
    within_reach,
)
from mini.temporal import Dopesheet

CODE_COLOR = "crimson"
DEAD_COLOR = "0.1"
REACH = 1.0  # codes within this many digit-box sizes of the digits widen the view
FRACTION = (-0.05, 1.05)  # y range of quality and utilization panels (early negative quality
# is cut off rather than squashing the rest of the run against the top)


def projection(
    latents: np.ndarray, codes: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, axes)`` such that ``(x - mean) @ axes`` maps ``(..., E)`` points to 2-D: the
    identity for a 2-D latent, else the two principal axes of ``latents`` ``(N, E)`` and
    ``codes`` ``(K, E)`` together, each set weighted equally whatever its size."""
    dim = latents.shape[-1]
    if dim == 2:
        return np.zeros(2), np.eye(2)
    if dim < 2:
        raise ValueError(f"cannot draw a {dim}-D latent in 2-D")
    sets = [latents] if codes is None else [latents, codes]
    sets = [s[np.isfinite(s).all(axis=1)].astype(float) for s in sets]
    sets = [s for s in sets if len(s)]
    mean = np.mean([s.mean(0) for s in sets], axis=0)
    cov = np.mean([(s - mean).T @ (s - mean) / len(s) for s in sets], axis=0)
    _, vectors = np.linalg.eigh(cov)  # ascending eigenvalues
    axes = vectors[:, ::-1][:, :2].copy()
    # A fixed sign per axis (its largest component positive), so reruns look the same.
    axes *= np.sign(axes[np.abs(axes).argmax(axis=0), [0, 1]])
    return mean, axes


def composite_codes(level0: np.ndarray, level1: np.ndarray) -> np.ndarray:
    """Every sum ``level0[..., i, :] + level1[..., j, :]`` as ``(..., K0 * K1, E)`` (row-major
    in ``i``, so point ``i * K1 + j`` is code ``i`` of level 0 plus code ``j`` of level 1)."""
    sums = level0[..., :, None, :] + level1[..., None, :, :]
    return sums.reshape(*level0.shape[:-2], -1, level0.shape[-1])


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


def _levels(history: pd.DataFrame, name: str) -> list[tuple[int, str]]:
    """``(level, column)`` for every ``extras.vq/l{level}/{name}`` in ``history``, by level."""
    pattern = re.compile(rf"extras\.vq/l(\d+)/{re.escape(name)}")
    found = [(int(m.group(1)), c) for c in history.columns if (m := pattern.fullmatch(c))]
    return sorted(found)


def _panel(
    history: pd.DataFrame,
    columns: Sequence[tuple[str, str]],
    title: str,
    *,
    log: bool = False,
    ylim: tuple[float | None, float | None] | None = None,
) -> CurvePanel | None:
    """A panel of ``(column, label)`` curves against ``step``; ``None`` if no column has data."""
    present = [(c, label) for c, label in columns if c in history.columns]
    if not present:
        return None
    names = [c for c, _ in present]
    panel = CurvePanel.from_frame(history, names, x="step", title=title, log=log, ylim=ylim)
    panel.curves = [
        Curve(curve.x, curve.y, label)
        for curve, (_, label) in zip(panel.curves, present, strict=True)
        if len(curve.x)
    ]
    return panel if panel.curves else None


def metric_panels(history: pd.DataFrame) -> list[CurvePanel]:
    """Panels for the codebook metrics the health monitor logged, from whichever of these
    ``history`` columns exist (older runs have fewer; a group without data gets no panel):

    - quality: ``extras.vq/recon_quality``, ``extras.vq/topographic``, ``extras.vq/orthogonality``
    - utilization: ``extras.vq/utilization`` and ``extras.vq/l{i}/utilization`` per level
    - perplexity: ``extras.vq/l{i}/perplexity`` per level (log axis when they differ widely)
    - codes in use: ``extras.vq/l{i}/active``, only when no utilization was logged

    The monitor logs these plain names on the held-out split and training-window values under
    ``vq/train/...``; a history without any ``vq/train/`` column comes from a run before that
    split, whose plain names were training values, and its titles say so.
    """
    held_out = any(c.startswith("extras.vq/train/") for c in history.columns)
    where = "held-out" if held_out else "training"
    panels = [
        _panel(
            history,
            [
                ("extras.vq/recon_quality", "reconstruction"),
                ("extras.vq/topographic", "topographic"),
                ("extras.vq/orthogonality", "orthogonality"),
            ],
            f"quality ({where})",
            ylim=FRACTION,
        ),
        _panel(
            history,
            [("extras.vq/utilization", "all levels")]
            + [(c, f"level {i}") for i, c in _levels(history, "utilization")],
            f"utilization ({where})",
            ylim=FRACTION,
        ),
    ]
    perplexity = _levels(history, "perplexity")
    if perplexity:
        values = history[[c for _, c in perplexity]].to_numpy(dtype=float)
        values = values[np.isfinite(values) & (values > 0)]
        wide = values.size > 0 and values.max() > 8 * values.min()
        columns = [(c, f"level {i}") for i, c in perplexity]
        panels.append(_panel(history, columns, f"perplexity ({where})", log=wide))
    if panels[1] is None:
        columns = [(c, f"level {i}") for i, c in _levels(history, "active")]
        panels.append(_panel(history, columns, f"codes in use ({where})"))
    return [p for p in panels if p is not None]


def _loss_panel(history: pd.DataFrame, loss_columns: Sequence[str]) -> CurvePanel | None:
    losses = [c for c in loss_columns if c in history.columns]
    if not losses:
        return None
    window = max(1, len(history) // 200)
    smooth = history[["step"]].copy()
    for c in losses:
        smooth[c.removeprefix("losses.")] = history[c].rolling(window, min_periods=1).mean()
    names = [c.removeprefix("losses.") for c in losses]
    return CurvePanel.from_frame(smooth, names, x="step", log=True, title="train loss (smoothed)")


def _code_layers(
    frames: Mapping[str, Tensor],
    project: Callable[[np.ndarray], np.ndarray],
    digits: np.ndarray,
    n_levels: int,
    max_composites: int,
) -> list[ScatterLayer]:
    """Composite codes (residual VQ) and level 0's codes in use / dead, drawn over the digits
    but small and hollow enough that the digits stay visible. The view follows the digits and
    level-0 codes near them (so a clump of dead codes beside the digits is in the picture);
    codes far away are counted off-screen."""
    code0 = frames["codebook/0"].numpy()
    active0 = frames["active/0"].numpy() > 0.5
    layers = []
    if n_levels > 1:
        code1 = frames["codebook/1"].numpy()
        k0, k1 = code0.shape[1], code1.shape[1]
        active1 = frames["active/1"].numpy() > 0.5
        style = {"colors": "0.25", "size": 4.0, "linewidth": 0.5, "alpha": 0.5, "zorder": 2.0,
                 "follow": False}  # fmt: skip
        if k0 * k1 <= max_composites:
            layers.append(
                ScatterLayer(
                    project(composite_codes(code0, code1)),
                    filled=np.tile(active1, (1, k0)),
                    visible=np.repeat(active0, k1, axis=1),
                    label="level 0 + level 1 codes",
                    **style,
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
                    filled=active1[rows, c[..., 1]],
                    visible=recorded,
                    label="level 0 + level 1 codes the digits use",
                    **style,
                )
            )
    at = project(code0)
    near = within_reach(at, digits, reach=REACH)
    layers.append(
        ScatterLayer(
            at,
            colors=CODE_COLOR,
            edgecolor="white",
            size=26.0,
            linewidth=0.6,
            visible=active0,
            follow=near,
            label="level 0 codes in use",
            offscreen="{n} codes in use off-screen",
            zorder=3.0,
        )
    )
    layers.append(
        ScatterLayer(
            at,
            colors=DEAD_COLOR,
            size=26.0,
            filled=False,
            linewidth=1.0,
            visible=~active0,
            follow=near,
            label="dead level 0 codes",
            offscreen="{n} dead codes off-screen",
            zorder=3.5,
        )
    )
    return layers


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
    view: FollowView | None = None,
) -> LatentAnimation:
    """The animation of a run recorded with :func:`vq.train.experiment.codebook_probe` at ``steps``.

    ``frames``: the recorder's ``frames`` (``latents``, ``codes``, ``codebook/i``,
    ``active/i``); with more than ``max_composites`` level-0 × level-1 pairs only the composite
    codes the probe is quantized to are drawn; ``labels``: the probe's digit classes;
    ``schedule``: ``realize(timeline)``; ``history``: the trainer's metrics history (the health
    monitor's ``extras.vq/...`` columns, see :func:`metric_panels`); ``view``: how the axes
    follow the digits (default :class:`~mini.render.FollowView`).
    """
    latents = frames["latents"].numpy()
    n_levels = sum(1 for k in frames if k.startswith("codebook/"))
    mean, axes = projection(latents[-1], frames["codebook/0"].numpy()[-1])

    def project(x: np.ndarray) -> np.ndarray:
        return (x - mean) @ axes

    colors = colormaps["tab10"](labels.numpy() % 10)[:, :3]
    digits = ScatterLayer(project(latents), colors=colors, size=11.0, alpha=0.85, zorder=1.0)
    layers = [digits, *_code_layers(frames, project, digits.positions, n_levels, max_composites)]

    groups, log = _schedule_groups(dopesheet)
    panels = schedule_panels(schedule, groups=groups, log=log)
    panels += metric_panels(history)
    loss = _loss_panel(history, loss_columns)
    if loss is not None:
        panels.append(loss)
    phases, starts = schedule_phases(schedule, steps)
    classes = sorted(int(c) for c in labels.unique())

    def digit_key(ax: Axes) -> None:
        handles = [
            Line2D([], [], ls="none", marker="o", ms=5, color=colormaps["tab10"](d % 10))
            for d in classes
        ]
        key = ax.legend(handles, [str(d) for d in classes], loc="lower left", fontsize=7,
                        ncol=5, title="digit", title_fontsize=7)  # fmt: skip
        ax.add_artist(key)

    active0 = frames["active/0"].numpy() > 0.5
    k0 = active0.shape[1]
    notes = [
        f"level 0: {n} of {k0} codes in use,\n{k0 - n} dead (training usage window)"
        for n in active0.sum(axis=1)
    ]
    wide = latents.shape[-1] > 2
    extra = f"; levels 2–{n_levels - 1} not drawn" if n_levels > 2 else ""
    return LatentAnimation(
        steps,
        layers=layers,
        panels=panels,
        phases=phases,
        phase_starts=starts,
        title=title + extra,
        xlabel="PC 1 (digits and codes)" if wide else "latent 0",
        ylabel="PC 2" if wide else "latent 1",
        decorate=digit_key,
        view=view or FollowView(),
        notes=notes,
    )

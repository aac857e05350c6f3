"""What an animation shows, as plain data: scatter layers for the latent panel, curves and curve
panels for the right-hand side, and helpers that build them from a realized schedule.

Nothing here draws; :mod:`mini.render.layout` turns these into a figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

ColorSpec = str | tuple[float, ...] | np.ndarray


@dataclass
class ScatterLayer:
    """One set of points on the latent panel. Non-finite positions are not drawn.

    Attributes:
        positions: ``(frames, points, 2)`` (or ``(points, 2)`` for points that never move).
        colors: one colour, ``(points, 3|4)`` RGB(A) in ``[0, 1]``, or ``(frames, points, 3|4)``.
        marker: the matplotlib marker.
        size: the marker area in points², scalar or ``(points,)``.
        filled: a bool, ``(points,)`` or ``(frames, points)``; an unfilled point is drawn as a
            ring (○) in its edge colour, a filled one as a disc (●).
        visible: a bool, ``(points,)`` or ``(frames, points)``.
        edgecolor: the edges' colour (``None``: each point's own colour).
        linewidth: the edges' width (``None``: no edge when every point is filled, else 1 pt).
        alpha: the points' opacity.
        label: the layer's name in the legend.
        zorder: drawing order among the layers.
        follow: with ``LatentAnimation(view=FollowView())``, the points the limits follow (a
            bool, ``(points,)`` or ``(frames, points)``).
        offscreen: e.g. ``"{n} dead codes off-screen"``, shown in frames where ``n > 0`` of
            this layer's visible points lie outside the limits.
    """

    positions: np.ndarray
    colors: ColorSpec = "C0"
    marker: str = "o"
    size: float | np.ndarray = 12.0
    filled: bool | np.ndarray = True
    visible: bool | np.ndarray = True
    edgecolor: ColorSpec | None = None
    linewidth: float | None = None
    alpha: float | None = None
    label: str | None = None
    zorder: float = 2.0
    follow: bool | np.ndarray = True
    offscreen: str | None = None


@dataclass
class Curve:
    """One line on a curve panel: ``y`` against ``x`` (steps).

    Attributes:
        x: the steps.
        y: the values.
        label: the legend entry.
        color: the line's colour (default: the next of the cycle).
    """

    x: np.ndarray
    y: np.ndarray
    label: str
    color: ColorSpec | None = None


@dataclass
class CurvePanel:
    """One of the stacked panels on the right; ``log`` for a log-scale y axis; ``ylim`` fixes
    its y range (either end ``None`` to leave it automatic), e.g. ``(0, 1)`` for a fraction.

    Attributes:
        curves: the lines.
        title: the panel's title.
        log: a log-scale y axis.
        ylim: fixed y range (either end ``None``: automatic).
    """

    curves: list[Curve]
    title: str | None = None
    log: bool = False
    ylim: tuple[float | None, float | None] | None = None

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        columns: Sequence[str],
        *,
        x: str = "STEP",
        title: str | None = None,
        log: bool = False,
        ylim: tuple[float | None, float | None] | None = None,
    ) -> CurvePanel:
        """Curves for ``columns`` of a DataFrame (a ``realize(...)`` schedule, a metrics history)
        against its ``x`` column; rows where a column is missing are dropped for that curve.

        Args:
            frame: the DataFrame.
            columns: the columns to draw.
            x: the column of steps.
            title: the panel's title.
            log: a log-scale y axis.
            ylim: fixed y range.
        """
        xs = frame[x].to_numpy(dtype=float)
        curves = []
        for name in columns:
            ys = frame[name].to_numpy(dtype=float)
            keep = np.isfinite(ys)
            curves.append(Curve(xs[keep], ys[keep], str(name)))
        return cls(curves, title=title, log=log, ylim=ylim)


def schedule_panels(
    schedule: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    log: Sequence[str] = (),
    groups: Mapping[str, Sequence[str]] | None = None,
    x: str = "STEP",
) -> list[CurvePanel]:
    """Panels for the property curves of a realized schedule: one panel per column (titled with
    its name), or one per entry of ``groups`` (title → columns). Columns in ``log`` (or a group
    whose columns all are) get a log axis.

    Args:
        schedule: a ``realize(...)`` DataFrame.
        columns: the properties to draw (default: all).
        log: columns drawn on a log axis.
        groups: panel title -> its columns (instead of one panel per column).
        x: the column of steps.
    """
    log_set = set(log)
    if groups is None:
        if columns is None:
            columns = [c for c in schedule.columns if c not in {x, "PHASE", "ACTION"}]
        groups = {c: [c] for c in columns}
    return [
        CurvePanel.from_frame(schedule, cols, x=x, title=title, log=all(c in log_set for c in cols))
        for title, cols in groups.items()
    ]


def schedule_phases(
    schedule: pd.DataFrame, steps: Sequence[int] | np.ndarray, *, x: str = "STEP"
) -> tuple[list[str | None], list[tuple[int, str | None]]]:
    """From a realized schedule (``STEP`` and ``PHASE`` columns): the phase name at each of
    ``steps`` (for ``LatentAnimation.phases``) and ``(start step, name)`` of every phase (for
    ``phase_starts``). Empty phase names become ``None``.

    Args:
        schedule: a ``realize(...)`` DataFrame.
        steps: the frames' steps.
        x: the column of steps.
    """
    at = schedule[x].to_numpy()
    names = schedule["PHASE"].astype(str).to_numpy()
    if len(at) == 0:
        raise ValueError("the schedule is empty")
    order = np.argsort(at, kind="stable")
    at, names = at[order], names[order]
    changes = np.flatnonzero(np.r_[True, names[1:] != names[:-1]])
    starts = [(int(at[i]), str(names[i]) or None) for i in changes]
    rows = np.searchsorted(at, np.asarray(steps), side="right") - 1
    if np.any(rows < 0):
        raise ValueError(f"steps before the schedule's first step {int(at[0])}")
    return [str(names[r]) or None for r in rows], starts

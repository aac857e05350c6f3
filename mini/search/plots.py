"""Pictures of a search: the optimisation history, each searched value against the
objective, and the best schedules over the nominal one with the search bands."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mini.atomic import atomic_write
from mini.search.objectives import Objective
from mini.search.outputs import TrialRow, ranked
from mini.temporal import Dopesheet, Timeline
from mini.temporal.plot import group_props, plot_timeline, sample_steps

log = logging.getLogger(__name__)

STATE_STYLE = {"complete": ("C0", "o"), "pruned": ("0.6", "x"), "failed": ("C3", "v")}


def plot_history(rows: list[TrialRow], objectives: list[Objective]) -> Any:
    """Each objective per trial (complete trials as dots) and the best so far (a line)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 2.6 * len(objectives)), layout="constrained")
    axes = fig.subplots(len(objectives), 1, squeeze=False)[:, 0]
    done = [r for r in rows if r.state == "complete" and r.objectives]
    for i, (ax, o) in enumerate(zip(axes, objectives, strict=True)):
        xs = [r.number for r in done]
        ys = [r.objectives[i] for r in done]  # type: ignore[index]
        ax.plot(xs, ys, "o", ms=4, color="C0", alpha=0.7, label="trial")
        best, line = None, []
        for y in ys:
            best = y if best is None or o.better(y, best) else best
            line.append(best)
        ax.step(xs, line, where="post", color="C1", lw=1.8, label="best so far")
        for state in ("pruned", "failed"):
            n = [r.number for r in rows if r.state == state]
            if n:
                color, marker = STATE_STYLE[state]
                ax.plot(n, [min(ys or [0.0])] * len(n), marker, color=color, label=state, ms=5)
        ax.set_ylabel(f"{o.key} ({o.direction})")
        ax.grid(alpha=0.25, lw=0.5)
        ax.legend(fontsize=8, frameon=False)
    axes[-1].set_xlabel("trial")
    fig.suptitle("optimisation history", fontsize=11)
    return fig


def plot_values(
    rows: list[TrialRow], sheet: Dopesheet, objective: Objective, index: int = 0
) -> Any:
    """One panel per search cell: the value each complete trial tried against its objective
    (the best trial ringed)."""
    from matplotlib.figure import Figure

    assert sheet.search is not None
    params = list(sheet.search)
    cols = min(3, len(params))
    nrows = math.ceil(len(params) / cols)
    fig = Figure(figsize=(3.6 * cols, 2.8 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, cols, squeeze=False)).ravel()
    done = [r for r in rows if r.state == "complete" and r.objectives]
    best = ranked(rows, [objective]) if index == 0 else []
    for ax, p in zip(axes, params, strict=False):
        xs = [r.values.get(p.name, math.nan) for r in done]
        ys = [r.objectives[index] for r in done]  # type: ignore[index]
        ax.scatter(xs, ys, s=14, c=[r.number for r in done], cmap="viridis", alpha=0.85)
        if best:
            ax.plot([best[0].values[p.name]], [best[0].objectives[index]], "o", ms=11,  # type: ignore[index]
                    mfc="none", mec="C3", mew=1.5)  # fmt: skip
        if p.log:
            from matplotlib.ticker import NullFormatter

            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels collide on short ranges
        ax.axvspan(*p.bounds, color="0.9", zorder=0)
        ax.set_title(f"{p.name}  {p.text}", fontsize=9)
        ax.set_ylabel(objective.key, fontsize=8)
        ax.grid(alpha=0.25, lw=0.5)
    for ax in axes[len(params) :]:
        ax.set_visible(False)
    fig.suptitle(f"searched values against {objective.key} (colour: trial number)", fontsize=11)
    return fig


def plot_schedules(
    rows: list[TrialRow],
    sheet: Dopesheet,
    objectives: list[Objective],
    top: int = 3,
    sheets: Mapping[int, Dopesheet] | None = None,
) -> Any:
    """The nominal schedule with the band of each search cell, and the ``top`` best trials'
    schedules drawn over it (``sheets``: what a trial ran when it is not its values filled in,
    a PBT lineage)."""
    assert sheet.search is not None
    fig = plot_timeline(
        sheet, title=f"{sheet.source}: the best {top} schedules over the nominal one"
    )
    nominal = sheet.with_values(sheet.search.nominal())
    groups = group_props(nominal) or [[]]
    axes = fig.axes[: len(groups)]
    for k, r in enumerate(ranked(rows, objectives)[:top]):
        ran = (sheets or {}).get(r.number)
        ds = ran if ran is not None else sheet.with_values(r.values)
        steps = sample_steps(ds, 1500)
        values = Timeline(ds).values_at(steps)
        label = f"#{r.number}: {objectives[0].key}={r.objectives[0]:.4g}"  # type: ignore[index]
        for ax, names in zip(axes, groups, strict=True):
            for j, name in enumerate(names):
                ax.plot(steps, values[name], ls=(0, (4, 2)), lw=1.2, color=f"C{(k + 5) % 10}",
                        alpha=0.9, label=label if j == 0 else None)  # fmt: skip
    for ax in axes:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    return fig


def save_plots(
    folder: Path,
    rows: list[TrialRow],
    sheet: Dopesheet,
    objectives: list[Objective],
    sheets: Mapping[int, Dopesheet] | None = None,
) -> list[Path]:
    """``history.png``, ``values.png`` and ``schedules.png`` in ``folder`` (a plot that fails
    is logged, never fatal: the CSV and JSON outputs are what a search is for)."""
    written = []
    makers = {
        "history.png": lambda: plot_history(rows, objectives),
        "values.png": lambda: plot_values(rows, sheet, objectives[0]),
        "schedules.png": lambda: plot_schedules(rows, sheet, objectives, sheets=sheets),
    }
    for name, make in makers.items():
        if name != "history.png" and not any(r.state == "complete" for r in rows):
            continue
        try:
            fig = make()
            with atomic_write(folder / name, "wb") as f:
                fig.savefig(f, format="png", dpi=110)
            written.append(folder / name)
        except Exception as e:  # a picture must not lose the search's results
            log.warning("could not draw %s: %s", name, e)
    return written

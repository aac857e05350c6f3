"""Schedule plots: one panel per group of properties of similar scale, with phases and actions.

Small weights are not flattened next to large ones: properties are grouped by magnitude (and
log-space properties get log axes), keyframes are marked, phases are shaded bands with labels
and actions are ticks along the top.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import numpy as np

from mini.temporal.dopesheet import Dopesheet
from mini.temporal.errors import DopesheetWarning
from mini.temporal.gated import GatedTimeline
from mini.temporal.search_cells import SearchSpace
from mini.temporal.timeline import Timeline

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_SCALE_RATIO = 10.0  # props whose peak magnitudes differ by more than this go to separate panels
_LOG_DECADES = 2.0  # log props whose typical values are further apart than this get own panels


def group_props(source: Dopesheet | Timeline) -> list[list[str]]:
    """Property names grouped into panels by space and magnitude (largest first)."""
    ds = source.dopesheet if isinstance(source, Timeline) else source
    linear: list[tuple[float, str]] = []
    logs: list[tuple[float, str]] = []
    for name, spec in ds.specs.items():
        values = [abs(v) for _, v in ds.keyframes(name)]
        if spec.space == "log":
            logs.append((float(np.mean(np.log10(values))), name))
        else:  # an all-zero property sits below everything else
            linear.append((math.log10(max(values)) if max(values) > 0 else -math.inf, name))
    return _chunks(linear, math.log10(_SCALE_RATIO)) + _chunks(logs, _LOG_DECADES)


def _chunks(items: list[tuple[float, str]], max_spread: float) -> list[list[str]]:
    """Names sorted by decreasing decade, split where one lies more than ``max_spread`` decades
    below the first of its group."""
    groups: list[list[str]] = []
    top = math.inf
    for decade, name in sorted(items, reverse=True):
        if not groups or (decade != top and not top - decade <= max_spread):
            groups.append([])
            top = decade
        groups[-1].append(name)
    return groups


def sample_steps(source: Dopesheet | Timeline, max_points: int = 4000) -> np.ndarray:
    """At most ~``max_points`` evenly spread steps plus every key step and the step before it,
    phase boundaries and action steps: enough to draw the whole schedule with its keys exact
    and its jumps sharp, without computing the steps in between (a run may have 10**12)."""
    ds = source.dopesheet if isinstance(source, Timeline) else source
    n = ds.n_steps
    marks = [k for name in ds.specs for k, _ in ds.keyframes(name)]
    marks += [p.start for p in ds.phases] + [p.end for p in ds.phases]
    marks += [s for s, _ in ds.actions]
    marked = np.array(marks, dtype=np.int64)
    even = np.linspace(0, n - 1, num=min(n, max_points)).round().astype(np.int64)
    steps = np.unique(np.concatenate([even, marked, marked - 1]))
    return steps[(steps >= 0) & (steps < n)]


def plot_timeline(
    source: Dopesheet | Timeline,
    *,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    max_points: int = 4000,
) -> Figure:
    """Draw the whole schedule (a :class:`Timeline` with its runtime overrides) from about
    ``max_points`` samples plus the keys. Returns a matplotlib Figure (``fig.savefig``)."""
    from matplotlib.figure import Figure

    if isinstance(source, GatedTimeline):  # a run: what it followed; before it: the nominal
        source = source.as_run() if source.state.step > 0 else source.dopesheet
    space = source.search if isinstance(source, Dopesheet) else None
    if space:  # a search space: draw its nominal schedule and the band each search cell spans
        source = source.with_values(space.nominal())
    with warnings.catch_warnings():  # a gated sheet: its nominal schedule, gates marked below
        warnings.simplefilter("ignore", DopesheetWarning)
        timeline = source if isinstance(source, Timeline) else Timeline(source)
    ds = timeline.dopesheet
    steps = sample_steps(ds, max_points)
    values = timeline.values_at(steps)
    groups = group_props(ds) or [[]]
    height = figsize[1] if figsize else 1.0 + 1.9 * len(groups)
    fig = Figure(figsize=(figsize[0] if figsize else 11.0, height), layout="constrained")
    axes = fig.subplots(len(groups), 1, sharex=True, squeeze=False)[:, 0]
    colors = [f"C{i % 10}" for i in range(len(ds.specs))]
    color_of = dict(zip(ds.specs, colors, strict=True))
    for ax, names in zip(axes, groups, strict=True):
        _shade_phases(ax, ds)
        for name in names:
            spec = ds.specs[name]
            label = name if spec.space == "linear" else f"{name} (log)"
            ax.plot(steps, values[name], color=color_of[name], lw=1.6, label=label)
            keys = ds.keyframes(name)
            ax.plot(
                [k for k, _ in keys], [v for _, v in keys], "o", ms=4, color=color_of[name],
                markeredgecolor="white", markeredgewidth=0.6, zorder=3,
            )  # fmt: skip
            if space:
                draw_value_bands(ax, ds, space, name, color_of[name])
        if names and all(ds.specs[n].space == "log" for n in names):
            ax.set_yscale("log")
        if names:
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
        ax.grid(alpha=0.25, lw=0.5)
        for step, _ in ds.actions:
            ax.axvline(step, color="0.35", lw=0.8, ls=(0, (2, 2)), zorder=1)
        _mark_gates(ax, ds)
        ax.margins(x=0.01)
    if space:
        for ax in axes:
            draw_step_bands(ax, ds, space)
    _label_phases_and_actions(axes[0], ds)
    if ds.gates:
        axes[0].annotate(
            "gates: ▮ hold up to max (until) · ◂ may start early (when); nominal schedule",
            xy=(0.0, 1.12), xycoords="axes fraction", fontsize=7, color="C3",
        )  # fmt: skip
    axes[-1].set_xlabel("step")
    fig.suptitle(title or f"{ds.source} — {ds.n_steps:,} steps", fontsize=11)
    return fig


def _mark_gates(ax, ds: Dopesheet) -> None:
    """A gate's row as a red line; an ``until``'s possible hold (its ``max``) as a hatched span
    after it, a ``when``'s possible early start as a span back to the previous row."""
    steps = [r.step for r in ds.rows]
    for g in ds.gates:
        ax.axvline(g.step, color="C3", lw=1.0, zorder=2)
        if g.gate.kind == "until":
            ax.axvspan(g.step, g.step + (g.gate.max_hold or 0), color="C3", alpha=0.08,
                       hatch="//", lw=0, zorder=0)  # fmt: skip
        else:
            prev = steps[steps.index(g.step) - 1] + g.gate.min_hold
            ax.axvspan(prev, g.step, color="C3", alpha=0.05, lw=0, zorder=0)


def _row_step(ds: Dopesheet, line: int) -> int | None:
    return next((r.step for r in ds.rows if line in r.lines), None)


def draw_value_bands(ax, ds: Dopesheet, space: SearchSpace, name: str, color: str) -> None:
    """The range (a bar) or the set (ticks) each search cell of ``name`` may take, drawn at its
    key's step of the filled sheet ``ds``."""
    for p in space:
        if p.prop != name or (step := _row_step(ds, p.line)) is None:
            continue
        low, high = p.bounds
        ax.plot([step, step], [low, high], color=color, lw=7, alpha=0.22, solid_capstyle="butt")
        if p.kind == "choice":
            ax.plot([step] * len(p.choices), p.choices, "_", ms=12, mew=1.5, color=color)


def draw_step_bands(ax, ds: Dopesheet, space: SearchSpace) -> None:
    """The steps each searched STEP cell may land on, shaded across the panel."""
    nominal = space.nominal()
    for p in space:
        if not p.is_step:
            continue
        ends = []
        for value in p.choices or p.bounds:
            try:
                moved = space.fill(nominal | {p.name: value})
            except ValueError:  # this end is not a valid schedule with the other cells nominal
                continue
            if (step := _row_step(moved, p.line)) is not None:
                ends.append(step)
        if ends and p.kind == "choice":
            for step in ends:
                ax.axvline(step, color="C3", lw=1.0, alpha=0.5, ls=":", zorder=1)
        elif ends:
            ax.axvspan(min(ends), max(ends), color="C3", alpha=0.08, lw=0, zorder=0)


def _shade_phases(ax, ds: Dopesheet) -> None:
    for i, ph in enumerate(ds.phases):
        if i % 2 == 1:
            ax.axvspan(ph.start, ph.end + 1, color="0.92", lw=0, zorder=0)


def _label_phases_and_actions(ax, ds: Dopesheet) -> None:
    for ph in ds.phases:
        if ph.name is None:
            continue
        ax.annotate(
            ph.name, xy=((ph.start + ph.end + 1) / 2, 1.0), xycoords=("data", "axes fraction"),
            xytext=(0, 3), textcoords="offset points", ha="center", va="bottom", fontsize=9,
            fontweight="bold", color="0.25",
        )  # fmt: skip
    labels: dict[int, list[str]] = {}
    for step, name in ds.actions:
        labels.setdefault(step, []).append(name)
    for step, names in labels.items():
        ax.annotate(
            "▼ " + ", ".join(names), xy=(step, 1.0), xycoords=("data", "axes fraction"),
            xytext=(2, -2), textcoords="offset points", ha="left", va="top", fontsize=7,
            color="0.3",
        )  # fmt: skip

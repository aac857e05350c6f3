r"""Dopesheets (CSV keyframes) → smooth per-step Timelines. No torch here.

A dopesheet names values at keyframes; a timeline gives every step's value, moving between keys
along minimum-jerk curves (log-space columns in log space) and hitting every key exactly:

>>> from mini.temporal import Dopesheet, Timeline, realize
>>> ds = Dopesheet.from_text(
...     "STEP,PHASE,ACTION,lr:log,weight\n0,warm-up,,1e-2,0\n100,main,anchor,,1\n200,,,1e-4,\n"
... )
>>> tl = Timeline(ds)
>>> len(tl), tl[0].props["lr"], tl[100].props["weight"], tl[200].props["lr"]
(201, 0.01, 1.0, 0.0001)
>>> tl[50].props["weight"]  # halfway along the quintic 10τ³ − 15τ⁴ + 6τ⁵
0.5
>>> tl[100].phase, tl[100].actions, tl[99].is_phase_end
('main', ('anchor',), True)
>>> realize(tl)[["STEP", "lr"]].iloc[[0, 100, 200]].round(6).values.tolist()  # every step at once
[[0.0, 0.01], [100.0, 0.001], [200.0, 0.0001]]
"""

from mini.temporal.bake import bake
from mini.temporal.conditions import GateContext
from mini.temporal.dopesheet import Dopesheet
from mini.temporal.edits import past_edits
from mini.temporal.errors import DopesheetError, DopesheetWarning, Problem
from mini.temporal.gated import GatedTimeline, GateMetricError, Opening, timeline_for
from mini.temporal.gates import Gate, parse_condition, parse_gate
from mini.temporal.interpolators import (
    COSINE,
    LINEAR,
    MINJERK,
    STEP_END,
    Interpolator,
    get_interpolator,
    interpolator_names,
    register_interpolator,
)
from mini.temporal.realize import realize
from mini.temporal.spec import Phase, PropSpec
from mini.temporal.timeline import ScheduleTooLargeError, State, Timeline, UnknownPropertyError

__all__ = [
    "COSINE",
    "LINEAR",
    "MINJERK",
    "STEP_END",
    "Dopesheet",
    "DopesheetError",
    "DopesheetWarning",
    "Gate",
    "GateContext",
    "GateMetricError",
    "GatedTimeline",
    "Interpolator",
    "Opening",
    "Phase",
    "Problem",
    "PropSpec",
    "ScheduleTooLargeError",
    "State",
    "Timeline",
    "UnknownPropertyError",
    "bake",
    "get_interpolator",
    "interpolator_names",
    "parse_condition",
    "parse_gate",
    "past_edits",
    "realize",
    "register_interpolator",
    "timeline_for",
]


def plot_timeline(*args, **kwargs):
    """Plot a dopesheet/timeline; see :func:`mini.temporal.plot.plot_timeline` (imported
    lazily so that ``mini.temporal`` does not load matplotlib).

    Args:
        args: passed on (the dopesheet or timeline first).
        kwargs: passed on (``title``, ...).
    """
    from mini.temporal.plot import plot_timeline as _plot

    return _plot(*args, **kwargs)


__all__.append("plot_timeline")

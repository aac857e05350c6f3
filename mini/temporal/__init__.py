"""Dopesheets (CSV keyframes) → smooth per-step Timelines. No torch here.

>>> from mini.temporal import Dopesheet, Timeline, realize
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
from mini.temporal.overrides import Override, Quintic
from mini.temporal.realize import realize
from mini.temporal.spec import Phase, PropSpec, Row, Space
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
    "Override",
    "Phase",
    "Problem",
    "PropSpec",
    "Quintic",
    "Row",
    "ScheduleTooLargeError",
    "Space",
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
    lazily so that ``mini.temporal`` does not load matplotlib)."""
    from mini.temporal.plot import plot_timeline as _plot

    return _plot(*args, **kwargs)


__all__.append("plot_timeline")

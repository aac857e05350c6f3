"""Dopesheets (CSV keyframes) → smooth per-step Timelines. No torch here.

>>> from mini.temporal import Dopesheet, Timeline, realize
"""

from mini.temporal.curves import Override
from mini.temporal.dopesheet import Dopesheet
from mini.temporal.edits import past_edits
from mini.temporal.errors import DopesheetError, DopesheetWarning, Problem
from mini.temporal.realize import realize
from mini.temporal.spec import Phase, PropSpec, Row, Space
from mini.temporal.timeline import State, Timeline
from mini.temporal.timing import (
    LINEAR,
    MINJERK,
    STEP_END,
    Easing,
    Quintic,
    get_interpolator,
    interpolator_names,
    register_interpolator,
)

__all__ = [
    "LINEAR",
    "MINJERK",
    "STEP_END",
    "Dopesheet",
    "DopesheetError",
    "DopesheetWarning",
    "Easing",
    "Override",
    "Phase",
    "Problem",
    "PropSpec",
    "Quintic",
    "Row",
    "Space",
    "State",
    "Timeline",
    "get_interpolator",
    "interpolator_names",
    "past_edits",
    "realize",
    "register_interpolator",
]


def plot_timeline(*args, **kwargs):
    """Plot a dopesheet/timeline; see :func:`mini.temporal.plot.plot_timeline` (imported
    lazily so that ``mini.temporal`` does not load matplotlib)."""
    from mini.temporal.plot import plot_timeline as _plot

    return _plot(*args, **kwargs)


__all__.append("plot_timeline")

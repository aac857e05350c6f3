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

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

# Every name loads on first use (PEP 562), so that ``from mini.temporal import Timeline`` loads
# neither the parser, the gates, the overrides, baking nor the CLI.
_EXPORTS = {
    "bake": "bake",
    "realize": "realize",
    "GateContext": "conditions",
    "Dopesheet": "dopesheet",
    "past_edits": "edits",
    "DopesheetError": "errors",
    "DopesheetWarning": "errors",
    "Problem": "errors",
    "GatedTimeline": "gated",
    "GateMetricError": "gated",
    "Opening": "gated",
    "timeline_for": "gated",
    "Gate": "gates",
    "parse_condition": "gates",
    "parse_gate": "gates",
    "COSINE": "interpolators",
    "LINEAR": "interpolators",
    "MINJERK": "interpolators",
    "STEP_END": "interpolators",
    "Interpolator": "interpolators",
    "get_interpolator": "interpolators",
    "interpolator_names": "interpolators",
    "register_interpolator": "interpolators",
    "Phase": "spec",
    "PropSpec": "spec",
    "ScheduleTooLargeError": "memory_guard",
    "State": "timeline",
    "Timeline": "timeline",
    "UnknownPropertyError": "timeline",
}

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


class _Package(types.ModuleType):
    """``bake`` and ``realize`` are functions that share their names with their modules. The
    import system binds every submodule it loads on its package, which would put the module
    where the function was; the package keeps the function instead (as an eager
    ``from mini.temporal.bake import bake`` did)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("bake", "realize") and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mini.temporal' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"mini.temporal.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, eagerly
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
    from mini.temporal.memory_guard import ScheduleTooLargeError
    from mini.temporal.realize import realize
    from mini.temporal.spec import Phase, PropSpec
    from mini.temporal.timeline import State, Timeline, UnknownPropertyError

"""The Timeline: a dopesheet played step by step, with random access and runtime control.

Values are computed a window of steps at a time with numpy (see :mod:`mini.temporal.curves`)
and handed out per step from Python lists, so ``step()`` costs a few microseconds whatever the
interpolators, and stepping, iteration, ``timeline[i]`` and :func:`realize` agree exactly. A
timeline of 10**12 steps is fine: nothing ever computes more than a window (or what you ask for).

Runtime control: ``set()`` moves a property smoothly to a value (and back onto the schedule with
``hold=``), ``follow()`` returns it, ``reload()`` adopts an edited dopesheet after the current
step (earlier steps keep the schedule they ran, so plots and ``realize`` show what happened).
"""

from __future__ import annotations

import numbers
import os
import warnings
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mini.temporal.curves import PropCurve, Steps
from mini.temporal.dopesheet import Dopesheet
from mini.temporal.eras import Era
from mini.temporal.records import Record, _set

if TYPE_CHECKING:  # overrides load with the first set(), reload or resumed override
    from mini.temporal.overrides import Override

WINDOW = 2048
_RANDOM_ACCESS_WINDOWS = 4


class UnknownPropertyError(KeyError):
    """A property name the dopesheet does not have (a ``KeyError`` that prints its message)."""

    def __str__(self) -> str:
        return str(self.args[0])


def unknown_property(name: object, known: Iterable[str]) -> UnknownPropertyError:
    from mini.suggest import closest  # difflib, only for the error

    known = list(known)
    close = closest(str(name), known)
    hint = f"; did you mean {close!r}?" if close else ""
    return UnknownPropertyError(
        f"the dopesheet has no property {name!r}{hint} (its properties: {', '.join(known)})"
    )


def _step_index(i: object, what: str) -> int:
    if isinstance(i, slice):
        raise TypeError(
            f"{what}[a:b] is not supported: use timeline.values(a, b) for arrays or "
            "realize(timeline, a, b) for a DataFrame"
        )
    if isinstance(i, bool) or not isinstance(i, numbers.Integral):
        raise TypeError(f"{what}[{i!r}]: a step is a whole number (int), not {type(i).__name__}")
    return int(i)


class State(Record):
    """Everything the schedule says about one step.

    Attributes:
        step: the step.
        phase: its phase.
        props: every property's value.
        actions: the actions that fire at it.
        is_phase_start: the phase's first step.
        is_phase_end: the phase's last step.
        schedule_step: the dopesheet step played (differs under gates).
    """

    _fields = (
        "step",
        "phase",
        "props",
        "actions",
        "is_phase_start",
        "is_phase_end",
        "schedule_step",
    )
    __slots__ = _fields
    step: int
    phase: str | None
    props: dict[str, float]
    actions: tuple[str, ...]
    is_phase_start: bool
    is_phase_end: bool
    schedule_step: int | None

    def __init__(
        self,
        step: int,
        phase: str | None,
        props: dict[str, float],
        actions: tuple[str, ...],
        is_phase_start: bool,
        is_phase_end: bool,
        schedule_step: int | None = None,
    ) -> None:
        _set(self, "step", step)
        _set(self, "phase", phase)
        _set(self, "props", props)
        _set(self, "actions", actions)
        _set(self, "is_phase_start", is_phase_start)
        _set(self, "is_phase_end", is_phase_end)
        _set(self, "schedule_step", schedule_step)

    def __getitem__(self, prop: str) -> float:
        try:
            return self.props[prop]
        except KeyError:
            raise unknown_property(prop, self.props) from None


class Timeline:
    """A dopesheet as a per-step schedule with a cursor.

    ``state`` is the current step's :class:`State`; ``step()`` advances and returns the new state;
    iterating yields the current state and then every following one (advancing the cursor, like
    reading a file); ``timeline[i]`` looks at any step without moving. ``set()``/``follow()``
    steer properties at runtime, ``reload()`` adopts an edited dopesheet mid-run, and
    ``state_dict()``/``load_state_dict()``/``seek()`` make resumed runs continue exactly.

    Args:
        dopesheet: a :class:`Dopesheet` or a CSV path.
    """

    def __init__(self, dopesheet: Dopesheet | str | os.PathLike[str]):
        if not isinstance(dopesheet, Dopesheet):
            dopesheet = Dopesheet.from_csv(dopesheet)
        if getattr(dopesheet, "search", None):  # its parser loaded search_cells already
            from mini.temporal.search_cells import refuse_search_space

            refuse_search_space(dopesheet)
        if dopesheet.gates and type(self) is Timeline:
            from mini.temporal.errors import DopesheetWarning  # loaded by the parser already

            warnings.warn(
                f"{dopesheet.source}: the sheet has GATE cells; this Timeline plays its nominal "
                "schedule (gates ignored); GatedTimeline follows them (docs/gates.md)",
                DopesheetWarning,
                stacklevel=2,
            )
        self._set_eras([Era(0, dopesheet, {})])
        self._step = 0
        self._state: State | None = None  # computed on first use (realize never needs it)

    def _set_eras(self, eras: list[Era]) -> None:
        self._eras = eras
        self._era_starts = [e.start for e in eras]
        self._now = eras[-1]
        self._names = list(self._now.curves)
        self._n = self._now.dopesheet.n_steps
        self._invalidate()

    def _invalidate(self) -> None:
        self._win_lo = 0
        self._win_hi = 0
        self._win_cols: list[list[float]] = []
        self._ra_cache: OrderedDict[int, list[list[float]]] = OrderedDict()

    # -- basic access -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    @property
    def dopesheet(self) -> Dopesheet:
        """The dopesheet in force now (after any reload)."""
        return self._now.dopesheet

    @property
    def state(self) -> State:
        if self._state is None:
            self._state = self._state_at(self._step, self._cursor_values(self._step))
        return self._state

    @property
    def names(self) -> list[str]:
        """The property names, in column order."""
        return list(self._names)

    def step(self) -> State:
        """Advance one step and return its state. Raises ``IndexError`` past the last step."""
        i = self._step + 1
        if i >= self._n:
            raise IndexError(f"the timeline is at its last step ({self._n - 1})")
        self._step = i
        self._state = self._state_at(i, self._cursor_values(i))
        return self._state

    def __iter__(self) -> Iterator[State]:
        yield self.state
        while self._step + 1 < self._n:
            yield self.step()

    def __getitem__(self, i: int) -> State:
        i = _step_index(i, "timeline")
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(f"step {i} is outside the timeline (0..{self._n - 1})")
        base = i - i % WINDOW
        cols = self._ra_cache.get(base)
        if cols is None:
            cols = self._columns(base, min(self._n, base + WINDOW))
            self._ra_cache[base] = cols
            if len(self._ra_cache) > _RANDOM_ACCESS_WINDOWS:
                self._ra_cache.popitem(last=False)
        j = i - base
        return self._state_at(
            i, {name: col[j] for name, col in zip(self._names, cols, strict=True)}
        )

    def seek(self, step: int) -> State:
        """Move the cursor to ``step`` (for resuming) and return its state.

        Args:
            step: the step to move to.
        """
        step = _step_index(step, "seek")
        if not 0 <= step < self._n:
            raise IndexError(f"step {step} is outside the timeline (0..{self._n - 1})")
        self._step = step
        self._state = self._state_at(step, self._cursor_values(step))
        return self._state

    # -- vectorised values --------------------------------------------------------------------------
    def values(self, lo: int = 0, hi: int | None = None) -> dict[str, np.ndarray]:
        """Every property on steps ``[lo, hi)`` as float64 arrays (overrides and earlier eras
        included; NaN where a property did not exist yet). ``0 <= lo <= hi <= len(timeline)``.

        Args:
            lo: the first step.
            hi: one past the last (default: the end).
        """
        lo = _step_index(lo, "values")
        hi = self._n if hi is None else _step_index(hi, "values")
        if not 0 <= lo <= hi <= self._n:
            raise ValueError(
                f"values({lo}, {hi}): need 0 <= lo <= hi <= {self._n} (the timeline's length)"
            )
        from mini.temporal.memory_guard import check_allocation  # stepping never needs it

        check_allocation(hi - lo, 8 * max(1, len(self._names)), "Timeline.values")
        return self._evaluate(self._names, Steps.range(lo, hi))

    def values_at(self, steps: Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
        """Every property at the given steps (any order, repeats allowed): samples of a long
        schedule without computing the steps in between (plots use this).

        Args:
            steps: the steps to sample.
        """
        arr = np.asarray(steps)
        if arr.ndim != 1 or not (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
            raise TypeError("values_at: steps must be a 1-D sequence of whole numbers")
        if arr.size and (arr.min() < 0 or arr.max() >= self._n):
            raise IndexError(f"values_at: steps must lie in 0..{self._n - 1}")
        from mini.temporal.memory_guard import check_allocation

        check_allocation(arr.size, 16 * max(1, len(self._names)), "Timeline.values_at")
        uniq, inverse = np.unique(arr, return_inverse=True)
        vals = self._evaluate(self._names, Steps.of(uniq))
        return {name: v[inverse] for name, v in vals.items()}

    def _evaluate(self, names: list[str], steps: Steps) -> dict[str, np.ndarray]:
        out = {name: np.empty(len(steps), dtype=np.float64) for name in names}
        for k, era in enumerate(self._eras):
            a = 0 if k == 0 else steps.index(era.start)
            b = len(steps) if k + 1 == len(self._eras) else steps.index(self._era_starts[k + 1])
            if a < b:
                sub = steps.slice(a, b)
                for name in names:
                    era.evaluate(name, sub, out[name][a:b])
        return out

    def dopesheets_between(self, lo: int, hi: int) -> list[tuple[int, int, Dopesheet]]:
        """``(a, b, dopesheet)``: the dopesheet in force on each part ``[a, b)`` of ``[lo, hi)``
        (one part unless :meth:`reload` adopted edits in between).

        Args:
            lo: the first step.
            hi: one past the last.
        """
        out = []
        for k, era in enumerate(self._eras):
            end = self._era_starts[k + 1] if k + 1 < len(self._eras) else self._n
            a, b = max(lo, era.start), min(hi, end)
            if a < b or (k + 1 == len(self._eras) and not out):
                out.append((a, max(a, b), era.dopesheet))
        return out

    def _columns(self, lo: int, hi: int) -> list[list[float]]:
        vals = self._evaluate(self._names, Steps.range(lo, hi))
        return [vals[name].tolist() for name in self._names]

    def _cursor_values(self, i: int) -> dict[str, float]:
        if not self._win_lo <= i < self._win_hi:
            self._win_lo, self._win_hi = i, min(self._n, i + WINDOW)
            self._win_cols = self._columns(self._win_lo, self._win_hi)
        j = i - self._win_lo
        return {name: col[j] for name, col in zip(self._names, self._win_cols, strict=True)}

    def _era_at(self, i: int) -> Era:
        if len(self._eras) == 1:
            return self._now
        return self._eras[bisect_right(self._era_starts, i) - 1]

    def _state_at(self, i: int, props: dict[str, float]) -> State:
        era = self._era_at(i)
        ph = era.phase_at(i)
        return State(i, ph.name, props, era.dopesheet.actions_at(i), i == ph.start, i == ph.end, i)

    # -- runtime control ----------------------------------------------------------------------------
    def kinematics(self, prop: str, step: int | None = None) -> tuple[float, float, float]:
        """``(value, velocity, acceleration)`` of ``prop`` at ``step`` (default: the cursor) in the
        property's interpolation space, per step, as the run has it (overrides included).

        Args:
            prop: the property.
            step: the step (default: the cursor).
        """
        self._curve(prop)
        step = self._step if step is None else _step_index(step, "kinematics")
        era = self._era_at(step)
        return (era if prop in era.curves else self._now).kinematics(prop, step)

    def set(
        self,
        prop: str,
        value: float,
        duration: int,
        *,
        hold: int | None = None,
        rejoin: int | None = None,
    ) -> None:
        """Move ``prop`` smoothly from its current state to ``value`` over ``duration`` steps.

        The transition starts at the current step (whose value is already in effect and does not
        change) and keeps value, velocity and acceleration continuous (a quintic; from rest it is
        exactly minimum jerk). Then ``prop`` holds ``value``:

        * ``hold=None``: until its next key at or after the transition's end, where the dopesheet
          takes over again without a jump (keys reached by ``step-end``: at the key, exactly);
        * ``hold=N``: for ``N`` steps, then it crossfades back onto the dopesheet's curve over
          ``rejoin`` steps (default ``duration``) with minimum jerk; from then on the values are
          the dopesheet's, exactly.

        Args:
            prop: the property.
            value: where it goes.
            duration: steps to get there.
            hold: steps to hold ``value`` after arriving (see above).
            rejoin: steps to crossfade back onto the schedule after the hold.
        """
        from mini.temporal import steering

        steering.set_override(self, prop, value, duration, hold, rejoin)

    def follow(self, prop: str, duration: int) -> None:
        """Return ``prop`` to the dopesheet: from the current step, crossfade (minimum jerk) from
        whatever it is doing under its override onto the schedule over ``duration`` steps; from
        then on the values are the dopesheet's, exactly. No-op when nothing overrides it.

        Args:
            prop: the property.
            duration: steps of the crossfade.
        """
        from mini.temporal import steering

        steering.follow(self, prop, duration)

    def overridden(self, prop: str, step: int | None = None) -> bool:
        """Whether a runtime override (not the dopesheet) shapes ``prop`` at ``step`` (default:
        the cursor): a ``set()`` in progress, held or rejoining, or the smooth adoption of an
        edit by ``reload()``.

        Args:
            prop: the property.
            step: the step (default: the cursor).
        """
        self._curve(prop)
        if step is None:
            era, step = self._now, self._step
        else:
            step = _step_index(step, "overridden")
            era = self._now if step >= self._step else self._era_at(step)
        return prop in era.curves and era.active(prop, step) is not None

    @property
    def overrides(self) -> dict[str, Override]:
        """The override shaping each property at the cursor (properties on the schedule are
        absent): what a UI shows as under manual control."""
        out = {}
        for name in self._names:
            j = self._now.active(name, self._step)
            if j is not None:
                out[name] = self._now.overrides[name][j]
        return out

    def _refresh(self, prop: str) -> None:
        """Recompute what the caches hold for ``prop`` after its overrides changed."""
        self._ra_cache.clear()
        if self._win_hi > self._win_lo:
            col = self._evaluate([prop], Steps.range(self._win_lo, self._win_hi))[prop]
            self._win_cols[self._names.index(prop)] = col.tolist()

    def _curve(self, prop: str) -> PropCurve:
        try:
            return self._now.curves[prop]
        except KeyError:
            raise unknown_property(prop, self._names) from None

    def reload(self, dopesheet: Dopesheet | str | os.PathLike[str]) -> list[str]:
        """Adopt an edited dopesheet for the steps after the current one, without a jump.

        Properties whose schedule changed move smoothly from their state at the next step (value,
        velocity, acceleration) to the new schedule's next key and follow it from there;
        unchanged ones (and their runtime overrides) carry on as they were. Phases and actions
        follow the new dopesheet from the next step. Steps up to the current one keep the
        schedule they ran. Returns the names of the properties whose schedule changed.

        Args:
            dopesheet: the edited dopesheet or its CSV path.
        """
        from mini.temporal import steering

        return steering.reload(self, dopesheet)

    def to_dopesheet(
        self, actions: Iterable[tuple[int, str]] = (), *, tolerance: float = 0.0
    ) -> Dopesheet:
        """ "Save as dopesheet": a dopesheet that realizes to this run's values, overrides and
        reloads included, plus ``actions`` (``(step, name)``, e.g. fired at runtime) as ACTION
        cells. See :func:`mini.temporal.bake.bake` (``tolerance=0``: exact, bit for bit).

        Args:
            actions: ``(step, name)`` pairs to add as ACTION cells.
            tolerance: the largest error allowed per property (0: exact).
        """
        from mini.temporal.bake import bake

        return bake(self, actions, tolerance=tolerance)

    # -- persistence --------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The cursor, the dopesheet(s) it ran and the runtime overrides (JSON-able)."""
        return {"step": self._step, "eras": [e.to_dict() for e in self._eras]}

    def load_state_dict(self, state: dict[str, Any]) -> list[str]:
        """Restore a saved cursor, schedule history and overrides. If this timeline's dopesheet
        differs from the saved one, the saved schedule is restored first and the new one adopted
        with :meth:`reload`, so edits apply after the saved step. Returns the names of the
        properties whose schedule changed (empty when the dopesheet is unchanged)."""
        current = self.dopesheet
        self._set_eras([Era.from_dict(e) for e in state["eras"]])
        self.seek(int(state["step"]))
        if self.dopesheet == current:
            self._now.dopesheet = current  # keep the caller's source name and line numbers
            return []
        return self.reload(current)

    def __repr__(self) -> str:
        return f"Timeline({self.dopesheet.source!r}, step={self._step}/{self._n - 1})"

"""The Timeline: a dopesheet played step by step, with random access and runtime control.

Values are computed a window of steps at a time with numpy (see :mod:`mini.temporal.curves`)
and handed out per step from Python lists, so ``step()`` costs a few microseconds whatever the
interpolators, and stepping, iteration, ``timeline[i]`` and :func:`realize` agree exactly.

A live edit (:meth:`Timeline.reload`) starts a new *era* after the current step; earlier steps
keep the schedule they actually ran, so plots and ``realize`` show what really happened.
"""

from __future__ import annotations

import logging
import math
import os
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mini.temporal.curves import Override, PropCurve
from mini.temporal.dopesheet import Dopesheet, Phase

log = logging.getLogger(__name__)

WINDOW = 2048
_RANDOM_ACCESS_WINDOWS = 4


@dataclass(frozen=True, slots=True)
class State:
    """Everything the schedule says about one step."""

    step: int
    phase: str | None
    props: dict[str, float]
    actions: tuple[str, ...]
    is_phase_start: bool
    is_phase_end: bool

    def __getitem__(self, prop: str) -> float:
        return self.props[prop]


@dataclass
class _Era:
    """A dopesheet in force from ``start`` on, with the runtime overrides made under it."""

    start: int
    dopesheet: Dopesheet
    overrides: dict[str, list[Override]]
    curves: dict[str, PropCurve] = field(init=False)
    phase_starts: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.curves = PropCurve.from_dopesheet(self.dopesheet)
        self.phase_starts = [p.start for p in self.dopesheet.phases]
        for name in self.curves:
            self.overrides.setdefault(name, [])

    def phase_at(self, i: int) -> Phase:
        return self.dopesheet.phases[bisect_right(self.phase_starts, i) - 1]

    def evaluate(self, name: str, lo: int, hi: int, out: np.ndarray) -> None:
        curve = self.curves.get(name)
        if curve is None:  # the property did not exist in this era
            out[:] = np.nan
            return
        curve.evaluate(lo, hi, out)
        ovs = self.overrides[name]
        for j, ov in enumerate(ovs):
            until = ovs[j + 1].start if j + 1 < len(ovs) else None
            curve.apply_override(ov, until, lo, hi, out)

    def kinematics(self, name: str, step: int) -> tuple[float, float, float]:
        curve = self.curves[name]
        active = [ov for ov in self.overrides[name] if ov.start <= step]
        if active:
            k = curve.override_kinematics(active[-1], step)
            if k is not None:
                return k
        return curve.kinematics(step)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "dopesheet": self.dopesheet.to_dict(),
            "overrides": {
                n: [o.to_dict() for o in ovs] for n, ovs in self.overrides.items() if ovs
            },
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Era:
        overrides = {n: [Override(**o) for o in ovs] for n, ovs in d.get("overrides", {}).items()}
        return cls(int(d["start"]), Dopesheet.from_dict(d["dopesheet"]), overrides)


class Timeline:
    """A dopesheet as a per-step schedule with a cursor.

    ``state`` is the current step's :class:`State`; ``step()`` advances and returns the new state;
    iterating yields the current state and then every following one (advancing the cursor, like
    reading a file); ``timeline[i]`` looks at any step without moving. ``set()`` starts a smooth
    runtime transition, ``reload()`` adopts an edited dopesheet mid-run, and
    ``state_dict()``/``load_state_dict()``/``seek()`` make resumed runs continue exactly.
    """

    def __init__(self, dopesheet: Dopesheet | str | os.PathLike[str]):
        if not isinstance(dopesheet, Dopesheet):
            dopesheet = Dopesheet.from_csv(dopesheet)
        self._set_eras([_Era(0, dopesheet, {})])
        self._step = 0
        self._state: State | None = None  # computed on first use (realize never needs it)

    def _set_eras(self, eras: list[_Era]) -> None:
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
    def props(self) -> list[str]:
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
        """Move the cursor to ``step`` (for resuming) and return its state."""
        if not 0 <= step < self._n:
            raise IndexError(f"step {step} is outside the timeline (0..{self._n - 1})")
        self._step = step
        self._state = self._state_at(step, self._cursor_values(step))
        return self._state

    # -- vectorised values --------------------------------------------------------------------------
    def values(self, lo: int = 0, hi: int | None = None) -> dict[str, np.ndarray]:
        """Every property on steps ``[lo, hi)`` as float64 arrays (overrides and earlier eras
        included; NaN where a property did not exist yet)."""
        hi = self._n if hi is None else min(hi, self._n)
        lo = max(0, lo)
        out = {name: np.empty(max(0, hi - lo), dtype=np.float64) for name in self._names}
        if len(self._eras) == 1:
            for name in self._names:
                self._now.evaluate(name, lo, hi, out[name])
            return out
        for k, era in enumerate(self._eras):
            a = max(lo, era.start)
            b = hi if k + 1 == len(self._eras) else min(hi, self._eras[k + 1].start)
            if a < b:
                for name in self._names:
                    era.evaluate(name, a, b, out[name][a - lo : b - lo])
        return out

    def _columns(self, lo: int, hi: int) -> list[list[float]]:
        vals = self.values(lo, hi)
        return [vals[name].tolist() for name in self._names]

    def _cursor_values(self, i: int) -> dict[str, float]:
        if not self._win_lo <= i < self._win_hi:
            self._win_lo, self._win_hi = i, min(self._n, i + WINDOW)
            self._win_cols = self._columns(self._win_lo, self._win_hi)
        j = i - self._win_lo
        return {name: col[j] for name, col in zip(self._names, self._win_cols, strict=True)}

    def _era_at(self, i: int) -> _Era:
        if len(self._eras) == 1:
            return self._now
        return self._eras[bisect_right(self._era_starts, i) - 1]

    def _state_at(self, i: int, props: dict[str, float]) -> State:
        era = self._era_at(i)
        ph = era.phase_at(i)
        return State(i, ph.name, props, era.dopesheet.actions_at(i), i == ph.start, i == ph.end)

    # -- runtime control ----------------------------------------------------------------------------
    def kinematics(self, prop: str, step: int | None = None) -> tuple[float, float, float]:
        """``(value, velocity, acceleration)`` of ``prop`` at ``step`` (default: the cursor) under
        the dopesheet in force now, in the property's interpolation space, per step."""
        self._curve(prop)
        return self._now.kinematics(prop, self._step if step is None else step)

    def set(self, prop: str, value: float, duration: int) -> None:
        """Move ``prop`` smoothly from its current state to ``value`` over ``duration`` steps.

        The transition starts at the current step (whose value is already in effect and does not
        change) and keeps value, velocity and acceleration continuous. ``prop`` then holds
        ``value`` until its next key at or after the transition's end, where the dopesheet takes
        over again without a jump (step-end properties: at that key, exactly).
        """
        curve = self._curve(prop)
        if duration < 0 or int(duration) != duration:
            raise ValueError(f"duration must be a whole number of steps >= 0, got {duration!r}")
        target = curve.to_interp(value)
        s = self._step
        x, v, a = self._now.kinematics(prop, s)
        ov = Override(s, s + int(duration), x, v, a, target, float(value), self.state.props[prop])
        self._now.overrides[prop] = [o for o in self._now.overrides[prop] if o.start < s] + [ov]
        self._ra_cache.clear()
        if self._win_hi > self._win_lo:
            col = np.empty(self._win_hi - self._win_lo, dtype=np.float64)
            self._now.evaluate(prop, self._win_lo, self._win_hi, col)
            self._win_cols[self._names.index(prop)] = col.tolist()

    def _curve(self, prop: str) -> PropCurve:
        try:
            return self._now.curves[prop]
        except KeyError:
            raise KeyError(
                f"the dopesheet has no property {prop!r}; it has: {', '.join(self._names)}"
            ) from None

    def reload(self, dopesheet: Dopesheet | str | os.PathLike[str]) -> list[str]:
        """Adopt an edited dopesheet for the steps after the current one, without a jump.

        Properties whose schedule changed move smoothly from their state at the next step (value,
        velocity, acceleration) to the new schedule's next key and follow it from there;
        unchanged ones (and their runtime overrides) carry on as they were. Phases and actions
        follow the new dopesheet from the next step. Steps up to the current one keep the
        schedule they ran. Returns the names of the properties whose schedule changed.
        """
        new = dopesheet if isinstance(dopesheet, Dopesheet) else Dopesheet.from_csv(dopesheet)
        s = self._step + 1  # the first step the edit can affect
        if s > new.n_steps:
            raise ValueError(
                f"the edited dopesheet has {new.n_steps} steps but the run is already at step "
                f"{self._step}"
            )
        old = self._now
        era = _Era(s, new, {})
        changed: list[str] = []
        for name, curve in era.curves.items():
            before = old.curves.get(name)
            if before is not None and before.same_schedule(curve):
                era.overrides[name] = list(old.overrides[name])
                continue
            changed.append(name)
            if before is None or s >= new.n_steps:
                continue
            state = _convert_kinematics(before, curve, old.kinematics(name, s))
            if state is None or (state == curve.kinematics(s) and not old.overrides[name]):
                continue
            k = bisect_right(curve.steps, s)
            if k < len(curve.steps):
                end, target_value = curve.steps[k], curve.values[k]
            else:
                end, target_value = new.n_steps - 1, curve.values[-1]
            start_value = np.empty(1)
            old.evaluate(name, s, s + 1, start_value)
            x, v, a = state
            era.overrides[name] = [
                Override(
                    s, max(end, s), x, v, a, curve.to_interp(target_value), target_value,
                    float(start_value[0]),
                )
            ]  # fmt: skip
        eras = [e for e in self._eras if e.start < s]
        self._set_eras([*eras, era])
        if changed:
            log.info("timeline reloaded after step %d; changed: %s", self._step, ", ".join(changed))
        return changed

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
        self._set_eras([_Era.from_dict(e) for e in state["eras"]])
        self.seek(int(state["step"]))
        if self.dopesheet == current:
            self._now.dopesheet = current  # keep the caller's source name and line numbers
            return []
        return self.reload(current)

    def __repr__(self) -> str:
        return f"Timeline({self.dopesheet.source!r}, step={self._step}/{self._n - 1})"


def _convert_kinematics(
    old: PropCurve, new: PropCurve, k: tuple[float, float, float]
) -> tuple[float, float, float] | None:
    """Kinematics in ``old``'s space → ``new``'s space (``None``: not representable)."""
    if old.log == new.log:
        return k
    x, v, a = k
    if old.log:  # log → linear: X = e^x
        ex = math.exp(x)
        return ex, ex * v, ex * (a + v * v)
    if x <= 0:  # linear → log needs a positive value
        return None
    return math.log(x), v / x, a / x - (v / x) ** 2

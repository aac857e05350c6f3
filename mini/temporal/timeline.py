"""The Timeline: a dopesheet played step by step, with random access and runtime control.

Values are computed a window of steps at a time with numpy (see :mod:`mini.temporal.curves`)
and handed out per step from Python lists, so ``step()`` costs a few microseconds whatever the
interpolators, and stepping, iteration, ``timeline[i]`` and :func:`realize` agree exactly.
"""

from __future__ import annotations

import logging
import math
import os
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from mini.temporal.curves import Override, PropCurve
from mini.temporal.dopesheet import Dopesheet

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
        self._adopt(dopesheet)
        self._overrides: dict[str, list[Override]] = {name: [] for name in self._curves}
        self._step = 0
        self._state = self._state_at(0, self._cursor_values(0))

    def _adopt(self, dopesheet: Dopesheet) -> None:
        self.dopesheet = dopesheet
        self._curves = PropCurve.from_dopesheet(dopesheet)
        self._names = list(self._curves)
        self._n = dopesheet.n_steps
        self._phases = dopesheet.phases
        self._phase_starts = [p.start for p in self._phases]
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
    def state(self) -> State:
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
        yield self._state
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
        """Every property on steps ``[lo, hi)`` as float64 arrays (overrides included)."""
        hi = self._n if hi is None else min(hi, self._n)
        lo = max(0, lo)
        out: dict[str, np.ndarray] = {}
        for name, curve in self._curves.items():
            arr = np.empty(max(0, hi - lo), dtype=np.float64)
            curve.evaluate(lo, hi, arr)
            ovs = self._overrides[name]
            for j, ov in enumerate(ovs):
                until = ovs[j + 1].start if j + 1 < len(ovs) else None
                curve.apply_override(ov, until, lo, hi, arr)
            out[name] = arr
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

    def _state_at(self, i: int, props: dict[str, float]) -> State:
        ph = self._phases[bisect_right(self._phase_starts, i) - 1]
        return State(i, ph.name, props, self.dopesheet.actions_at(i), i == ph.start, i == ph.end)

    # -- runtime control ----------------------------------------------------------------------------
    def kinematics(self, prop: str, step: int | None = None) -> tuple[float, float, float]:
        """``(value, velocity, acceleration)`` of ``prop`` at ``step`` (default: the cursor), in
        the property's interpolation space, per step."""
        step = self._step if step is None else step
        curve = self._curve(prop)
        active = [ov for ov in self._overrides[prop] if ov.start <= step]
        if active:
            k = curve.override_kinematics(active[-1], step)
            if k is not None:
                return k
        return curve.kinematics(step)

    def set(self, prop: str, value: float, duration: int) -> None:
        """Move ``prop`` smoothly from its current state to ``value`` over ``duration`` steps.

        The transition starts at the current step (whose value is already in effect and does not
        change) and keeps value, velocity and acceleration continuous. ``prop`` then holds
        ``value`` until its next key at or after the transition's end, where the dopesheet takes
        over again without a jump.
        """
        curve = self._curve(prop)
        if duration < 0 or int(duration) != duration:
            raise ValueError(f"duration must be a whole number of steps >= 0, got {duration!r}")
        target = curve.to_interp(value)
        s = self._step
        x, v, a = self.kinematics(prop, s)
        start_value = self._state.props[prop]
        ov = Override(s, s + int(duration), x, v, a, target, float(value), start_value)
        self._overrides[prop] = [o for o in self._overrides[prop] if o.start < s] + [ov]
        self._refresh_column(prop)

    def _refresh_column(self, prop: str) -> None:
        self._ra_cache.clear()
        if self._win_hi > self._win_lo:
            j = self._names.index(prop)
            self._win_cols[j] = self.values(self._win_lo, self._win_hi)[prop].tolist()

    def _curve(self, prop: str) -> PropCurve:
        try:
            return self._curves[prop]
        except KeyError:
            raise KeyError(
                f"the dopesheet has no property {prop!r}; it has: {', '.join(self._names)}"
            ) from None

    def reload(self, dopesheet: Dopesheet | str | os.PathLike[str]) -> list[str]:
        """Adopt an edited dopesheet from the current step on, without a jump.

        Properties whose schedule changed move smoothly from their current state (value,
        velocity, acceleration) to the new schedule's next key and follow it from there;
        unchanged ones (and their runtime overrides) are kept as they are. Phases and actions
        follow the new dopesheet at once. Returns the names of the properties that changed.
        Random access to steps before the reload reports the new dopesheet there.
        """
        new = dopesheet if isinstance(dopesheet, Dopesheet) else Dopesheet.from_csv(dopesheet)
        s = self._step
        if s >= new.n_steps:
            raise ValueError(
                f"the edited dopesheet has {new.n_steps} steps but the run is already at step {s}"
            )
        new_curves = PropCurve.from_dopesheet(new)
        overrides: dict[str, list[Override]] = {}
        changed: list[str] = []
        for name, curve in new_curves.items():
            old = self._curves.get(name)
            if old is None:
                overrides[name] = []
                changed.append(name)
                continue
            if old.same_schedule(curve):
                overrides[name] = self._overrides[name]
                continue
            changed.append(name)
            overrides[name] = []
            state = self._convert_kinematics(old, curve, self.kinematics(name, s))
            if state is None or (curve.kinematics(s) == state and not self._overrides[name]):
                continue
            k = bisect_right(curve.steps, s)
            if k < len(curve.steps):
                end, target_value = curve.steps[k], curve.values[k]
            else:
                end, target_value = new.n_steps - 1, curve.values[-1]
            if end <= s:
                continue
            x, v, a = state
            start_value = self._state.props[name]
            overrides[name] = [
                Override(s, end, x, v, a, curve.to_interp(target_value), target_value, start_value)
            ]
        self._adopt(new)
        self._overrides = overrides
        self._state = self._state_at(s, self._cursor_values(s))
        if changed:
            log.info("timeline reloaded at step %d; changed: %s", s, ", ".join(changed))
        return changed

    @staticmethod
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

    # -- persistence --------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The cursor, the dopesheet it runs and the runtime overrides (JSON-able)."""
        return {
            "step": self._step,
            "dopesheet": self.dopesheet.to_dict(),
            "overrides": {
                n: [o.to_dict() for o in ovs] for n, ovs in self._overrides.items() if ovs
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> list[str]:
        """Restore a saved cursor and overrides. If this timeline's dopesheet differs from the
        saved one, the saved schedule is restored first and the new one adopted with
        :meth:`reload` at the saved step, so edits apply from there on. Returns the changed
        property names (empty when the dopesheet is unchanged)."""
        saved = Dopesheet.from_dict(state["dopesheet"])
        current = self.dopesheet
        self._adopt(saved)
        self._overrides = {name: [] for name in self._curves}
        for name, ovs in state.get("overrides", {}).items():
            self._overrides[name] = [Override(**o) for o in ovs]
        self.seek(int(state["step"]))
        if saved == current:
            self.dopesheet = current  # keep the caller's source name and line numbers
            return []
        return self.reload(current)

    def __repr__(self) -> str:
        return f"Timeline({self.dopesheet.source!r}, step={self._step}/{self._n - 1})"

"""Eras: the dopesheet in force from some step on, with the runtime overrides made under it.

A :class:`~mini.temporal.timeline.Timeline` is a list of eras; a live edit (``reload``) starts a
new one after the current step, so the steps already run keep the schedule they ran.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import TYPE_CHECKING, Any

import numpy as np

from mini.temporal.curves import PropCurve, Steps
from mini.temporal.dopesheet import Dopesheet, Phase

if TYPE_CHECKING:  # overrides load with the first set(), reload or resumed override
    from mini.temporal.overrides import Override


class Era:
    """A dopesheet in force from ``start`` on, with the runtime overrides made under it
    (per property, in start order; each is in effect until the next one starts).

    Args:
        start: the first step it is in force.
        dopesheet: its schedule.
        overrides: per property, the overrides made under it (filled in for every property).
    """

    __slots__ = ("curves", "dopesheet", "overrides", "phase_starts", "start")

    def __init__(
        self, start: int, dopesheet: Dopesheet, overrides: dict[str, list[Override]]
    ) -> None:
        self.start = start
        self.dopesheet = dopesheet
        self.overrides = overrides
        self.curves = PropCurve.from_dopesheet(self.dopesheet)
        self.phase_starts = [p.start for p in self.dopesheet.phases]
        for name in self.curves:
            self.overrides.setdefault(name, [])

    def phase_at(self, i: int) -> Phase:
        return self.dopesheet.phases[bisect_right(self.phase_starts, i) - 1]

    def evaluate(self, name: str, steps: Steps, out: np.ndarray) -> None:
        curve = self.curves.get(name)
        if curve is None:  # the property did not exist in this era
            out[:] = np.nan
            return
        curve.evaluate(steps, out)
        ovs = self.overrides[name]
        if not ovs or len(steps) == 0:
            return
        from mini.temporal.overrides import apply_override

        first = max(0, bisect_right([o.start for o in ovs], steps.t[0]) - 1)
        for j in range(first, len(ovs)):
            until = ovs[j + 1].start if j + 1 < len(ovs) else None
            apply_override(curve, ovs[j], until, steps, out)

    def active(self, name: str, step: int) -> int | None:
        """Index of the override that shapes ``name`` at ``step`` (``None``: the schedule)."""
        ovs = self.overrides.get(name, [])
        j = bisect_right([o.start for o in ovs], step) - 1
        if j < 0:
            return None
        from mini.temporal.overrides import influence_end

        end = influence_end(self.curves[name], ovs[j])
        return j if end is None or step < end else None

    def kinematics(self, name: str, step: int) -> tuple[float, float, float]:
        curve = self.curves[name]
        j = self.active(name, step)
        if j is not None:
            from mini.temporal.overrides import override_kinematics

            k = override_kinematics(curve, self.overrides[name][j], step)
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
    def from_dict(cls, d: dict[str, Any]) -> Era:
        from mini.temporal.overrides import Override

        overrides = {
            n: [Override.from_dict(o) for o in ovs] for n, ovs in d.get("overrides", {}).items()
        }
        return cls(int(d["start"]), Dopesheet.from_dict(d["dopesheet"]), overrides)


def reloaded(old: Era, new: Dopesheet, s: int) -> tuple[Era, list[str]]:
    """The era that adopts ``new`` from step ``s`` after ``old``, and the names of the properties
    whose schedule changed. Unchanged properties keep their overrides; changed ones move smoothly
    from their state at ``s`` (value, velocity, acceleration) to the new schedule's next key."""
    from mini.temporal.overrides import Override

    era = Era(s, new, {})
    changed: list[str] = []
    for name, curve in era.curves.items():
        before = old.curves.get(name)
        if before is not None and before.same_schedule(curve):
            era.overrides[name] = list(old.overrides[name])
            continue
        changed.append(name)
        if before is None or s >= new.n_steps:
            continue
        state = convert_kinematics(before, curve, old.kinematics(name, s))
        if state is None or (state == curve.kinematics(s) and not old.overrides[name]):
            continue
        k = bisect_right(curve.steps, s)
        end = blend_end(curve.steps, s, new.n_steps - 1)
        target_value = curve.values[min(k, len(curve.values) - 1)]
        start_value = np.empty(1)
        old.evaluate(name, Steps.range(s, s + 1), start_value)
        x, v, a = state
        era.overrides[name] = [
            Override(
                s, max(end, s), x, v, a, curve.to_interp(target_value), target_value,
                float(start_value[0]),
            )
        ]  # fmt: skip
    return era, changed


def blend_end(key_steps: list[int], s: int, last_step: int) -> int:
    """Where a blend into an adopted schedule that starts at step ``s`` ends: the first key
    after ``s`` (a key at ``s`` itself is where it starts), else the last step. The engine's
    resume bounds (:func:`mini.training.length_change.blend_bounds`) cover the same steps.

    Args:
        key_steps: the property's key steps in the adopted schedule, sorted.
        s: the first blended step.
        last_step: the schedule's last step.
    """
    k = bisect_right(key_steps, s)
    return key_steps[k] if k < len(key_steps) else last_step


def convert_kinematics(
    old: PropCurve, new: PropCurve, k: tuple[float, float, float]
) -> tuple[float, float, float] | None:
    """Kinematics in ``old``'s space → ``new``'s space (``None``: not representable)."""
    from mini.temporal.overrides import finite_state

    if not finite_state(k):
        return None
    if old.log == new.log:
        return k
    x, v, a = k
    if old.log:  # log → linear: X = e^x
        ex = math.exp(x)
        out = (ex, ex * v, ex * (a + v * v))
    elif x <= 0:  # linear → log needs a positive value
        return None
    else:
        out = (math.log(x), v / x, a / x - (v / x) ** 2)
    return out if finite_state(out) else None

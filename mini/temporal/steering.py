"""Steering a timeline at runtime: :meth:`Timeline.set <mini.temporal.timeline.Timeline.set>`
starts a smooth override, :meth:`~mini.temporal.timeline.Timeline.follow` returns a property to
the schedule, :meth:`~mini.temporal.timeline.Timeline.reload` adopts an edited dopesheet.

The bodies of those methods, kept apart from :mod:`mini.temporal.timeline` so that the class
holds the cursor and the values, and this module how a run departs from its schedule. It loads
on the first ``set()``, ``follow()`` or ``reload()``: ``from mini.temporal import Timeline``
does not need it.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
from dataclasses import replace
from typing import TYPE_CHECKING

from mini.temporal.dopesheet import Dopesheet
from mini.temporal.eras import reloaded
from mini.temporal.overrides import Override, finite_state

if TYPE_CHECKING:
    from mini.temporal.timeline import Timeline

log = logging.getLogger("mini.temporal.timeline")  # the timeline's messages


def set_override(
    tl: Timeline, prop: str, value: float, duration: int, hold: int | None, rejoin: int | None
) -> None:
    """:meth:`Timeline.set`: a quintic from ``prop``'s state now to ``value``, then a hold.

    Args:
        tl: the timeline.
        prop: the property.
        value: where it goes.
        duration: steps to get there.
        hold: steps to hold ``value`` after arriving (``None``: until the next key).
        rejoin: steps to crossfade back onto the schedule after the hold.
    """
    curve = tl._curve(prop)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"set({prop!r}, ...): the value must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"cannot set {prop!r} to {value!r}: values must be finite")
    target = curve.to_interp(value)
    duration = _whole_steps(duration, "duration", prop)
    if hold is None and rejoin is not None:
        raise ValueError(
            f"set({prop!r}, ..., rejoin={rejoin!r}) needs hold=N: the number of steps to "
            "hold the value before rejoining the schedule (hold=0 rejoins right away)"
        )
    held = None if hold is None else _whole_steps(hold, "hold", prop)
    back = duration if rejoin is None else _whole_steps(rejoin, "rejoin", prop)
    s = tl._step
    state = tl.kinematics(prop, s)
    if not finite_state(state):
        raise ValueError(
            f"cannot start a smooth transition of {prop!r} at step {s}: its rate of change "
            f"there overflows float64 (keys near ±1.8e308?); state {state}"
        )
    end = s + duration
    releases = () if held is None else ((end + held, back),)
    start_value = tl.state.props[prop]
    ov = Override(s, end, *state, target, float(value), start_value, held, releases)
    tl._now.overrides[prop] = [o for o in tl._now.overrides[prop] if o.start < s] + [ov]
    tl._refresh(prop)


def follow(tl: Timeline, prop: str, duration: int) -> None:
    """:meth:`Timeline.follow`: crossfade ``prop`` from its override onto the schedule.

    Args:
        tl: the timeline.
        prop: the property.
        duration: steps of the crossfade.
    """
    tl._curve(prop)
    duration = _whole_steps(duration, "duration", prop)
    s = tl._step
    ovs = tl._now.overrides[prop]
    j = tl._now.active(prop, s + 1)  # the override shaping the next step
    if j is None:
        return
    ov = ovs[j]
    start = max(ov.start, s if duration > 0 else s + 1)
    kept = tuple(r for r in ov.releases if r[0] <= s)  # blends already under way go on
    ovs[j] = replace(ov, releases=(*kept, (start, duration)))
    del ovs[j + 1 :]
    tl._refresh(prop)


def reload(tl: Timeline, dopesheet: Dopesheet | str | os.PathLike[str]) -> list[str]:
    """:meth:`Timeline.reload`: adopt an edited dopesheet after the current step.

    Args:
        tl: the timeline.
        dopesheet: the edited dopesheet or its CSV path.
    """
    new = dopesheet if isinstance(dopesheet, Dopesheet) else Dopesheet.from_csv(dopesheet)
    s = tl._step + 1  # the first step the edit can affect
    if s > new.n_steps:
        raise ValueError(
            f"the edited dopesheet has {new.n_steps} steps but the run is already at step "
            f"{tl._step}"
        )
    era, changed = reloaded(tl._now, new, s)
    tl._set_eras([*(e for e in tl._eras if e.start < s), era])
    if changed:
        log.info("timeline reloaded after step %d; changed: %s", tl._step, ", ".join(changed))
    return changed


def _whole_steps(value: object, what: str, prop: str) -> int:
    """``value`` as a whole number of steps, or a clear error naming ``what`` and ``prop``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} for {prop!r} must be a number of steps, got {value!r}")
    if not math.isfinite(value) or value < 0 or value != int(value):
        raise ValueError(f"{what} for {prop!r} must be a whole number of steps >= 0, got {value!r}")
    return int(value)

"""Resuming with a schedule that differs from the checkpoint's: a longer or shorter run (steps
in ``ep``/``%`` resolve to other steps) or an edited CSV.

The policy is chosen by ``on_length_change`` in every loop:

- ``"adopt"`` (default): the new schedule applies after the saved step. Every property whose
  curve changed moves smoothly into the new curve (``Timeline.reload``), and while it does its
  value is kept inside the range of the keys around that step on the old and the new curve, so
  the blend never goes below or above both schedules. An action that already fired does not
  fire again where the new schedule moved it later.
- ``"keep"``: the checkpoint's own schedule continues unchanged (a run that got longer holds
  the last values past its end; an adapter warns once).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import Literal

from mini.temporal import Dopesheet
from mini.temporal.eras import blend_end

LengthChange = Literal["adopt", "keep"]
LENGTH_CHANGES: tuple[str, ...] = ("adopt", "keep")


def check_policy(policy: str) -> str:
    if policy not in LENGTH_CHANGES:
        raise ValueError(
            f"on_length_change must be one of {', '.join(map(repr, LENGTH_CHANGES))}, got "
            f"{policy!r}"
        )
    return policy


def already_fired(history: Iterable[tuple[int, str]], new: Dopesheet, step: int) -> dict[str, int]:
    """How many of each action's occurrences after ``step`` in ``new`` stand for ones that
    already fired (the new schedule moved them later): those are skipped."""
    fired: dict[str, int] = {}
    for _, action in history:
        fired[action] = fired.get(action, 0) + 1
    skip: dict[str, int] = {}
    for action, count in fired.items():
        before = sum(1 for s, a in new.actions if a == action and s <= step)
        if count > before:
            skip[action] = count - before
    return skip


def _around(ds: Dopesheet, prop: str, t: int) -> tuple[float, float]:
    """The smallest and largest value among the keys of ``prop`` around step ``t`` (the key at
    or before it and the next one, with a jump key's arrival value)."""
    keys = ds.keyframes(prop)
    arrivals = ds.key_arrivals(prop)
    steps = [s for s, _ in keys]
    i = bisect.bisect_right(steps, t) - 1
    values: list[float] = []
    for j in (i, i + 1):
        if 0 <= j < len(keys):
            values.append(keys[j][1])
            if arrivals[j] is not None:
                values.append(arrivals[j])  # type: ignore[arg-type]
    if not values:
        values = [keys[0][1]] if keys else [0.0]
    return min(values), max(values)


def blend_bounds(
    old: Dopesheet, new: Dopesheet, props: Iterable[str], step: int, n_steps: int
) -> dict[str, tuple[int, list[float], list[float]]]:
    """For each changed property: ``(first step, lows, highs)`` over the blend (the steps after
    ``step`` up to where the timeline's blend ends, :func:`~mini.temporal.eras.blend_end`): the
    range of the keys around each step on the old and the new curve together."""
    out: dict[str, tuple[int, list[float], list[float]]] = {}
    for prop in props:
        if prop not in new.specs:
            continue
        keys = [k for k, _ in new.keyframes(prop)]
        end = min(blend_end(keys, step + 1, n_steps - 1), n_steps - 1)
        lows: list[float] = []
        highs: list[float] = []
        for t in range(step + 1, end + 1):
            lo, hi = _around(new, prop, t)
            if prop in old.specs:
                olo, ohi = _around(old, prop, min(t, old.last_step))
                lo, hi = min(lo, olo), max(hi, ohi)
            lows.append(lo)
            highs.append(hi)
        if lows:
            out[prop] = (step + 1, lows, highs)
    return out

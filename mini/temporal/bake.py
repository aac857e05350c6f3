"""Bake a steered run into a dopesheet: the keys that reproduce what a Timeline actually ran.

A live explorer moves properties with ``Timeline.set``/``follow`` (and ``--watch`` adopts edits
with ``reload``); :func:`bake` writes all of that down as an ordinary dopesheet, so the explored
run can be re-run headless, diffed and edited. Per property the baked keys are the original
keys the run still followed, plus one key at every step where a runtime change shaped the curve
(an override's start, the end of its transition, the key where the schedule took over again,
the start and end of a crossfade back), each holding the value the run had at that step, and
``ACTION`` cells for the actions fired at runtime.

Exactness: every baked key's step is reproduced bit for bit (a key is hit exactly). Between
keys a dopesheet segment is a rest-to-rest curve of the column's interpolator, so the bake is
exact (to float rounding: bitwise in linear space, a few ulp for ``:log`` columns) whenever each
runtime change started and ended while the property was at rest on a ``minjerk`` column: moved
while it held still or sat on a key, returned (``follow``) while the schedule held still.
Otherwise the deviation is bounded as ``docs/explorer.md`` says (the explorer measures it).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from typing import Any

from mini.temporal.curves import PropCurve
from mini.temporal.dopesheet import Dopesheet
from mini.temporal.eras import Era
from mini.temporal.overrides import Override, influence_end
from mini.temporal.timeline import Timeline

__all__ = ["bake"]


def bake(timeline: Timeline, actions: Iterable[tuple[int, str]] = ()) -> Dopesheet:
    """A dopesheet whose realization is what ``timeline`` ran (and still plans to run), with
    ``actions`` (``(step, name)`` pairs fired at runtime, e.g. ``trainer.fired``) as ``ACTION``
    cells after that step's own actions."""
    eras = [Era.from_dict(e) for e in timeline.state_dict()["eras"]]
    n = len(timeline)
    bounds = [e.start for e in eras[1:]] + [n]
    ran = timeline.values(0, n)
    keys: dict[str, list[int]] = {}
    for name in timeline.names:
        steps: set[int] = set()
        previous: PropCurve | None = None
        for era, hi in zip(eras, bounds, strict=True):
            curve = era.curves.get(name)
            if curve is not None:
                if era.start > 0 and (previous is None or not previous.same_schedule(curve)):
                    steps.add(era.start)  # the adoption of an edit starts a new piece here
                steps |= _breakpoints(curve, era.overrides[name], era.start, hi)
            previous = curve
        keys[name] = sorted(steps)

    phases, era_actions = _phases_and_actions(eras, bounds)
    fired: dict[int, list[str]] = {}
    for step, action in actions:
        if not 0 <= step < n:
            raise ValueError(
                f"bake: action {action!r} at step {step} is outside the run (0..{n - 1})"
            )
        fired.setdefault(int(step), []).append(str(action))
    rows: dict[int, dict[str, Any]] = {}

    def row(step: int) -> dict[str, Any]:
        return rows.setdefault(
            step, {"step": step, "lines": [], "phase": None, "actions": [], "values": {}}
        )

    for name, steps in keys.items():
        for s in steps:
            row(s)["values"][name] = float(ran[name][s])
    for s, phase in phases.items():
        row(s)["phase"] = phase
    for s, names in era_actions.items():
        row(s)["actions"].extend(names)
    for s, names in fired.items():
        row(s)["actions"].extend(names)
    row(n - 1)  # the last row sets the run's length
    now = timeline.dopesheet
    return Dopesheet.from_dict(
        {
            "source": f"{now.source} (explored)",
            "props": {
                name: {"space": now.props[name].space, "interpolator": now.props[name].interpolator}
                for name in timeline.names
            },
            "rows": [rows[s] for s in sorted(rows)],
        }
    )


def _breakpoints(curve: PropCurve, overrides: list[Override], lo: int, hi: int) -> set[int]:
    """The steps in ``[lo, hi)`` between which the run's curve of one property is a plain
    schedule segment: the keys it followed and the steps where runtime overrides shaped it."""
    out: set[int] = set()
    covered: list[tuple[int, int]] = []  # (start, stop): keys strictly inside were not followed
    for j, ov in enumerate(overrides):
        stop = influence_end(curve, ov)
        until = overrides[j + 1].start if j + 1 < len(overrides) else None
        if until is not None:
            stop = until if stop is None else min(stop, until)
        stop = hi if stop is None else min(stop, hi)
        if stop <= lo or ov.start >= hi:
            continue
        covered.append((ov.start, stop))
        steps = [ov.start, max(ov.end, ov.start + 1), stop]
        if ov.hold is None:
            k = bisect_left(curve.steps, ov.end)  # the key where the schedule takes over
            if k < len(curve.steps):
                steps.append(curve.steps[k])
        else:
            steps.append(ov.end + ov.hold)
        for r, d in ov.releases:
            steps += [r, r + d]
        out |= {s for s in steps if max(ov.start, lo) <= s <= stop and s < hi}
    for s in curve.steps:
        if lo <= s < hi and not any(a < s < b for a, b in covered):
            out.add(s)
    return out


def _phases_and_actions(
    eras: list[Era], bounds: list[int]
) -> tuple[dict[int, str], dict[int, list[str]]]:
    """Phase starts and dopesheet actions as the run had them, era by era."""
    phases: dict[int, str] = {}
    actions: dict[int, list[str]] = {}
    last: str | None = None
    for era, hi in zip(eras, bounds, strict=True):
        for ph in era.dopesheet.phases:
            start = max(ph.start, era.start)
            if ph.end < era.start or start >= hi:
                continue
            if ph.name is not None and (start > era.start or ph.name != last):
                phases[start] = ph.name
        if hi > era.start:
            last = era.dopesheet.phase_at(hi - 1).name
        for step, action in era.dopesheet.actions:
            if era.start <= step < hi:
                actions.setdefault(step, []).append(action)
    return phases, actions

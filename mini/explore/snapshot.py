"""What the explorer hands out: the :class:`Snapshot` the page shows, a saved dopesheet and how
closely it reproduces the run, a failed panel. Plain values, safe to read on any thread."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mini.temporal import Dopesheet, Timeline

Status = Literal["ready", "running", "paused", "finished", "stopped", "failed"]


@dataclass(frozen=True)
class PanelFailure:
    """What a panel shows when its capture raised (training goes on).

    Attributes:
        message: what the capture raised.
    """

    message: str


@dataclass(frozen=True)
class Snapshot:
    """The run as the page shows it. ``step`` counts the steps completed; ``schedule`` holds
    every property at ``schedule_steps`` as the run has it (overrides included), ``written``
    as the dopesheet has it; ``targets`` the value each overridden property is moving to or
    holding; ``returning`` the overridden properties already on their way back to the
    schedule (``follow``, or the end of a ``hold``); ``panels`` holds each panel's capture (or a :class:`PanelFailure`).

    Attributes:
        run: the run's number (a Reset starts the next).
        version: counts captures: unchanged means only the live fields moved.
        status: ``ready``, ``running``, ``paused``, ``finished``, ``stopped`` or
            ``failed``.
        step: the steps completed.
        n_steps: the run's length.
        phase: the current phase.
        steps_per_second: the recent training speed.
        props: every property's current value.
        overridden: the properties moved away from the dopesheet.
        schedule_steps: the steps ``schedule`` and ``written`` are sampled at.
        schedule: every property as the run has it (overrides included).
        written: every property as the dopesheet has it.
        targets: the value each overridden property is moving to or holding.
        returning: overridden properties on their way back to the schedule.
        phases: ``(name, start, end)`` of each phase.
        panels: each panel's capture (or a :class:`PanelFailure`).
        error: why the run failed, if it did.
        notes: the latest messages for the page.
    """

    run: int
    version: int  # counts captures: unchanged means nothing but the live fields moved
    status: Status
    step: int
    n_steps: int
    phase: str | None
    steps_per_second: float
    props: dict[str, float]
    overridden: frozenset[str]
    schedule_steps: np.ndarray
    schedule: dict[str, np.ndarray]
    written: dict[str, np.ndarray]
    targets: dict[str, float]
    returning: frozenset[str]
    phases: tuple[tuple[str | None, int, int], ...]
    panels: tuple[Any, ...]
    error: str | None
    notes: tuple[str, ...]


@dataclass(frozen=True)
class SavedDopesheet:
    """A baked dopesheet written to ``path``; ``errors`` per property (0 where exact).

    Attributes:
        path: the CSV written.
        dopesheet: the baked dopesheet.
        step: the step the run was at.
        errors: property -> how far the baked curve is from the run's.
    """

    path: Path
    dopesheet: Dopesheet
    step: int
    errors: dict[str, BakeError]

    @property
    def exact(self) -> bool:
        return all(e.max_abs == 0.0 for e in self.errors.values())

    def summary(self) -> str:
        worst = max(self.errors.values(), key=_relative_error, default=None)
        if worst is None or worst.max_abs == 0.0:
            return f"{self.path.name}: reproduces the run exactly"
        if _relative_error(worst) < 1e-12:  # log columns: exp(log(x)) is x to a few ulp
            return f"{self.path.name}: reproduces the run (to float rounding)"
        return (
            f"{self.path.name}: within {worst.max_abs:.3g} of the run ({worst.prop} at step "
            f"{worst.step:,}: {worst.baked:.4g} instead of {worst.ran:.4g}; changes made while "
            "a property was moving are approximated)"
        )


def _relative_error(e: BakeError) -> float:
    return e.max_abs / max(abs(e.ran), 1e-300)


@dataclass(frozen=True)
class BakeError:
    """The largest deviation of a baked dopesheet from the run, for one property."""

    prop: str
    max_abs: float
    step: int
    ran: float
    baked: float


def bake_error(timeline: Timeline, baked: Dopesheet) -> dict[str, BakeError]:
    """Per property, where the saved dopesheet's values differ most from what ``timeline`` ran
    and plans to run (``max_abs`` is 0.0 for an exact bake). Computed from the values alone, so
    it holds for any way of baking."""
    n = len(timeline)
    if baked.n_steps != n:
        raise ValueError(f"the baked dopesheet has {baked.n_steps} steps, the run {n}")
    ran = timeline.values(0, n)
    again = Timeline(baked).values(0, n)
    out = {}
    for name in timeline.names:
        diff = np.abs(again[name] - ran[name])
        diff[np.isnan(ran[name])] = 0.0  # steps before the property existed
        i = int(np.argmax(diff))
        out[name] = BakeError(name, float(diff[i]), i, float(ran[name][i]), float(again[name][i]))
    return out

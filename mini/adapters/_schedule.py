"""Turning what a user passes (a Timeline, a Dopesheet or a CSV path) into a Timeline.

A path is read only once the loop knows its length, so that steps written in epochs or as
fractions of the run (``2ep``, ``50%``) can be resolved from it.
"""

from __future__ import annotations

import math
import os

from mini.temporal import Dopesheet, Timeline

ScheduleSource = Timeline | Dopesheet | str | os.PathLike[str]


def read_dopesheet(
    path: str | os.PathLike[str],
    *,
    steps_per_epoch: int | float | None = None,
    total_steps: int | float | None = None,
) -> Dopesheet:
    """``Dopesheet.from_csv(path)`` with the run's length for ``ep`` and ``%`` steps.

    Unknown or infinite lengths (an iterable dataset, ``max_epochs=-1``) are left out.

    Args:
        path: the CSV.
        steps_per_epoch: what ``ep`` means.
        total_steps: what ``%`` means.
    """
    kwargs: dict[str, int] = {}
    for name, value in (("steps_per_epoch", steps_per_epoch), ("total_steps", total_steps)):
        if value is not None and math.isfinite(value) and value > 0:
            kwargs[name] = int(value)
    return Dopesheet.from_csv(path, **kwargs)


def to_timeline(
    source: ScheduleSource,
    *,
    steps_per_epoch: int | float | None = None,
    total_steps: int | float | None = None,
) -> Timeline:
    """A Timeline for ``source`` (a Timeline is used as it is, cursor included).

    Args:
        source: a :class:`~mini.temporal.Timeline`, a ``Dopesheet`` or a CSV path.
        steps_per_epoch: what ``ep`` means in a CSV's steps.
        total_steps: what ``%`` means in a CSV's steps.
    """
    if isinstance(source, Timeline):
        return source
    if isinstance(source, Dopesheet):
        return Timeline(source)
    if isinstance(source, str | os.PathLike):
        return Timeline(
            read_dopesheet(source, steps_per_epoch=steps_per_epoch, total_steps=total_steps)
        )
    raise TypeError(
        f"schedule must be a Timeline, a Dopesheet or a path to a dopesheet CSV, "
        f"got {type(source).__name__}"
    )

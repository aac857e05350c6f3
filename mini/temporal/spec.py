"""The dopesheet's value types: a property column's spec, a resolved keyframe row, a phase.

These are what every other part of ``mini.temporal`` (and the trainer) reads; the parser in
:mod:`mini.temporal.parse` produces them and :class:`~mini.temporal.dopesheet.Dopesheet` holds them.
See ``docs/format.md`` for the format they come from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Literal

from mini.temporal.records import Record, _set

STEP, PHASE, ACTION = "STEP", "PHASE", "ACTION"
RESERVED = (STEP, PHASE, ACTION)

Space = Literal["linear", "log"]
SPACES: tuple[Space, ...] = ("linear", "log")  # typing.get_args(Space), without the call

MAX_STEP = 10**12
"""The largest step a dopesheet may name (a typo guard; realizing even 1e9 steps takes GiBs)."""


class PropSpec(Record):
    """A property column: its base name, value space and (default) interpolator.

    The column header spells it as ``name[:space[:interpolator]]``; a cell may still name the
    interpolator of the one segment arriving at its key (see :attr:`Row.curves`) and the value
    that segment arrives at (a jump key, see :attr:`Row.arrivals`).

    Attributes:
        name: the base name.
        space: ``linear`` or ``log``.
        interpolator: the column's interpolator.
    """

    _fields = ("name", "space", "interpolator")
    __slots__ = _fields
    name: str
    space: Space
    interpolator: str

    def __init__(self, name: str, space: Space = "linear", interpolator: str = "minjerk") -> None:
        _set(self, "name", name)
        _set(self, "space", space)
        _set(self, "interpolator", interpolator)

    @property
    def header(self) -> str:
        """The shortest header that spells this spec (``lr:log``, ``z::step-end``, ``w``)."""
        if self.interpolator != "minjerk":
            space = "" if self.space == "linear" else self.space
            return f"{self.name}:{space}:{self.interpolator}"
        return self.name if self.space == "linear" else f"{self.name}:{self.space}"


class Phase(Record):
    """A phase and its inclusive step range. ``name`` is ``None`` for steps before the first
    named phase (or for a dopesheet without phases).

    Attributes:
        name: the phase (``None`` before the first named one).
        start: its first step.
        end: its last step (inclusive).
    """

    _fields = ("name", "start", "end")
    __slots__ = _fields
    name: str | None
    start: int
    end: int

    def __init__(self, name: str | None, start: int, end: int) -> None:
        _set(self, "name", name)
        _set(self, "start", start)
        _set(self, "end", end)

    def __len__(self) -> int:
        return self.end - self.start + 1


class Row(Record):
    """One resolved keyframe row (rows of the file that landed on the same step are merged).

    ``phase`` is the phase that *starts* here (a name repeated from the phase already running is
    dropped: fill-down continues a phase). ``curves`` maps a property to the interpolator its
    cell named for the segment that *ends* at this key (``3e-3 linear``); properties whose cell
    named none use their column's interpolator. ``arrivals`` maps a property to the value that
    segment *arrives at* when it is not the key's own (a jump key, ``1e-5|1e-3``: the curve
    reaches 1e-5 and ``values`` holds 1e-3, the value from this step on; warm restarts need it).
    ``lines`` are the CSV lines the row came from. ``values``, ``curves`` and ``arrivals``
    default to new empty dicts (``None`` also gives one).

    Attributes:
        step: the key's step.
        phase: the phase that starts here (``None``: none starts).
        actions: the actions that fire here.
        values: each property's key value.
        lines: the CSV lines the row came from.
        curves: per property, the interpolator of the segment ending here (if its cell named
            one).
        arrivals: per property, the value the segment ending here arrives at (jump keys).
    """

    _fields = ("step", "phase", "actions", "values", "lines", "curves", "arrivals")
    __slots__ = _fields
    _factories: ClassVar[dict[str, Callable[[], Any]]] = {
        "values": dict,
        "curves": dict,
        "arrivals": dict,
    }
    step: int
    phase: str | None
    actions: tuple[str, ...]
    values: dict[str, float]
    lines: tuple[int, ...]
    curves: dict[str, str]
    arrivals: dict[str, float]

    def __init__(
        self,
        step: int,
        phase: str | None = None,
        actions: tuple[str, ...] = (),
        values: dict[str, float] | None = None,
        lines: tuple[int, ...] = (),
        curves: dict[str, str] | None = None,
        arrivals: dict[str, float] | None = None,
    ) -> None:
        _set(self, "step", step)
        _set(self, "phase", phase)
        _set(self, "actions", actions)
        _set(self, "values", {} if values is None else values)
        _set(self, "lines", lines)
        _set(self, "curves", {} if curves is None else curves)
        _set(self, "arrivals", {} if arrivals is None else arrivals)

    def same_content(self, other: Row) -> bool:
        """Equal apart from the CSV lines it came from."""
        return (
            self.step == other.step
            and self.phase == other.phase
            and self.actions == other.actions
            and self.values == other.values
            and self.curves == other.curves
            and self.arrivals == other.arrivals
        )


def phases_of(rows: Iterable[Row], last_step: int) -> list[Phase]:
    """The phases the rows' PHASE cells start (rows in step order, one row per step).

    A name equal to the running phase's continues it (spreadsheet fill-down); the same name after
    another phase starts a new phase of that name. Steps before the first named phase form an
    unnamed phase.
    """
    starts: list[tuple[int, str | None]] = []
    current: str | None = None
    for r in rows:
        if r.phase is not None and r.phase != current:
            starts.append((r.step, r.phase))
            current = r.phase
    if not starts or starts[0][0] > 0:
        starts.insert(0, (0, None))
    ends = [step - 1 for step, _ in starts[1:]] + [last_step]
    return [Phase(name, start, end) for (start, name), end in zip(starts, ends, strict=True)]


def continue_phases(rows: list[Row]) -> list[Row]:
    """Rows with a phase name repeated from the running phase (spreadsheet fill-down) dropped,
    so equal schedules have equal rows."""
    import dataclasses  # not at import: a Timeline needs no parser

    current: str | None = None
    for i, r in enumerate(rows):
        if r.phase is None:
            continue
        if r.phase == current:
            rows[i] = dataclasses.replace(r, phase=None)
        current = r.phase
    return rows

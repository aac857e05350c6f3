"""GATE cells while a sheet is read: each parsed at its cell, then tied to the row (step) it
sits on. Kept apart from the parser so the hook there stays a few lines."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from mini.temporal.spec import Row

if TYPE_CHECKING:  # the gate grammar loads with the first gate parsed, not with a dopesheet
    from mini.temporal.errors import ProblemCollector
    from mini.temporal.gates import Gate

GATE = "GATE"


@dataclass(frozen=True, slots=True)
class RowGate:
    """A gate on the row at ``step`` (written on CSV ``line``, ``column``, as ``text``)."""

    step: int
    gate: Gate
    text: str
    line: int = 0
    column: int = 0

    def label(self, phase: str | None) -> str:
        """The name of its ``gate:<name>`` event: the phase the row starts, else ``line-N`` (or
        ``step-N`` for a sheet built in Python)."""
        if phase is not None:
            return phase
        return f"line-{self.line}" if self.line else f"step-{self.step}"

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "text": self.text, "line": self.line, "column": self.column}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RowGate:
        from mini.temporal.gates import parse_gate

        return cls(int(d["step"]), parse_gate(d["text"]), d["text"], d["line"], d["column"])


class GateCells:
    """Collects the GATE cells of one sheet and ties them to rows as the rows are emitted."""

    def __init__(self, problems: ProblemCollector):
        self.problems = problems
        self.pending: dict[int, tuple[int, str, Gate]] = {}  # line -> (column, text, gate)
        self.gates: list[RowGate] = []

    def read(self, line: int, column: int, cell: str) -> None:
        """Parse the cell on ``line`` (1-based ``column``); a problem at the cell if unreadable."""
        text = cell.strip()
        if not text:
            return
        from mini.temporal.gates import GateSyntaxError, parse_gate

        try:
            gate = parse_gate(text)
        except GateSyntaxError as e:
            self.problems.add(line, column, e.message, e.fix, GATE, text)
            return
        self.pending[line] = (column, text, gate)

    def attach(self, row: Row) -> None:
        """Tie the gates written on ``row``'s lines to its step (one gate per step)."""
        if not self.pending:
            return
        found = [(ln, self.pending.pop(ln)) for ln in row.lines if ln in self.pending]
        for k, (line, (column, text, gate)) in enumerate(found):
            if k > 0:
                self.problems.add(
                    line,
                    column,
                    f"rows on lines {found[0][0]} and {line} both land on step {row.step} and "
                    "both have a gate",
                    "keep one gate, or join the conditions with 'and'/'or'",
                    GATE,
                    text,
                )
            elif gate.kind == "when" and row.step == 0:
                self.problems.add(
                    line,
                    column,
                    "a 'when' gate on step 0 has no previous row to move on from",
                    "move the gate to a later row, or use 'until' to wait at step 0",
                    GATE,
                    text,
                )
            else:
                self.gates.append(RowGate(row.step, gate, text, line, column))


def check_gate_steps(gates: Iterable[RowGate], rows: list[Row]) -> tuple[RowGate, ...]:
    """Gates of a dopesheet built from rows: each on a row's step, one per step, in order."""
    out = tuple(sorted(gates, key=lambda g: g.step))
    steps = {r.step for r in rows}
    for a, b in pairwise(out):
        if a.step == b.step:
            raise ValueError(f"two gates on step {a.step}: keep one, or join the conditions")
    for g in out:
        if g.step not in steps:
            raise ValueError(f"the gate {g.text!r} is on step {g.step}, where no row is")
    return out


def gate_labels(ds: Any) -> list[str]:
    """The ``<name>`` of each gate's ``gate:<name>`` event in a dopesheet, in step order."""
    starts = {p.start: p.name for p in ds.phases}
    return [g.label(starts.get(g.step)) for g in ds.gates]


def describe_gate(g: RowGate, last_step: int | None = None) -> str:
    """What a gate does, in words (``check`` and ``show`` print it)."""
    gate = g.gate
    if gate.kind == "until":
        least = f", at least {gate.min_hold:,}" if gate.min_hold else ""
        return (
            f"{g.text!r}: holds this row until the condition holds, at most {gate.max_hold:,} "
            f"steps{least}; later keys shift by the hold"
        )
    if g.step == last_step:
        return f"{g.text!r}: early stopping: the run ends when the condition holds"
    blend = f", blending over {gate.blend:,} steps" if gate.blend else " (no blend: values jump)"
    least = f" (at least {gate.min_hold:,} steps after it)" if gate.min_hold else ""
    return (
        f"{g.text!r}: moves on to this row once the condition holds after the previous "
        f"row{least}{blend}"
    )

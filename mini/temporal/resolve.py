"""Resolving relative steps and merging rows, one interval between two anchors at a time.

Absolute steps are anchors, and a relative row only moves within the interval between the two
anchors around it, so the rows of one interval are final once its closing anchor is read:
memory holds one interval, not the file. Rows that land on one step are merged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mini.temporal.errors import ProblemCollector
from mini.temporal.grammar import StepCell
from mini.temporal.header import Columns
from mini.temporal.spec import PHASE, STEP, Row


@dataclass(slots=True)
class Cells:
    """One CSV row read cell by cell, before its step is resolved."""

    line: int
    step: StepCell
    phase: str | None
    actions: tuple[str, ...]
    values: dict[str, float]
    curves: dict[str, str]
    arrivals: dict[str, float]

    def row(self, step: int) -> Row:
        return Row(
            step, self.phase, self.actions, self.values, (self.line,), self.curves, self.arrivals
        )


class Resolver:
    """Resolves relative steps one interval between anchors at a time and merges the rows that
    land on one step. ``add`` returns the rows that are final (before the newest anchor)."""

    def __init__(self, problems: ProblemCollector, columns: Columns):
        self.problems = problems
        self.columns = columns
        self.anchor: Cells | None = None
        self.relative: list[Cells] = []  # relative rows after the anchor
        self.held: list[Row] = []  # resolved rows at the anchor's step, not yet final
        self.broken = False  # the interval holds an unreadable step: it cannot be resolved

    def skip_interval(self) -> list[Row]:
        self.broken = True
        return []

    def add(self, cells: Cells) -> list[Row]:
        if cells.step.kind != "absolute":
            self.relative.append(cells)
            return []
        step = cells.step.amount
        prev = self.anchor
        if prev is not None and step < prev.step.amount:
            self.problems.add(
                cells.line,
                self.columns.step + 1,
                f"absolute step {step} comes after step {prev.step.amount} (line {prev.line}): "
                "absolute steps must not go backwards",
                "reorder the rows or correct the step",
                STEP,
                cells.step.text,
            )
            self.broken = True
        if self.broken:
            self.held = []
        else:
            self.held += self._resolve(prev, cells)
        self.held.append(cells.row(step))
        ready = [r for r in self.held if r.step < step]
        self.held = [r for r in self.held if r.step == step]
        self.anchor, self.relative, self.broken = cells, [], False
        return merge_rows(ready, self.problems, self.columns.number)

    def finish(self, complete: bool) -> list[Row]:
        """The rows still held, after resolving the rows after the last anchor (if the file was
        read to its end)."""
        if complete and not self.broken:
            self.held += self._resolve(self.anchor, None)
        return merge_rows(self.held, self.problems, self.columns.number)

    def _resolve(self, prev: Cells | None, nxt: Cells | None) -> list[Row]:
        rows = []
        for r in self.relative:
            step = self._step_of(r, prev, nxt)
            if step is not None:
                rows.append(r.row(step))
        return rows

    def _step_of(self, r: Cells, prev: Cells | None, nxt: Cells | None) -> int | None:
        cell, col = r.step, self.columns.step + 1
        need_prev = cell.sign > 0 or cell.kind == "fraction"
        need_next = cell.sign < 0 or cell.kind == "fraction"
        if (need_prev and prev is None) or (need_next and nxt is None):
            which = " and ".join(
                w
                for w, need, have in (
                    ("an absolute row before it", need_prev, prev),
                    ("an absolute row after it", need_next, nxt),
                )
                if need and have is None
            )
            fix = "add the absolute anchor row, or write this step as an absolute number"
            self.problems.add(
                r.line, col, f"relative step {cell.text!r} needs {which}", fix, STEP, cell.text
            )
            return None
        start = prev.step.amount if prev is not None else 0
        end = nxt.step.amount if nxt is not None else 0
        if cell.kind == "offset":
            step = start + cell.amount if cell.sign > 0 else end - cell.amount
        else:
            delta = cell.share_of(end - start)
            step = start + delta if cell.sign > 0 else end - delta
        problem = None
        if step < 0:
            problem = f"relative step {cell.text!r} resolves to {step}, before step 0"
        elif cell.sign > 0 and nxt is not None and step > end:
            problem = (
                f"relative step {cell.text!r} resolves to {step}, past the next anchor at step "
                f"{end} (line {nxt.line})"
            )
        elif cell.sign < 0 and prev is not None and step < start:
            problem = (
                f"relative step {cell.text!r} resolves to {step}, before the previous anchor at "
                f"step {start} (line {prev.line})"
            )
        if problem is not None:
            fix = (
                "use a smaller offset" if step < 0 else "use a smaller offset, or an absolute step"
            )
            self.problems.add(r.line, col, problem, fix, STEP, cell.text)
            return None
        return step


ColumnOf = Callable[[str], int | None]


def _no_column(name: str) -> int | None:
    return None


def merge_rows(
    rows: list[Row], problems: ProblemCollector, column_of: ColumnOf = _no_column
) -> list[Row]:
    """Sort rows by step (stably: file order on ties) and merge those on one step. Two merged
    rows naming different phases, or keying one property twice, are problems."""
    rows = sorted(rows, key=lambda r: r.step)
    merged: list[Row] = []
    i = 0
    while i < len(rows):
        j = i + 1
        while j < len(rows) and rows[j].step == rows[i].step:
            j += 1
        merged.append(rows[i] if j == i + 1 else _merge(rows[i:j], problems, column_of))
        i = j
    return merged


def _merge(group: list[Row], problems: ProblemCollector, column_of: ColumnOf) -> Row:
    step = group[0].step
    phase: str | None = None
    phase_line = 0
    actions: list[str] = []
    values: dict[str, float] = {}
    curves: dict[str, str] = {}
    arrivals: dict[str, float] = {}
    value_line: dict[str, int] = {}
    lines: list[int] = []
    for r in group:
        line = r.lines[0] if r.lines else 0
        lines.extend(r.lines)
        if r.phase is not None:
            if phase is not None and r.phase != phase:
                problems.add(
                    line,
                    column_of(PHASE),
                    f"rows on lines {phase_line} and {line} both land on step {step} "
                    f"and name different phases ({phase!r}, {r.phase!r})",
                    "move one row to another step or drop one phase name",
                    PHASE,
                    r.phase,
                )
            elif phase is None:
                phase, phase_line = r.phase, line
        for a in r.actions:
            if a not in actions:
                actions.append(a)
        for name, v in r.values.items():
            if name in values:
                problems.add(
                    line,
                    column_of(name),
                    f"rows on lines {value_line[name]} and {line} both land on step {step} "
                    f"and both key {name!r}",
                    "keep one of the two values or move one row to another step",
                    name,
                    f"{r.arrivals[name]!r}|{v!r}" if name in r.arrivals else repr(v),
                )
                continue
            values[name], value_line[name] = v, line
            if name in r.curves:
                curves[name] = r.curves[name]
            if name in r.arrivals:
                arrivals[name] = r.arrivals[name]
    return Row(step, phase, tuple(actions), values, tuple(lines), curves, arrivals)

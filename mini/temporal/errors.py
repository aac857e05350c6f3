"""Errors and warnings that point at the exact place in a dopesheet and say how to fix it."""

from __future__ import annotations

import heapq
from dataclasses import dataclass

MAX_PROBLEMS = 50
"""How many problems a :class:`DopesheetError` keeps in detail (the first by line and column);
the rest are only counted, so a garbage file cannot flood memory or the terminal."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a dopesheet, located as ``file:line:column``.

    ``line`` is the 1-based CSV line (the header is line 1), ``column`` the 1-based CSV column;
    either is ``None`` when the problem is not tied to one.

    Attributes:
        file: the dopesheet's file.
        line: the 1-based CSV line.
        column: the 1-based CSV column.
        message: what is wrong.
        fix: how to fix it.
        column_name: the column's header.
        value: the offending cell.
    """

    file: str
    line: int | None
    column: int | None
    message: str
    fix: str = ""
    column_name: str | None = None
    value: str | None = None

    @property
    def location(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        where = self.location
        what = self.message
        if self.column_name is not None:
            what = f"column {self.column_name!r}: {what}"
        text = f"{where}: {what}"
        if self.fix:
            text += f" (fix: {self.fix})"
        return text


class DopesheetError(ValueError):
    """A dopesheet cannot be used. Carries every problem found (up to :data:`MAX_PROBLEMS` of
    them in detail, the first by position; ``total`` counts them all)."""

    def __init__(self, problems: list[Problem] | Problem, total: int | None = None):
        if isinstance(problems, Problem):
            problems = [problems]
        if not problems:
            raise ValueError("DopesheetError needs at least one problem")
        self.problems: list[Problem] = list(problems)
        self.total: int = max(total or 0, len(self.problems))
        n = self.total
        head = f"{n:,} problem{'s' if n > 1 else ''} in dopesheet"
        if n > len(self.problems):
            head += f" (the first {len(self.problems)} by position shown)"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))

    @property
    def problem(self) -> Problem:
        """The first problem (convenient when there is only one)."""
        return self.problems[0]


class DopesheetWarning(UserWarning):
    """Something in a dopesheet is probably a mistake but does not stop a run."""


class ProblemCollector:
    """Collects the problems of one source, keeping the first ``limit`` by (line, column) and
    counting the rest, in bounded memory whatever order they are found in."""

    def __init__(self, source: str, limit: int = MAX_PROBLEMS):
        self.source = source
        self.limit = limit
        self.total = 0
        self._heap: list[tuple[int, int, int, Problem]] = []  # max-heap via negated keys

    def __len__(self) -> int:
        return self.total

    def add(
        self,
        line: int | None,
        column: int | None,
        message: str,
        fix: str = "",
        column_name: str | None = None,
        value: str | None = None,
    ) -> None:
        self.total += 1
        key = (-(line or 0), -(column or 0), -self.total)
        if len(self._heap) >= self.limit:
            if key <= self._heap[0][:3]:  # at or after the last problem kept
                return
            problem = Problem(self.source, line, column, message, fix, column_name, value)
            heapq.heapreplace(self._heap, (*key, problem))
            return
        problem = Problem(self.source, line, column, message, fix, column_name, value)
        heapq.heappush(self._heap, (*key, problem))

    @property
    def problems(self) -> list[Problem]:
        """The problems kept, in file order."""
        return [p for *_, p in sorted(self._heap, reverse=True)]

    def error(self) -> DopesheetError:
        return DopesheetError(self.problems, self.total)

    def raise_if_any(self) -> None:
        if self.total:
            raise self.error()

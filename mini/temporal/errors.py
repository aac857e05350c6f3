"""Errors and warnings that point at the exact place in a dopesheet and say how to fix it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a dopesheet, located as ``file:line:column``.

    ``line`` is the 1-based CSV line (the header is line 1), ``column`` the 1-based CSV column;
    either is ``None`` when the problem is not tied to one.
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
    """A dopesheet cannot be used. Carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem] | Problem):
        if isinstance(problems, Problem):
            problems = [problems]
        if not problems:
            raise ValueError("DopesheetError needs at least one problem")
        self.problems: list[Problem] = list(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n > 1 else ''} in dopesheet"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))

    @property
    def problem(self) -> Problem:
        """The first problem (convenient when there is only one)."""
        return self.problems[0]


class DopesheetWarning(UserWarning):
    """Something in a dopesheet is probably a mistake but does not stop a run."""

"""Checking a dopesheet file without keeping it: the parser's full validation, streamed, in
memory bounded by one interval between anchors (a 50 MB sheet is checked in a few dozen MB)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mini.temporal.gate_rows import RowGate
from mini.temporal.grammar import Units
from mini.temporal.parse import SheetParser
from mini.temporal.read import CsvRecords, stream_lines
from mini.temporal.sizes import realized_nbytes
from mini.temporal.spec import PropSpec

MAX_PHASE_NAMES = 12
"""Phase names a summary keeps (the count is always exact)."""


@dataclass
class SheetSummary:
    """What ``python -m mini.temporal check`` reports about a valid file."""

    source: str
    n_steps: int
    last_lines: tuple[int, ...]  # the CSV line(s) of the last step
    specs: dict[str, PropSpec]
    n_phases: int  # named phases
    phase_names: list[str]  # the first MAX_PHASE_NAMES of them
    warnings: list[str] = field(default_factory=list)
    gates: list[RowGate] = field(default_factory=list)
    search: list[str] = field(default_factory=list)  # names of the search cells

    @property
    def realized_nbytes(self) -> int:
        """Bytes that realizing every step at once takes."""
        return realized_nbytes(self.n_steps, len(self.specs))


def check_csv(
    path: str | os.PathLike[str],
    *,
    steps_per_epoch: int | None = None,
    total_steps: int | None = None,
) -> SheetSummary:
    """Validate a dopesheet CSV exactly as :meth:`Dopesheet.from_csv` does, keeping only a
    summary. Raises :class:`~mini.temporal.errors.DopesheetError` listing the problems."""
    source = str(path)
    parser = SheetParser(source, Units(steps_per_epoch, total_steps), keep_rows=False)
    n_phases, names = 0, []
    current: str | None = None
    last_step, last_lines = -1, ()
    with open(path, "rb") as f:
        for row in parser.rows(CsvRecords(stream_lines(f, source), parser.problems)):
            if row.phase is not None and row.phase != current:
                current = row.phase
                n_phases += 1
                if len(names) < MAX_PHASE_NAMES:
                    names.append(row.phase)
            last_step, last_lines = row.step, row.lines
    return SheetSummary(
        source, last_step + 1, last_lines, parser.specs, n_phases, names, parser.warnings,
        parser.gate_cells.gates,
        list(parser.search.params),
    )  # fmt: skip

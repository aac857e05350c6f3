"""Parsing a dopesheet: header → cells → steps resolved → rows merged, streamed.

:class:`SheetParser` reads CSV records one at a time, reads each cell with the grammar of
:mod:`mini.temporal.grammar`, and hands rows to :class:`~mini.temporal.resolve.Resolver`, which
resolves relative steps one interval between anchors at a time. Every problem is collected (see
:class:`~mini.temporal.errors.ProblemCollector`) and raised together at the end; an interval
whose steps could not all be read is not resolved, so one typo does not cascade into false
alarms.
"""

from __future__ import annotations

from collections.abc import Iterator
from math import isfinite

from mini.temporal.errors import ProblemCollector
from mini.temporal.gate_rows import GateCells
from mini.temporal.grammar import (
    CellError,
    StepCell,
    Units,
    is_number,
    not_positive,
    read_step,
    read_value,
    split_actions,
)
from mini.temporal.header import Columns, parse_header
from mini.temporal.read import Records
from mini.temporal.resolve import Cells, Resolver
from mini.temporal.search_cells import SearchCells
from mini.temporal.spec import STEP, PropSpec, Row


class SheetParser:
    """Streams one dopesheet: ``for row in parser.rows(records)`` yields merged rows in step order
    while the file is sound, and raises :class:`~mini.temporal.errors.DopesheetError` with every
    problem at the end. After that, ``specs`` holds the keyed properties and ``warnings`` the
    messages worth a :class:`~mini.temporal.errors.DopesheetWarning`."""

    def __init__(self, source: str, units: Units | None = None, keep_rows: bool = True):
        self.source = source
        self.units = units or Units()
        self.problems = ProblemCollector(source)
        self.gate_cells = GateCells(self.problems)
        self.columns: Columns | None = None
        self.specs: dict[str, PropSpec] = {}
        self.warnings: list[str] = []
        self.last_step = -1
        self._uses_percent = False
        # ``?lo..hi`` / ``?{a b}`` cells, read as nominal values; the rows are kept to fill them
        self.search = SearchCells(keep=keep_rows)
        # index, name, header, log space, the column's interpolator
        self._props: list[tuple[int, str, str, bool, str]] = []

    def rows(self, records: Records) -> Iterator[Row]:
        """Merged rows in step order; raises with every problem once ``records`` are read."""
        stream = iter(records)
        first = next(stream, None)
        if first is None:
            if not records.failed:
                message = "the file has no header" if records.saw_text else "the file is empty"
                fix = "start with a header such as 'STEP,PHASE,ACTION,lr'"
                self.problems.add(1, None, message, fix)
            self.problems.raise_if_any()
            raise AssertionError("unreachable: no header is a problem")
        columns = parse_header(first[1], self.problems)
        if columns is None:
            self.problems.raise_if_any()
            raise AssertionError("unreachable: a header without STEP is a problem")
        self.columns = columns
        self.search.keep(*first)
        self._props = [
            (i, p.name, p.header, p.space == "log", p.interpolator) for i, p in columns.props
        ]
        resolver = Resolver(self.problems, columns)
        keyed: set[str] = set()
        n_rows = 0
        for line, fields in stream:
            n_rows += 1
            self.search.keep(line, fields)
            cells = self._read_cells(line, fields, columns)
            ready = resolver.add(cells) if cells is not None else resolver.skip_interval()
            if ready and not self.problems.total:
                yield from self._emit(ready, keyed)
        if not n_rows and not records.failed:
            self.problems.add(
                2,
                None,
                "the dopesheet has a header but no keyframe rows",
                "add a row such as '0,...'",
            )
        ready = resolver.finish(complete=not records.failed)
        if ready and not self.problems.total:
            yield from self._emit(ready, keyed)
        self.problems.raise_if_any()
        self._finish(columns, keyed)

    def _emit(self, rows: list[Row], keyed: set[str]) -> Iterator[Row]:
        for r in rows:
            for name in r.curves.keys() | r.arrivals.keys():
                if name not in keyed:
                    self.warnings.append(self._first_key_warning(r, name))
            keyed.update(r.values)
            self.gate_cells.attach(r)
            self.last_step = r.step
            yield r

    def _first_key_warning(self, r: Row, name: str) -> str:
        """What a per-key curve or a jump key on a property's first key means: nothing, since no
        segment arrives there (values hold at the first key's value before it)."""
        assert self.columns is not None
        col = self.columns.number(name)
        header = next(h for i, n, h, *_ in self._props if n == name)
        where = f"{self.source}:{r.lines[0]}:{col}: column {header!r}"
        if name in r.arrivals:
            arrival, value = r.arrivals[name], r.values[name]
            cell = f"{arrival!r}|{value!r}" + (f" {r.curves[name]}" if name in r.curves else "")
            fix = (
                f"to hold {arrival!r} up to this step, key {arrival!r} on an earlier row (e.g. "
                "step 0)"
                if r.step > 0
                else f"write only the value ({value!r})"
            )
            return (
                f"{where}: the jump key {cell!r} is the property's first key, where no curve "
                f"arrives (the value holds at {value!r} before it); {fix}"
            )
        return (
            f"{where}: {r.curves[name]!r} is named on the property's first key, where no curve "
            "arrives (values hold before the first key); name it on the key the curve leads to"
        )

    def _finish(self, columns: Columns, keyed: set[str]) -> None:
        for col, spec in columns.props:
            if spec.name in keyed:
                self.specs[spec.name] = spec
            else:
                self.warnings.append(
                    f"{self.source}:1:{col + 1}: property {spec.name!r} is never keyed and is "
                    "ignored; add a value in at least one row or remove the column"
                )
        total = self.units.total_steps
        if self._uses_percent and total is not None and self.last_step != total - 1:
            self.warnings.append(
                f"{self.source}: steps written in % are shares of total_steps={total:,} (last "
                f"step {total - 1:,}), but the dopesheet's last step is {self.last_step:,}"
            )

    def _read_cells(self, line: int, fields: list[str], columns: Columns) -> Cells | None:
        """The row's cells, each problem added at its cell; ``None`` if the step is unreadable."""
        width, problems = columns.width, self.problems
        if len(fields) != width:
            if len(fields) > width:
                extra = fields[width:]
                if any(f.strip() for f in extra):
                    problems.add(
                        line,
                        width + 1,
                        f"the row has {len(fields)} cells but the header has {width} columns",
                        "remove the extra cells or name the column in the header",
                        value=",".join(extra),
                    )
                fields = fields[:width]
            else:
                fields = fields + [""] * (width - len(fields))
        text = fields[columns.step]
        step: StepCell | None
        try:
            if text.lstrip().startswith("?"):
                text = self.search.step_cell(text.strip(), line, columns.step + 1)
            step = read_step(text, self.units)
        except CellError as e:
            problems.add(line, columns.step + 1, e.message, e.fix, STEP, text.strip())
            step = None
        else:
            self._uses_percent |= "%" in text
        phase = fields[columns.phase].strip() or None if columns.phase is not None else None
        action = fields[columns.action] if columns.action is not None else ""
        if columns.gate is not None:
            self.gate_cells.read(line, columns.gate + 1, fields[columns.gate])
        actions = split_actions(action) if action else ()
        values: dict[str, float] = {}
        curves: dict[str, str] = {}
        arrivals: dict[str, float] = {}
        for i, name, header, log, interpolator in self._props:
            cell = fields[i]
            if not cell or not (cell := cell.strip()):
                continue
            shown = cell
            try:
                if cell[0] == "?":
                    cell = self.search.value_cell(cell, line, i + 1, name, log)
                if is_number(cell) and isfinite(value := float(cell)):  # fast path
                    if log and value <= 0:
                        raise not_positive(repr(cell))
                    curve = arrival = None
                else:
                    value, curve, arrival = read_value(cell, log, interpolator)
            except CellError as e:
                problems.add(line, i + 1, e.message, e.fix, header, shown)
                continue
            values[name] = value
            if curve is not None:
                curves[name] = curve
            if arrival is not None:
                arrivals[name] = arrival
        if step is None:
            return None
        return Cells(line, step, phase, actions, values, curves, arrivals)

"""Reading a dopesheet file as CSV records, streamed, with exact line numbers.

Bytes are decoded one line at a time (so a non-UTF-8 byte is located at its line and column)
and fed to the :mod:`csv` module, which never holds more than one record. A quoted cell that
is never closed is reported at the line where its quote opened, not at the end of the file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import IO, Protocol

from mini.temporal.errors import DopesheetError, Problem, ProblemCollector


def text_lines(text: str) -> Iterator[str]:
    """Lines of CSV text with their line ends (``\\n``, ``\\r\\n`` or ``\\r``), BOM removed."""
    return iter(io.StringIO(text.removeprefix("\ufeff"), newline=""))


def binary_lines(data: Iterable[bytes], source: str) -> Iterator[str]:
    """Lines of a UTF-8 byte stream (BOM removed), decoded one at a time.

    Raises :class:`DopesheetError` at the first byte that is not UTF-8, naming its line and
    (approximately, by counting commas) its column.
    """
    line = 1
    first = True
    for raw in data:  # split at b"\n"; a UTF-8 character never contains that byte
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            prefix = raw[: e.start].decode("utf-8")
            at = line + _line_breaks(prefix)
            last = prefix.replace("\r\n", "\n").replace("\r", "\n").rsplit("\n", 1)[-1]
            raise DopesheetError(
                Problem(
                    source,
                    at,
                    last.count(",") + 1,
                    f"byte 0x{raw[e.start]:02x} is not UTF-8",
                    "save the file as UTF-8 (most editors: 'Save with encoding > UTF-8')",
                    value=repr(raw[e.start : e.end]),
                )
            ) from None
        if first:
            text = text.removeprefix("\ufeff")
            first = False
        if "\r" not in text:  # the common case: one line, ending in \n (or at the end of file)
            yield text
            line += 1
            continue
        crs = text.count("\r")
        if crs > 1 or not text.endswith(("\r\n", "\r")):  # lone \r line ends (old Macs)
            yield from io.StringIO(text, newline="")
        else:
            yield text
        line += _line_breaks(text)


def _line_breaks(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def stream_lines(source_data: IO[str] | IO[bytes], source: str) -> Iterator[str]:
    """Lines of an open text or binary file."""
    if isinstance(source_data, io.TextIOBase):
        return iter(source_data)
    peek = source_data.read(0)
    if isinstance(peek, bytes):
        return binary_lines(source_data, source)  # type: ignore[arg-type]
    return iter(source_data)  # type: ignore[arg-type]


class Records(Protocol):
    """``(line, cells)`` of a header and its rows, and how the reading went."""

    failed: bool  # reading stopped early (the rest of the source could not be split into cells)
    saw_text: bool  # some record had text, even if every cell was blank

    def __iter__(self) -> Iterator[tuple[int, list[str]]]: ...


class CellRecords:
    """Records whose cells are already split (a DataFrame's header and rows, converted to
    text); the header is line 1 and row ``i`` is line ``i + 2``, as if written as CSV."""

    failed = False
    saw_text = True

    def __init__(self, header: list[str], rows: Iterable[list[str]]):
        self._header = header
        self._rows = rows

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        yield 1, self._header
        for i, cells in enumerate(self._rows):
            yield i + 2, cells


class CsvRecords:
    """The non-blank records of CSV lines as ``(line, fields)``, ``line`` being the line the
    record starts on. A CSV syntax error is added to ``problems`` and ends the iteration, with
    ``failed`` set (the rest of the file cannot be split into cells reliably)."""

    def __init__(self, lines: Iterable[str], problems: ProblemCollector):
        self._lines = lines
        self.problems = problems
        self.failed = False
        self.saw_text = False  # some record had a cell separator, even if all cells were blank
        self._count = 0
        self._record_start = 1
        self._record_text = ""

    def _tracked(self) -> Iterator[str]:
        for text in self._lines:
            self._count += 1
            if self._count == self._record_start:
                self._record_text = text
            yield text

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        reader = csv.reader(self._tracked(), strict=True)
        try:
            for fields in reader:
                line = self._record_start
                self._record_start = reader.line_num + 1
                if not (fields and fields[0].strip()) and not any(f.strip() for f in fields):
                    self.saw_text |= len(fields) > 1
                    continue
                self.saw_text = True
                yield line, fields
        except csv.Error as e:
            self.failed = True
            text = str(e)
            if "end of data" in text or "field limit" in text:
                self.problems.add(
                    self._record_start,
                    _open_quote_column(self._record_text),
                    "a quoted cell opened on this line is never closed",
                    'close the quote, or remove it; a quote inside a cell is written twice ("")',
                )
            else:
                self.problems.add(
                    reader.line_num or 1, None, f"malformed CSV: {e}", "check the quoting"
                )


def _open_quote_column(line: str) -> int | None:
    """The 1-based cell whose opening quote is still open at the end of ``line``, if any."""
    cell, i, n = 1, 0, len(line)
    quoted_cell = None
    at_start = True
    while i < n:
        ch = line[i]
        if quoted_cell is not None:
            if ch == '"':
                if i + 1 < n and line[i + 1] == '"':
                    i += 1  # an escaped quote inside the quoted cell
                else:
                    quoted_cell = None
        elif ch == ",":
            cell += 1
            at_start = True
            i += 1
            continue
        elif ch == '"' and at_start:
            quoted_cell = cell
        at_start = False
        i += 1
    return quoted_cell

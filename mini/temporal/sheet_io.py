"""Reading a dopesheet from its sources (a CSV file or text, a DataFrame, a checkpoint's dict)
and writing it back out (a DataFrame, a CSV file).

The bodies of :class:`~mini.temporal.dopesheet.Dopesheet`'s constructors and writers, kept
here so that the class holds the format's rules and this module how it travels. It loads on
the first read or write, with the parser: a Timeline built in memory never needs it.
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from mini.temporal.errors import DopesheetWarning
from mini.temporal.grammar import Units
from mini.temporal.spec import ACTION, PHASE, STEP, PropSpec, Row

if TYPE_CHECKING:
    import pandas as pd

    from mini.temporal.dopesheet import Dopesheet
    from mini.temporal.errors import ProblemCollector
    from mini.temporal.read import Records


def read_csv(
    cls: type[Dopesheet],
    path_or_file: str | os.PathLike[str] | IO[str] | IO[bytes],
    steps_per_epoch: int | None,
    total_steps: int | None,
) -> Dopesheet:
    """:meth:`Dopesheet.from_csv`: stream a CSV from a path or an open file."""
    from mini.temporal.read import CsvRecords, stream_lines

    units = Units(steps_per_epoch, total_steps)
    if isinstance(path_or_file, str | os.PathLike):
        source = str(path_or_file)
        with open(path_or_file, "rb") as f:
            return parse(cls, lambda p: CsvRecords(stream_lines(f, source), p), source, units)
    source = str(getattr(path_or_file, "name", "<stream>"))
    lines = stream_lines(path_or_file, source)
    return parse(cls, lambda p: CsvRecords(lines, p), source, units)


def read_text(
    cls: type[Dopesheet],
    text: str,
    source: str,
    steps_per_epoch: int | None,
    total_steps: int | None,
) -> Dopesheet:
    """:meth:`Dopesheet.from_text`: parse CSV text."""
    from mini.temporal.read import CsvRecords, text_lines

    units = Units(steps_per_epoch, total_steps)
    return parse(cls, lambda p: CsvRecords(text_lines(text), p), source, units)


def read_df(
    cls: type[Dopesheet],
    df: pd.DataFrame,
    source: str,
    steps_per_epoch: int | None,
    total_steps: int | None,
) -> Dopesheet:
    """:meth:`Dopesheet.from_df`: parse a DataFrame laid out like the CSV."""
    from mini.temporal.frame import frame_records  # pandas, loaded only for DataFrames

    units = Units(steps_per_epoch, total_steps)
    records, mangled = frame_records(df)
    if mangled:
        warnings.warn(mangled, DopesheetWarning, stacklevel=3)
    return parse(cls, lambda p: records, source, units)


def parse(
    cls: type[Dopesheet],
    records_for: Callable[[ProblemCollector], Records],
    source: str,
    units: Units,
) -> Dopesheet:
    """Parse records into a dopesheet, warnings raised as :class:`DopesheetWarning`; a sheet
    with search cells keeps its records to parse again once they are filled in."""
    from mini.temporal import sheet_forms
    from mini.temporal.parse import SheetParser

    parser = SheetParser(source, units)
    records = records_for(parser.problems)
    with sheet_forms.paused_gc():
        rows = list(parser.rows(records))
    for message in parser.warnings:
        warnings.warn(message, DopesheetWarning, stacklevel=4)
    ds = cls(parser.specs, rows, source=source, gates=parser.gate_cells.gates)
    ds.search = parser.search.space(source, units)
    if ds.search is not None:
        ds.search.parse = functools.partial(_parse_kept, cls, source, units)  # picklable
    return ds


def _parse_kept(cls: type[Dopesheet], source: str, units: Units, kept: Records) -> Dopesheet:
    """Parse records kept from a first reading (a search space filled in)."""
    return parse(cls, lambda _: kept, source, units)


def from_plain(cls: type[Dopesheet], data: Mapping[str, Any]) -> Dopesheet:
    """:meth:`Dopesheet.from_dict`: the inverse of :func:`mini.temporal.sheet_forms.plain`."""
    from mini.temporal.gate_rows import RowGate

    specs = data["specs"] if "specs" in data else data["props"]  # "props": older checkpoints
    rows = [
        Row(
            int(r["step"]),
            r["phase"],
            tuple(r["actions"]),
            {k: float(v) for k, v in r["values"].items()},
            tuple(r["lines"]),
            dict(r.get("curves", {})),
            {k: float(v) for k, v in r.get("arrivals", {}).items()},
        )
        for r in data["rows"]
    ]
    return cls(
        [PropSpec(name, s["space"], s["interpolator"]) for name, s in specs.items()],
        rows,
        source=str(data.get("source", "<dict>")),
        gates=[RowGate.from_dict(g) for g in data.get("gates", ())],
    )


def as_frame(ds: Dopesheet, as_text: set[str]) -> pd.DataFrame:
    """:meth:`Dopesheet.as_df`: the resolved keyframes as a DataFrame; the properties in
    ``as_text`` (a key names its curve or a jump) are written back as text cells."""
    import pandas as pd

    from mini.temporal.frame import key_cell

    data: dict[str, list[Any]] = {
        STEP: [r.step for r in ds.rows],
        PHASE: [r.phase for r in ds.rows],
        ACTION: [";".join(r.actions) for r in ds.rows],
    }
    for name, spec in ds.specs.items():
        if name in as_text:
            data[spec.header] = [key_cell(r, name) for r in ds.rows]
        else:
            data[spec.header] = [r.values.get(name, math.nan) for r in ds.rows]
    if ds.gates:
        from mini.temporal.gate_rows import GATE

        by_step = {g.step: g.text for g in ds.gates}
        data[GATE] = [by_step.get(r.step, "") for r in ds.rows]
    return pd.DataFrame(data)


def write_csv(ds: Dopesheet, path: str | os.PathLike[str]) -> None:
    """:meth:`Dopesheet.to_csv`: write the resolved keyframes as a CSV, atomically."""
    from mini.atomic import atomic_write

    with atomic_write(Path(path), "w") as f:
        ds.as_df().to_csv(f, index=False)

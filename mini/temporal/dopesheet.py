"""The dopesheet: a CSV of keyframes, parsed, validated and resolved to absolute steps.

Format (see DESIGN.md): a required ``STEP`` column (absolute or relative steps), optional
``PHASE`` and ``ACTION`` columns, and property columns named ``name[:space[:interpolator]]``.
Every problem is reported with file, CSV line and column and a fix, all at once, as a
:class:`~mini.temporal.errors.DopesheetError`.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import math
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pandas as pd

from mini.temporal.errors import DopesheetError, DopesheetWarning, Problem
from mini.temporal.interpolators import interpolator_names

STEP, PHASE, ACTION = "STEP", "PHASE", "ACTION"
RESERVED = (STEP, PHASE, ACTION)
SPACES = ("linear", "log")
MAX_STEP = 10**12
_ACTION_SPLIT = re.compile(r"[,;]")
_NUMBER = re.compile(r"^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True, slots=True)
class PropSpec:
    """A property column: its base name, value space and interpolator."""

    name: str
    space: str = "linear"
    interpolator: str = "minjerk"

    @property
    def header(self) -> str:
        """The shortest header that spells this spec (``lr:log``, ``z::step-end``, ``w``)."""
        if self.interpolator != "minjerk":
            space = "" if self.space == "linear" else self.space
            return f"{self.name}:{space}:{self.interpolator}"
        return self.name if self.space == "linear" else f"{self.name}:{self.space}"


@dataclass(frozen=True, slots=True)
class Phase:
    """A phase and its inclusive step range. ``name`` is ``None`` for steps before the first
    named phase (or for a dopesheet without phases)."""

    name: str | None
    start: int
    end: int

    def __len__(self) -> int:
        return self.end - self.start + 1


@dataclass(frozen=True, slots=True)
class Row:
    """One resolved keyframe row (rows that landed on the same step are merged)."""

    step: int
    phase: str | None = None
    actions: tuple[str, ...] = ()
    values: dict[str, float] = field(default_factory=dict)
    lines: tuple[int, ...] = ()


# ----------------------------------------------------------------------------------------------
# Parsing helpers


class _Problems:
    """Collects problems for one source; raises them together."""

    def __init__(self, source: str):
        self.source = source
        self.items: list[Problem] = []

    def add(
        self,
        line: int | None,
        column: int | None,
        message: str,
        fix: str = "",
        column_name: str | None = None,
        value: str | None = None,
    ) -> None:
        self.items.append(Problem(self.source, line, column, message, fix, column_name, value))

    def raise_if_any(self) -> None:
        if self.items:
            raise DopesheetError(sorted(self.items, key=_problem_order))


def _problem_order(p: Problem) -> tuple[int, int]:
    return (p.line or 0, p.column or 0)


def _parse_number(text: str) -> float | None:
    """A finite float, or None. Accepts what people type in spreadsheets (``1e-3``, ``.5``)."""
    t = text.strip()
    sign = 1.0
    if t[:1] in "+-":
        sign = -1.0 if t[0] == "-" else 1.0
        t = t[1:]
    if t.lower() in {"nan", "inf", "infinity"}:
        return None
    if not _NUMBER.match(t):
        return None
    try:
        v = float(t)
    except (ValueError, OverflowError):
        return None
    return sign * v if math.isfinite(v) else None


@dataclass(frozen=True, slots=True)
class _Step:
    """A parsed STEP cell: absolute, ``+N``/``-N`` offsets or ``+F``/``-F`` fractions."""

    kind: str  # "abs" | "offset" | "fraction"
    sign: int  # +1 (after previous anchor) or -1 (before next anchor); 0 for abs
    amount: float


def _parse_step(text: str) -> _Step | str:
    """Parse a STEP cell; a string return value is the error message."""
    t = text.strip()
    if not t:
        return "STEP is empty"
    sign = 0
    if t[0] in "+-":
        sign = 1 if t[0] == "+" else -1
        t = t[1:]
    if not _NUMBER.match(t):
        return f"cannot read step {text.strip()!r}"
    v = float(t)
    if not math.isfinite(v) or v > MAX_STEP:
        return f"step {text.strip()!r} is too large (at most {MAX_STEP:.0e})"
    if sign == 0:
        if v != int(v):
            return f"absolute step {text.strip()!r} is not a whole number"
        return _Step("abs", 0, float(int(v)))
    if "." in t:
        if not 0.0 < v < 1.0:
            return f"fraction {text.strip()!r} is outside (0, 1)"
        return _Step("fraction", sign, v)
    if v != int(v):
        return f"relative step {text.strip()!r} is not a whole number of steps"
    return _Step("offset", sign, float(int(v)))


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def _split_actions(cell: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in _ACTION_SPLIT.split(cell) if a.strip())


@dataclass(slots=True)
class _RawRow:
    line: int
    step: _Step
    phase: str | None
    actions: tuple[str, ...]
    values: dict[str, float]
    resolved: int = -1


# ----------------------------------------------------------------------------------------------
# The dopesheet


class Dopesheet:
    """A validated dopesheet: property specs plus keyframe rows resolved to absolute steps.

    Build one with :meth:`from_csv` (a path or file-like), :meth:`from_text`, or
    ``Dopesheet(df)`` from a DataFrame whose columns are the CSV header.
    """

    source: str
    props: dict[str, PropSpec]
    rows: list[Row]
    phases: list[Phase]

    def __init__(self, df: pd.DataFrame, *, source: str = "<DataFrame>"):
        header = [str(c) for c in df.columns]
        records = []
        for i, row in enumerate(df.itertuples(index=False, name=None)):
            records.append((i + 2, [_cell_text(v) for v in row]))
        self._build(header, records, source)

    # -- constructors ---------------------------------------------------------------------------
    @classmethod
    def from_csv(cls, path_or_file: str | os.PathLike[str] | IO[str] | IO[bytes]) -> Dopesheet:
        """Read a dopesheet CSV from a path or an open (text or binary) file."""
        if isinstance(path_or_file, str | os.PathLike):
            source = str(path_or_file)
            data: str | bytes = Path(path_or_file).read_bytes()
        else:
            source = str(getattr(path_or_file, "name", "<stream>"))
            data = path_or_file.read()
        if isinstance(data, bytes):
            data = _decode(data, source)
        return cls.from_text(data, source=source)

    @classmethod
    def from_text(cls, text: str, *, source: str = "<text>") -> Dopesheet:
        """Parse dopesheet CSV text (handy in tests and notebooks)."""
        header, records = _tokenize(text, source)
        self = cls.__new__(cls)
        self._build(header, records, source)
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Dopesheet:
        """Inverse of :meth:`to_dict` (used by checkpoints to restore the schedule they ran)."""
        self = cls.__new__(cls)
        self.source = str(data.get("source", "<dict>"))
        self._columns = {}
        self.props = {
            name: PropSpec(name, spec["space"], spec["interpolator"])
            for name, spec in data["props"].items()
        }
        rows = [
            Row(
                int(r["step"]),
                r["phase"],
                tuple(r["actions"]),
                {k: float(v) for k, v in r["values"].items()},
                tuple(r["lines"]),
            )
            for r in data["rows"]
        ]
        self._finish(rows)
        return self

    # -- building -------------------------------------------------------------------------------
    def _build(self, header: list[str], records: list[tuple[int, list[str]]], source: str) -> None:
        self.source = source
        problems = _Problems(source)
        columns = _parse_header(header, problems)
        if columns is None:  # no usable header at all
            problems.raise_if_any()
            raise AssertionError("unreachable")
        step_col, phase_col, action_col, prop_cols = columns
        self._columns = {STEP: step_col + 1} | {spec.name: i + 1 for i, spec in prop_cols}
        if phase_col is not None:
            self._columns[PHASE] = phase_col + 1
        if action_col is not None:
            self._columns[ACTION] = action_col + 1
        raw_rows = _parse_rows(records, len(header), columns, problems)
        steps_ok = len(raw_rows) == len(records)
        if not records:
            problems.add(
                2,
                None,
                "the dopesheet has a header but no keyframe rows",
                "add a row such as '0,...'",
            )
        # Later stages run only on sound input, so one typo does not cascade into false alarms.
        n_before = len(problems.items)
        if steps_ok and records:
            _resolve_steps(raw_rows, problems, step_col + 1)
        rows: list[Row] = []
        if steps_ok and records and len(problems.items) == n_before:
            rows = _merge_rows(
                [Row(r.resolved, r.phase, r.actions, r.values, (r.line,)) for r in raw_rows],
                problems,
                self._columns,
            )
        problems.raise_if_any()
        specs = {spec.name: spec for _, spec in prop_cols}
        keyed = {name for r in rows for name in r.values}
        for col, spec in prop_cols:
            if spec.name not in keyed:
                warnings.warn(
                    f"{source}:1:{col + 1}: property {spec.name!r} is never keyed and is ignored; "
                    "add a value in at least one row or remove the column",
                    DopesheetWarning,
                    stacklevel=3,
                )
        self.props = {name: spec for name, spec in specs.items() if name in keyed}
        self._finish(rows)

    def _finish(self, rows: list[Row]) -> None:
        self.rows = rows
        self._keys: dict[str, list[tuple[int, float]]] = {name: [] for name in self.props}
        for r in rows:
            for name, v in r.values.items():
                self._keys[name].append((r.step, v))
        self.phases = _phases(rows, self.last_step)
        self._actions = {r.step: r.actions for r in rows if r.actions}

    # -- queries --------------------------------------------------------------------------------
    @property
    def last_step(self) -> int:
        """The last step of the run (the largest resolved step)."""
        return self.rows[-1].step

    @property
    def n_steps(self) -> int:
        return self.last_step + 1

    def __len__(self) -> int:
        """Number of steps in the run: ``max(STEP) + 1``."""
        return self.n_steps

    @property
    def actions(self) -> list[tuple[int, str]]:
        """Every ``(step, action)`` pair in step order."""
        return [(r.step, a) for r in self.rows for a in r.actions]

    def actions_at(self, step: int) -> tuple[str, ...]:
        return self._actions.get(step, ())

    def keyframes(self, prop: str) -> list[tuple[int, float]]:
        """``[(step, value), ...]`` of one property's keys, in step order."""
        try:
            return list(self._keys[prop])
        except KeyError:
            raise KeyError(f"no property {prop!r}; properties: {', '.join(self.props)}") from None

    def phase_at(self, step: int) -> Phase:
        for ph in self.phases:
            if ph.start <= step <= ph.end:
                return ph
        raise IndexError(f"step {step} is outside the run (0..{self.last_step})")

    def line_of(self, step: int) -> tuple[int, ...]:
        """CSV line(s) of the row at ``step`` (empty if no row there)."""
        for r in self.rows:
            if r.step == step:
                return r.lines
        return ()

    # -- transformations ------------------------------------------------------------------------
    def scaled(self, n_steps: int) -> Dopesheet:
        """The same curriculum stretched or compressed to ``n_steps`` steps (quick runs)."""
        if n_steps < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps}")
        if self.last_step == 0:
            raise ValueError("a one-step dopesheet cannot be scaled")
        factor = (n_steps - 1) / self.last_step
        moved = [
            Row(_round_half_up(r.step * factor), r.phase, r.actions, dict(r.values), r.lines)
            for r in self.rows
        ]
        problems = _Problems(self.source)
        rows = _merge_rows(moved, problems, self._columns)
        if problems.items:
            gaps = [b.step - a.step for a, b in zip(self.rows, self.rows[1:], strict=False)]
            need = math.ceil(self.last_step / max(1, min(gaps))) + 1
            for p in problems.items:
                object.__setattr__(
                    p, "fix", f"scale to at least {need} steps so distinct rows stay apart"
                )
            problems.raise_if_any()
        out = Dopesheet.__new__(Dopesheet)
        out.source = f"{self.source} (scaled to {n_steps} steps)"
        out._columns = dict(self._columns)
        out.props = dict(self.props)
        out._finish(rows)
        return out

    # -- views ----------------------------------------------------------------------------------
    def as_df(self) -> pd.DataFrame:
        """Resolved keyframes: ``STEP``, ``PHASE``, ``ACTION`` then one column per property
        (headed with its full spec, so ``Dopesheet(ds.as_df())`` round-trips)."""
        data: dict[str, list[Any]] = {
            STEP: [r.step for r in self.rows],
            PHASE: [r.phase for r in self.rows],
            ACTION: [";".join(r.actions) for r in self.rows],
        }
        for name, spec in self.props.items():
            data[spec.header] = [r.values.get(name, math.nan) for r in self.rows]
        return pd.DataFrame(data)

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        self.as_df().to_csv(path, index=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able description (for experiment loggers and checkpoints)."""
        return {
            "source": self.source,
            "steps": self.n_steps,
            "props": {
                n: {"space": s.space, "interpolator": s.interpolator} for n, s in self.props.items()
            },
            "phases": [{"name": p.name, "start": p.start, "end": p.end} for p in self.phases],
            "rows": [
                {
                    "step": r.step,
                    "lines": list(r.lines),
                    "phase": r.phase,
                    "actions": list(r.actions),
                    "values": dict(r.values),
                }
                for r in self.rows
            ],
        }

    @property
    def content_hash(self) -> str:
        """SHA-256 of the resolved schedule (independent of file name, line numbers, layout)."""
        d = self.to_dict()
        canon = {
            "props": d["props"],
            "rows": [{k: v for k, v in r.items() if k != "lines"} for r in d["rows"]],
        }
        return hashlib.sha256(json.dumps(canon, sort_keys=True).encode()).hexdigest()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dopesheet) and self.content_hash == other.content_hash

    __hash__ = None  # type: ignore[assignment]

    def to_markdown(self) -> str:
        df = self.as_df()
        cells = [[_fmt(v) for v in row] for row in df.itertuples(index=False, name=None)]
        head = [str(c) for c in df.columns]
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return f"**Dopesheet** `{self.source}`: {self.n_steps} steps\n\n{self.to_markdown()}"

    def _repr_html_(self) -> str:
        table = self.as_df().to_html(index=False, na_rep="", escape=True)
        title = html.escape(self.source)
        return f"<p><b>Dopesheet</b> <code>{title}</code>: {self.n_steps} steps</p>{table}"

    def __repr__(self) -> str:
        props = ", ".join(s.header for s in self.props.values())
        phases = ", ".join(repr(p.name) for p in self.phases if p.name is not None)
        return (
            f"Dopesheet({self.source!r}, steps={self.n_steps}, props=[{props}], phases=[{phases}])"
        )


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        return repr(v)
    try:
        if pd.isna(v):
            return ""
    except (TypeError, ValueError):
        pass
    return str(v)


# ----------------------------------------------------------------------------------------------
# Stages


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        line_start = data.rfind(b"\n", 0, e.start) + 1
        prefix = data[line_start : e.start].decode("utf-8", errors="replace")
        column = prefix.count(",") + 1
        raise DopesheetError(
            Problem(
                source,
                line,
                column,
                f"byte 0x{data[e.start]:02x} is not UTF-8 (byte offset {e.start})",
                "save the file as UTF-8 (most editors: 'Save with encoding > UTF-8')",
                value=repr(data[e.start : e.end]),
            )
        ) from None


def _tokenize(text: str, source: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """CSV → header and ``(line, fields)`` records, keeping exact line numbers."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise DopesheetError(
            Problem(
                source,
                1,
                None,
                "the file is empty",
                "start with a header such as 'STEP,PHASE,ACTION,lr'",
            )
        )
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    start = 1
    try:
        for fields in reader:
            line = start
            start = reader.line_num + 1
            if not any(f.strip() for f in fields):
                continue
            if header is None:
                header = fields
            else:
                records.append((line, fields))
    except csv.Error as e:
        raise DopesheetError(
            Problem(
                source,
                reader.line_num or 1,
                None,
                f"malformed CSV: {e}",
                "check the quoting on this line",
            )
        ) from None
    if header is None:
        raise DopesheetError(
            Problem(source, 1, None, "the file has no header", "add a header line")
        )
    return header, records


_Columns = tuple[int, int | None, int | None, list[tuple[int, PropSpec]]]


def _parse_header(header: list[str], problems: _Problems) -> _Columns | None:
    step_col = phase_col = action_col = None
    props: list[tuple[int, PropSpec]] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(header):
        name = raw.strip()
        col = i + 1
        if name in RESERVED:
            if name in seen:
                problems.add(1, col, f"{name} appears twice", f"keep one {name} column", name)
                continue
            seen[name] = col
            if name == STEP:
                step_col = i
            elif name == PHASE:
                phase_col = i
            else:
                action_col = i
            continue
        if not name:
            problems.add(
                1,
                col,
                f"column {col} has no name",
                "name it 'prop[:space[:interpolator]]' or delete it",
            )
            continue
        if name.upper() in RESERVED:
            problems.add(
                1,
                col,
                f"{name!r} looks like the reserved column {name.upper()!r}",
                f"write it in capitals: {name.upper()}",
                name,
            )
            continue
        parts = [p.strip() for p in name.split(":")]
        if len(parts) > 3:
            problems.add(
                1, col, "too many ':' in the header", "use name[:space[:interpolator]]", name
            )
            continue
        base = parts[0]
        space = (parts[1] if len(parts) > 1 else "") or "linear"
        interp = (parts[2] if len(parts) > 2 else "") or "minjerk"
        ok = True
        if not base:
            problems.add(1, col, "the property has no name before ':'", "write e.g. 'lr:log'", name)
            ok = False
        if space not in SPACES:
            problems.add(
                1, col, f"unknown space {space!r}", f"use one of: {', '.join(SPACES)}", name, space
            )
            ok = False
        if interp not in interpolator_names():
            problems.add(
                1,
                col,
                f"unknown interpolator {interp!r}",
                f"use one of: {', '.join(interpolator_names())} (or register one)",
                name,
                interp,
            )
            ok = False
        if base in seen:
            problems.add(
                1,
                col,
                f"property {base!r} is already defined in column {seen[base]}",
                "give each property one column",
                name,
            )
            ok = False
        if base:
            seen.setdefault(base, col)
        if ok:
            props.append((i, PropSpec(base, space, interp)))
    if step_col is None:
        near = [h.strip() for h in header if h.strip().upper() == STEP]
        hint = (
            f"rename {near[0]!r} to 'STEP'"
            if near
            else "add a first column 'STEP' with the step of each row"
        )
        problems.add(1, None, "there is no STEP column", hint)
        return None
    return step_col, phase_col, action_col, props


def _parse_rows(
    records: list[tuple[int, list[str]]], width: int, columns: _Columns, problems: _Problems
) -> list[_RawRow]:
    step_col, phase_col, action_col, prop_cols = columns
    rows: list[_RawRow] = []
    for line, fields in records:
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
        fields = fields[:width] + [""] * (width - len(fields))
        step = _parse_step(fields[step_col])
        if isinstance(step, str):
            problems.add(
                line,
                step_col + 1,
                step,
                "write an absolute step (e.g. 3000), an offset (+500, -500) or a fraction (+0.25, -0.25)",
                STEP,
                fields[step_col],
            )
        phase = (fields[phase_col].strip() or None) if phase_col is not None else None
        actions = _split_actions(fields[action_col]) if action_col is not None else ()
        values: dict[str, float] = {}
        for i, spec in prop_cols:
            cell = fields[i].strip()
            if not cell:
                continue
            v = _parse_number(cell)
            if v is None:
                problems.add(
                    line,
                    i + 1,
                    f"{cell!r} is not a finite number",
                    "write a number such as 0.5 or 1e-3, or leave the cell empty for no key",
                    spec.header,
                    cell,
                )
            elif spec.space == "log" and v <= 0:
                problems.add(
                    line,
                    i + 1,
                    f"{cell!r} is not > 0, but the column is in log space",
                    "use a positive value, or drop ':log' from the header to interpolate linearly",
                    spec.header,
                    cell,
                )
            else:
                values[spec.name] = v
        if not isinstance(step, str):
            rows.append(_RawRow(line, step, phase, actions, values))
    return rows


def _resolve_steps(rows: list[_RawRow], problems: _Problems, col: int) -> None:
    """Absolute rows are anchors; relative rows resolve against the anchors around them."""
    anchors = [i for i, r in enumerate(rows) if r.step.kind == "abs"]
    prev_abs: _RawRow | None = None
    for i in anchors:
        r = rows[i]
        r.resolved = int(r.step.amount)
        if prev_abs is not None and r.resolved < prev_abs.resolved:
            problems.add(
                r.line,
                col,
                f"absolute step {r.resolved} comes after step {prev_abs.resolved} (line {prev_abs.line}): "
                "absolute steps must not go backwards",
                "reorder the rows or correct the step",
                STEP,
                str(r.resolved),
            )
        prev_abs = r
    prev: _RawRow | None = None
    nxt_iter = iter(anchors)
    nxt_index = next(nxt_iter, None)
    for r in rows:
        if r.step.kind == "abs":
            prev = r
            nxt_index = next(nxt_iter, None)
            continue
        nxt = rows[nxt_index] if nxt_index is not None else None
        text = f"{'+' if r.step.sign > 0 else '-'}{r.step.amount:g}"
        need_prev = r.step.sign > 0 or r.step.kind == "fraction"
        need_next = r.step.sign < 0 or r.step.kind == "fraction"
        if (need_prev and prev is None) or (need_next and nxt is None):
            which = " and ".join(
                w
                for w, need, have in (
                    ("an absolute row before it", need_prev, prev),
                    ("an absolute row after it", need_next, nxt),
                )
                if need and have is None
            )
            problems.add(
                r.line,
                col,
                f"relative step {text!r} needs {which}",
                "add the absolute anchor row, or write this step as an absolute number",
                STEP,
                text,
            )
            continue
        if r.step.kind == "offset":
            step = (
                prev.resolved + int(r.step.amount)
                if r.step.sign > 0
                else nxt.resolved - int(r.step.amount)
            )
        else:
            span = nxt.resolved - prev.resolved
            delta = _round_half_up(r.step.amount * span)
            step = prev.resolved + delta if r.step.sign > 0 else nxt.resolved - delta
        if step < 0:
            problems.add(
                r.line,
                col,
                f"relative step {text!r} resolves to {step}, before step 0",
                "use a smaller offset",
                STEP,
                text,
            )
            continue
        if r.step.sign > 0 and nxt is not None and step > nxt.resolved:
            problems.add(
                r.line,
                col,
                f"relative step {text!r} resolves to {step}, past the next anchor at step "
                f"{nxt.resolved} (line {nxt.line})",
                "use a smaller offset, or an absolute step",
                STEP,
                text,
            )
            continue
        if r.step.sign < 0 and prev is not None and step < prev.resolved:
            problems.add(
                r.line,
                col,
                f"relative step {text!r} resolves to {step}, before the previous anchor at step "
                f"{prev.resolved} (line {prev.line})",
                "use a smaller offset, or an absolute step",
                STEP,
                text,
            )
            continue
        r.resolved = step


def _merge_rows(rows: list[Row], problems: _Problems, columns: dict[str, int]) -> list[Row]:
    """Sort rows by step (stable) and merge rows on the same step; conflicts are problems."""
    by_step: dict[int, list[Row]] = {}
    for r in sorted(rows, key=lambda r: r.step):
        by_step.setdefault(r.step, []).append(r)
    merged: list[Row] = []
    for step, group in by_step.items():
        if len(group) == 1:
            merged.append(group[0])
            continue
        phase: str | None = None
        phase_line = 0
        actions: list[str] = []
        values: dict[str, float] = {}
        value_line: dict[str, int] = {}
        lines: list[int] = []
        for r in group:
            line = r.lines[0] if r.lines else 0
            lines.extend(r.lines)
            if r.phase is not None:
                if phase is not None and r.phase != phase:
                    problems.add(
                        line,
                        columns.get(PHASE),
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
                        columns.get(name),
                        f"rows on lines {value_line[name]} and {line} both land on step {step} "
                        f"and both key {name!r}",
                        "keep one of the two values or move one row to another step",
                        name,
                        repr(v),
                    )
                else:
                    values[name], value_line[name] = v, line
        merged.append(Row(step, phase, tuple(actions), values, tuple(lines)))
    return merged


def _phases(rows: list[Row], last: int) -> list[Phase]:
    starts: list[tuple[int, str | None]] = [(r.step, r.phase) for r in rows if r.phase is not None]
    if not starts or starts[0][0] > 0:
        starts.insert(0, (0, None))
    out = []
    for (start, name), nxt in zip(starts, [*starts[1:], (last + 1, None)], strict=True):
        out.append(Phase(name, start, nxt[0] - 1))
    return out

"""Search cells: a dopesheet cell that names a range or a set of values instead of one value.

``?lo..hi`` is a value between ``lo`` and ``hi`` in the column's own space (log-uniform in a
``:log`` column, uniform otherwise); ``?{a b c}`` is one of a few values. In ``STEP`` the values
are whole steps: ``?2000..6000`` (absolute) or ``?+100..+500`` / ``?-500..-100`` (offsets that
keep their relative meaning). A property cell may name its interpolator after the search
(``?1e-4..1e-2 linear``).

The parser reads each search cell as its *nominal* value (the middle of the range, geometric in
log space; the first of a set) so a search sheet can be checked, shown and plotted, and records
a :class:`SearchParam` named ``<column>@<line>`` (``lr@3``, ``STEP@5``). A sheet with search
cells is a search space: :meth:`SearchSpace.fill` (``Dopesheet.with_values``) substitutes values
and parses the result as a plain dopesheet; a :class:`~mini.temporal.timeline.Timeline` refuses
the search space itself (:func:`refuse_search_space`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from mini.temporal.errors import DopesheetError, Problem
from mini.temporal.grammar import CellError, Units, did_you_mean
from mini.temporal.spec import MAX_STEP, STEP

if TYPE_CHECKING:
    from mini.temporal.dopesheet import Dopesheet

MAX_KEPT_RECORDS = 10_000
"""Rows of a sheet kept to fill its search cells in later; a longer sheet cannot hold search
cells (checking it stays in constant memory)."""

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_INT_STEP = re.compile(r"(?P<sign>[+-]?)(?P<digits>\d+)", re.ASCII)

VALUE_FORMS = (
    "write a range ?lo..hi (e.g. ?1e-4..1e-2) or a set ?{a b c} (e.g. ?{0.1 0.3 1})"
    ", optionally followed by an interpolator"
)
STEP_SEARCH_FORMS = (
    "search a STEP between whole steps (?2000..6000), offsets of the same sign (?+100..+500, "
    "?-500..-100) or among a set (?{1000 2000 4000})"
)

Kind = Literal["float", "int", "choice"]


@dataclass(frozen=True, slots=True)
class SearchParam:
    """One search cell: its name (``<column>@<line>``), where it is, and what it may take.

    ``kind`` is ``float`` (a range of reals, log-uniform when ``log``), ``int`` (a range of whole
    steps) or ``choice`` (one of ``choices``). ``sign`` is ``+1``/``-1`` for a STEP offset and 0
    for an absolute step or a property value. ``suffix`` is what followed the search in the cell
    (an interpolator), kept when the value is filled in.
    """

    name: str
    prop: str  # the property name, or "STEP"
    line: int
    column: int  # 1-based
    kind: Kind
    low: float = math.nan
    high: float = math.nan
    choices: tuple[float, ...] = ()
    log: bool = False
    sign: int = 0
    suffix: str = ""
    text: str = ""

    @property
    def is_step(self) -> bool:
        return self.prop == STEP

    @property
    def bounds(self) -> tuple[float, float]:
        """The smallest and largest value the cell may take."""
        if self.kind == "choice":
            return min(self.choices), max(self.choices)
        return self.low, self.high

    @property
    def nominal(self) -> float:
        """The value a search sheet is read with: the middle of the range (geometric in log
        space, rounded to a whole step in STEP) or the first of a set."""
        if self.kind == "choice":
            return self.choices[0]
        if self.kind == "int":
            return float(math.floor((self.low + self.high) / 2 + 0.5))
        if self.log:
            return math.sqrt(self.low * self.high)
        return (self.low + self.high) / 2

    def problem_with(self, value: object) -> str | None:
        """Why ``value`` cannot fill this cell, or ``None`` when it can."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            try:
                value = float(value)  # type: ignore[arg-type]  # numpy scalars, Decimal
            except (TypeError, ValueError):
                return f"{value!r} is not a number"
        v = float(value)
        if not math.isfinite(v):
            return f"{v!r} is not finite"
        if self.kind == "choice":
            return None if v in self.choices else f"{v!r} is not one of {self.text}"
        if self.kind == "int" and v != int(v):
            return f"{v!r} is not a whole step"
        if not self.low <= v <= self.high:
            return f"{v!r} is outside {self.text}"
        return None

    def cell(self, value: float) -> str:
        """The cell text that keys ``value`` (the suffix kept)."""
        if self.is_step:
            step = int(value)
            text = str(step) if self.sign == 0 else ("+" if self.sign > 0 else "-") + str(abs(step))
        else:
            text = repr(float(value))
        return text + self.suffix


@dataclass
class SearchSpace:
    """The search cells of one sheet and the rows to fill them into (see :meth:`fill`)."""

    source: str
    units: Units
    params: dict[str, SearchParam]
    records: list[tuple[int, list[str]]] = field(repr=False, default_factory=list)
    parse: Callable[[_Kept], Dopesheet] | None = field(repr=False, default=None)
    """Reads filled records as a dopesheet (set by ``Dopesheet``, which this module must not
    import: the parser imports this module)."""

    def __len__(self) -> int:
        return len(self.params)

    def __iter__(self) -> Iterator[SearchParam]:
        return iter(self.params.values())

    def nominal(self) -> dict[str, float]:
        """Each cell's nominal value (the one the search sheet is read with)."""
        return {name: p.nominal for name, p in self.params.items()}

    def check_values(self, values: Mapping[str, object]) -> None:
        """Raise ``ValueError`` naming every unknown, missing or out-of-range value."""
        problems = []
        names = list(self.params)
        for name in values:
            if name not in self.params:
                problems.append(
                    f"{name!r} is not a search cell of {self.source}{did_you_mean(name, names)}"
                )
        missing = [n for n in names if n not in values]
        if missing:
            problems.append(f"no value for {', '.join(missing)}")
        for name, value in values.items():
            if name in self.params and (why := self.params[name].problem_with(value)):
                problems.append(f"{name}: {why}")
        if problems:
            raise ValueError(
                f"cannot fill the search cells of {self.source}: "
                + "; ".join(problems)
                + f" (search cells: {', '.join(names)})"
            )

    def fill(self, values: Mapping[str, object]) -> Dopesheet:
        """The plain dopesheet with each search cell set to ``values[name]``.

        Raises ``ValueError`` for an unknown, missing or out-of-range name (with a did-you-mean)
        and :class:`~mini.temporal.errors.DopesheetError` when the filled sheet is not a valid
        schedule (a searched step landing past its anchor, for instance).
        """
        if self.parse is None:
            raise RuntimeError("this search space was not read by Dopesheet (nothing to parse)")
        self.check_values(values)
        at = {(p.line, p.column - 1): p.cell(float(values[p.name])) for p in self}  # type: ignore[arg-type]
        filled = [
            (line, [at.get((line, i), cell) for i, cell in enumerate(fields)])
            for line, fields in self.records
        ]
        return self.parse(_Kept(filled))


class _Kept:
    """Records kept from a first reading (the :class:`~mini.temporal.read.Records` protocol)."""

    failed = False
    saw_text = True

    def __init__(self, records: list[tuple[int, list[str]]]):
        self._records = records

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        return iter(self._records)


class SearchCells:
    """What a :class:`~mini.temporal.parse.SheetParser` needs for search cells: it keeps the
    records (up to :data:`MAX_KEPT_RECORDS`) and reads each ``?`` cell as its nominal value."""

    def __init__(self, keep: bool = True) -> None:
        """``keep=False`` (checking a file in bounded memory): read the cells, keep no rows."""
        self.params: dict[str, SearchParam] = {}
        self.records: list[tuple[int, list[str]]] | None = [] if keep else None
        self.overflowed = False
        self.seen = 0

    def keep(self, line: int, fields: list[str]) -> None:
        self.seen += 1  # counted even when not kept, so check and from_csv agree
        if self.seen > MAX_KEPT_RECORDS:
            self.records, self.overflowed = None, True
        elif self.records is not None:
            self.records.append((line, fields))

    def space(self, source: str, units: Units) -> SearchSpace | None:
        if not self.params or self.records is None:
            return None
        return SearchSpace(source, units, dict(self.params), self.records)

    def _add(self, param: SearchParam) -> str:
        if self.overflowed:
            raise CellError(
                f"search cells are read in sheets of up to {MAX_KEPT_RECORDS:,} rows",
                "search a shorter sheet (rescale it), or write a value",
            )
        self.params[param.name] = param
        return param.cell(param.nominal)

    def step_cell(self, text: str, line: int, column: int) -> str:
        """The nominal STEP text of the search cell ``text`` (stripped, starting with ``?``)."""
        low, high, choices, sign = _read_step_search(text)
        kind: Kind = "choice" if choices else "int"
        param = SearchParam(
            f"{STEP}@{line}", STEP, line, column, kind, low, high, choices, sign=sign, text=text
        )
        return self._add(param)

    def value_cell(self, text: str, line: int, column: int, prop: str, log: bool) -> str:
        """The nominal cell text of the search cell ``text`` of property ``prop``."""
        split = _split(text)
        if split is None:
            raise CellError(f"cannot read the search cell {text!r}", VALUE_FORMS)
        spec, words, is_set, suffix = split
        suffix = " " + suffix if suffix else ""
        if "|" in suffix:
            raise CellError(
                f"a search cell cannot be a jump key ({text!r})",
                "search the value only (e.g. ?1e-4..1e-2), or write the jump key with numbers",
            )
        if is_set:
            if len(words) < 2:
                raise CellError(f"the set in {spec!r} has fewer than two values", VALUE_FORMS)
            choices = tuple(_number(w, spec, log) for w in words)
            if len(set(choices)) != len(choices):
                raise CellError(f"the set in {spec!r} repeats a value", "list each value once")
            param = SearchParam(
                f"{prop}@{line}", prop, line, column, "choice", choices=choices, log=log,
                suffix=suffix, text=spec,
            )  # fmt: skip
        else:
            low, high = _number(words[0], spec, log), _number(words[1], spec, log)
            if not low < high:
                raise CellError(
                    f"the range {spec!r} is empty or reversed", f"write ?{words[1]}..{words[0]}"
                )
            param = SearchParam(
                f"{prop}@{line}", prop, line, column, "float", low, high, log=log, suffix=suffix,
                text=spec,
            )  # fmt: skip
        return self._add(param)


def _split(text: str) -> tuple[str, list[str], bool, str] | None:
    """``(search, words, is_set, rest)`` of a cell starting with ``?``: ``?{a b}`` gives the
    words of the set, ``?lo..hi`` the two ends; ``rest`` is what follows (an interpolator)."""
    body = text[1:].lstrip()
    if body.startswith("{"):
        inside, close, rest = body[1:].partition("}")
        if not close or "{" in inside:
            return None
        if rest and not rest[0].isspace():
            return None
        return "?{" + inside + "}", inside.split(), True, rest.strip()
    low, dots, right = body.partition("..")
    low, right = low.strip(), right.lstrip()
    if not dots or not right or len(low.split()) != 1:
        return None
    high, *rest = right.split(None, 1)
    return f"?{low}..{high}", [low, high], False, rest[0].strip() if rest else ""


def _number(word: str, spec: str, log: bool) -> float:
    if not _NUMBER.fullmatch(word) or not math.isfinite(v := float(word)):
        raise CellError(f"{word!r} in the search cell {spec!r} is not a finite number", VALUE_FORMS)
    if log and v <= 0:
        raise CellError(
            f"{word!r} in the search cell {spec!r} is not > 0, but the column is in log space",
            "search positive values, or drop ':log' from the header to search linearly",
        )
    return v


def _read_step_search(text: str) -> tuple[float, float, tuple[float, ...], int]:
    """``(low, high, choices, sign)`` of a STEP search cell; raises :class:`CellError`."""
    split = _split(text)
    if split is None or split[3]:
        raise CellError(f"cannot read the searched step {text!r}", STEP_SEARCH_FORMS)
    _, words, is_set, _ = split
    if is_set and len(words) < 2:
        raise CellError(f"the set in {text!r} has fewer than two steps", STEP_SEARCH_FORMS)
    steps, signs = [], set()
    for word in words:
        w = _INT_STEP.fullmatch(word)
        if w is None:
            raise CellError(
                f"{word!r} in the searched step {text!r} is not a whole step or offset",
                STEP_SEARCH_FORMS,
            )
        amount = int(w["digits"]) if len(w["digits"]) <= 13 else MAX_STEP + 1
        if amount > MAX_STEP:
            raise CellError(
                f"{word!r} in {text!r} is too large (at most {MAX_STEP:,})", STEP_SEARCH_FORMS
            )
        sign = {"+": 1, "-": -1, "": 0}[w["sign"]]
        signs.add(sign)
        steps.append(float(-amount if sign < 0 else amount))
    if len(signs) > 1:
        raise CellError(
            f"{text!r} mixes absolute steps and offsets (or offsets of both signs)",
            STEP_SEARCH_FORMS,
        )
    sign = signs.pop()
    if is_set:
        if len(set(steps)) != len(steps):
            raise CellError(f"the set in {text!r} repeats a step", "list each step once")
        return math.nan, math.nan, tuple(steps), sign
    low, high = steps
    if not low < high:
        raise CellError(
            f"the range {text!r} is empty or reversed", f"write ?{words[1]}..{words[0]}"
        )
    return low, high, (), sign


def refuse_search_space(ds: Dopesheet) -> None:
    """Raise :class:`DopesheetError` if ``ds`` has search cells: it is a search space, which is
    searched (or filled in with ``with_values``), not trained or realized."""
    space = getattr(ds, "search", None)
    if not space:
        return
    names = ", ".join(list(space.params)[:6]) + (", …" if len(space) > 6 else "")
    raise DopesheetError(
        Problem(
            ds.source,
            None,
            None,
            f"the sheet has {len(space)} search cell{'s' * (len(space) > 1)} ({names}): it is a "
            "search space, not a schedule, and cannot be trained or realized",
            f"search it (the examples: --search {ds.source} --trials N; Python: "
            "mini.search.search(sheet, run=...)), or fill it in with "
            "sheet.with_values({name: value, ...})",
        )
    )

"""A DataFrame's cells as dopesheet text, so a DataFrame goes through the same parser as a CSV.

Cells may hold text or any real number: Python and numpy ints and floats, ``Decimal``,
``Fraction``. Numbers are written back exactly (``repr`` of the float, never numpy's
``np.float64(1.0)``); NaN/None/NA is an empty cell. Booleans are not numbers here: they become
``True``/``False`` and are rejected at their cell like any other text.
"""

from __future__ import annotations

import math
import numbers
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from mini.temporal.read import CellRecords
from mini.temporal.spec import STEP, Row

MANGLED_STEPS = (
    "the DataFrame's STEP column holds numbers where relative steps are expected to be text "
    "(pd.read_csv turns '+0.5' into 0.5 and '-100' into -100): negative numbers were read as "
    "'-N'/'-F' and numbers between 0 and 1 as '+F', but a '+N' offset cannot be told from an "
    "absolute step; read the CSV with pd.read_csv(path, dtype={'STEP': str}) or use "
    "Dopesheet.from_csv(path)"
)


def frame_records(df: pd.DataFrame) -> tuple[CellRecords, str]:
    """The DataFrame as records of text cells, and a warning (``""`` if none) when numbers in
    its STEP column look like relative steps that pandas converted."""
    header = [str(c) for c in df.columns]
    step_cols = [i for i, name in enumerate(header) if name.strip() == STEP]
    step_col = step_cols[0] if len(step_cols) == 1 else None
    mangled = False
    rows: list[list[str]] = []
    for values in df.itertuples(index=False, name=None):
        cells = [cell_text(v) for v in values]
        if step_col is not None and _is_number(values[step_col]):
            cells[step_col], relative = step_text(values[step_col])
            mangled |= relative
        rows.append(cells)
    return CellRecords(header, rows), MANGLED_STEPS if mangled else ""


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real | Decimal) and not isinstance(v, bool | np.bool_)


def _missing(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):  # array-likes
        return False


def cell_text(v: Any) -> str:
    """A cell as the text a CSV would hold."""
    if isinstance(v, str):
        return v
    if v is None or _missing(v):
        return ""
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, numbers.Real):
        return repr(float(v))
    return str(v)


def step_text(v: numbers.Real | Decimal) -> tuple[str, bool]:
    """A number in the STEP column as step text, and whether it looks like a relative step that
    lost its sign: whole numbers are steps (negative ones ``-N`` offsets), a number between 0
    and 1 is a ``+F`` fraction, one between -1 and 0 a ``-F`` fraction."""
    if _missing(v):
        return "", False
    if isinstance(v, Decimal) and not v.is_finite():
        return str(v), False
    if not isinstance(v, Decimal) and not math.isfinite(v):
        return repr(float(v)), False
    exact = Fraction(v) if isinstance(v, Decimal | numbers.Rational) else Fraction(float(v))
    if exact.denominator == 1:
        return str(exact.numerator), exact < 0
    if 0 < exact < 1:
        return f"+{float(exact)!r}", True
    return repr(float(exact)), -1 < exact < 0


def key_cell(r: Row, name: str) -> float | str:
    """The cell of ``name`` in row ``r`` as :meth:`Dopesheet.as_df` writes it: the value, or text
    (``"value curve"``, ``"arrival|value"``, ``"arrival|value curve"``) exact to the last bit;
    NaN where ``r`` has no key of ``name``."""
    if name not in r.values:
        return math.nan
    value = r.values[name]
    if name not in r.curves and name not in r.arrivals:
        return value
    text = f"{r.arrivals[name]!r}|{value!r}" if name in r.arrivals else repr(value)
    return f"{text} {r.curves[name]}" if name in r.curves else text

"""Dopesheet.from_df: any real number type in cells, and sheets read by pd.read_csv."""

from __future__ import annotations

import io
import warnings
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from mini.temporal import Dopesheet, DopesheetError, DopesheetWarning

SHEET = "STEP,PHASE,ACTION,lr:log,w\n0,A,,1e-3,0.5\n+0.5,,go,,0.25\n-100,B,,,1\n1000,,,1e-4,0\n"


@pytest.mark.parametrize(
    "one",
    [
        1.0,
        np.float64(1.0),
        np.float32(1.0),
        np.float16(1.0),
        np.int64(1),
        np.int8(1),
        1,
        Decimal("1.0"),
        Fraction(1, 1),
    ],
    ids=lambda v: type(v).__name__,
)
def test_any_real_number_type_is_a_number(one):
    df = pd.DataFrame({"STEP": [0, 10], "w": pd.Series([one, one * 3], dtype=object)})
    ds = Dopesheet.from_df(df)
    assert ds.keyframes("w") == [(0, 1.0), (10, 3.0)]


def test_numpy_float_steps_and_exact_values():
    df = pd.DataFrame(
        {"STEP": np.array([0.0, 1e3]), "w": np.array([0.1, 1 / 3], dtype=np.float64)}, dtype=object
    )
    ds = Dopesheet.from_df(df)
    assert ds.keyframes("w") == [(0, 0.1), (1000, 1 / 3)]  # bit-exact, not 'np.float64(0.1)'


def test_decimal_and_fraction_values_are_exact_enough():
    df = pd.DataFrame({"STEP": [0, 1], "w": [Decimal("0.1"), Fraction(1, 3)]}, dtype=object)
    assert Dopesheet.from_df(df).keyframes("w") == [(0, 0.1), (1, 1 / 3)]


@pytest.mark.parametrize("flag", [True, np.True_], ids=["bool", "numpy.bool_"])
def test_booleans_are_rejected_at_their_cell(flag):
    df = pd.DataFrame({"STEP": [0, 10], "w": pd.Series([1.0, flag], dtype=object)})
    with pytest.raises(DopesheetError) as info:
        Dopesheet.from_df(df, source="frame")
    p = info.value.problem
    assert (p.file, p.line, p.column, p.column_name) == ("frame", 3, 2, "w")
    assert "'True' is not a finite number" in p.message


def test_missing_values_are_empty_cells():
    df = pd.DataFrame(
        {"STEP": [0, 5, 10], "w": pd.Series([1.0, None, pd.NA], dtype=object), "v": [np.nan, 2, 3]}
    )
    ds = Dopesheet.from_df(df)
    assert ds.keyframes("w") == [(0, 1.0)] and ds.keyframes("v") == [(5, 2.0), (10, 3.0)]


def test_read_csv_with_step_as_text_round_trips():
    df = pd.read_csv(io.StringIO(SHEET), dtype={"STEP": str})
    assert Dopesheet.from_df(df) == Dopesheet.from_text(SHEET)


def test_read_csv_without_dtype_still_reads_what_is_unambiguous():
    # pandas turned '+0.5' into 0.5 and '-100' into -100.0: both are read as the relative steps
    # they must have been, with a warning naming the fix.
    df = pd.read_csv(io.StringIO(SHEET))
    assert df["STEP"].tolist() == [0.0, 0.5, -100.0, 1000.0]
    with pytest.warns(DopesheetWarning, match=r"dtype=\{'STEP': str\}"):
        ds = Dopesheet.from_df(df)
    assert ds == Dopesheet.from_text(SHEET)


def test_numeric_absolute_steps_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DopesheetWarning)
        ds = Dopesheet.from_df(pd.DataFrame({"STEP": [0.0, 10.0, 20.0], "w": [0.0, 1.0, 2.0]}))
    assert [r.step for r in ds.rows] == [0, 10, 20]


def test_a_plus_offset_mangled_into_an_absolute_step_is_caught_when_it_goes_backwards():
    # '+500' became 500 (an absolute step): unambiguous only when it breaks the order.
    df = pd.read_csv(io.StringIO("STEP,w\n1000,0\n+500,1\n2000,2\n"))
    with pytest.raises(DopesheetError, match="must not go backwards"):
        Dopesheet.from_df(df)


def test_dopesheet_of_a_dataframe_points_at_from_df():
    with pytest.raises(TypeError, match=r"Dopesheet\.from_df\(df\)"):
        Dopesheet(pd.DataFrame({"STEP": [0], "w": [1.0]}))  # type: ignore[arg-type]

"""Every STEP form against an independent oracle, and the time units (``ep``, ``%``)."""

from __future__ import annotations

import math
import re
import warnings
from fractions import Fraction

import pandas as pd
import pytest
from hypothesis import given, settings

from mini.temporal import Dopesheet, DopesheetError, DopesheetWarning

from .strategies import relative_steps


def oracle(cells: list[str], steps_per_epoch: int, total_steps: int) -> list[int]:
    """The step each STEP cell means, computed from the format's definitions (docs/format.md),
    with exact rational arithmetic, independently of the parser."""

    def half_up(x: Fraction) -> int:
        return math.floor(x + Fraction(1, 2))

    def amount(text: str) -> tuple[str, Fraction, str]:
        m = re.fullmatch(r"([+-]?)([0-9.]+)(ep|%)?", text)
        assert m, text
        return m[1], Fraction(m[2]), m[3] or ""

    def absolute(text: str) -> int:
        _, value, unit = amount(text)
        if unit == "ep":
            return half_up(value * steps_per_epoch)
        if unit == "%":
            return half_up(value / 100 * (total_steps - 1))
        return int(value)

    anchors = {i: absolute(c) for i, c in enumerate(cells) if c[0] not in "+-"}
    out = []
    for i, cell in enumerate(cells):
        if i in anchors:
            out.append(anchors[i])
            continue
        before = [anchors[j] for j in anchors if j < i]
        after = [anchors[j] for j in anchors if j > i]
        sign, value, unit = amount(cell)
        if unit == "ep":
            offset = half_up(value * steps_per_epoch)
        elif "." in cell:  # a fraction of the interval between the anchors around it
            offset = half_up(value * (after[0] - before[-1]))
        else:
            offset = int(value)
        out.append(before[-1] + offset if sign == "+" else after[0] - offset)
    return out


@given(relative_steps())
@settings(max_examples=300, deadline=None)
def test_every_step_form_resolves_as_the_format_says(case):
    cells, spe, total = case
    header = "STEP," + ",".join(f"x{i}" for i in range(len(cells)))
    lines = [header] + [
        f"{cell}," + ",".join(str(i) if j == i else "" for j in range(len(cells)))
        for i, cell in enumerate(cells)
    ]
    with warnings.catch_warnings():  # e.g. % with a run that ends elsewhere: fine here
        warnings.simplefilter("ignore", DopesheetWarning)
        ds = Dopesheet.from_text("\n".join(lines), steps_per_epoch=spe, total_steps=total)
    expected = oracle(cells, spe, total)
    for i, step in enumerate(expected):
        assert ds.keyframes(f"x{i}") == [(step, float(i))], (cells[i], step)
    assert ds.last_step == max(expected)


def test_fraction_of_an_interval_is_exact_not_float_rounded():
    # 0.29 * 50 is 14.5 exactly (half up: 15); in floats it is 14.499999999999998.
    ds = Dopesheet.from_text("STEP,x,y\n0,0,\n+0.29,,1\n50,1,\n")
    assert ds.keyframes("y") == [(15, 1.0)]


# -- units ----------------------------------------------------------------------------------------


def test_epochs_resolve_with_steps_per_epoch():
    ds = Dopesheet.from_text("STEP,x\n0,0\n2ep,1\n+1ep,2\n-0.5ep,3\n5ep,4\n", steps_per_epoch=50)
    assert ds.keyframes("x") == [(0, 0.0), (100, 1.0), (150, 2.0), (225, 3.0), (250, 4.0)]


def test_fractional_epochs_round_half_up():
    # 1.5 * 33 = 49.5 -> 50; 0.1 * 33 = 3.3 -> 3
    ds = Dopesheet.from_text("STEP,x\n1.5ep,1\n+0.1ep,2\n", steps_per_epoch=33)
    assert [r.step for r in ds.rows] == [50, 53]


def test_percent_is_a_share_of_the_last_step():
    ds = Dopesheet.from_text("STEP,x\n0%,0\n33.3%,2\n50%,1\n100%,3\n", total_steps=1000)
    # p% -> round_half_up(p / 100 * 999): 499.5 -> 500, 332.667 -> 333
    assert ds.keyframes("x") == [(0, 0.0), (333, 2.0), (500, 1.0), (999, 3.0)]
    assert len(ds) == 1000


def test_units_are_case_insensitive_and_may_be_spaced():
    ds = Dopesheet.from_text("STEP,x\n0,0\n2 EP,1\n100 %,2\n", steps_per_epoch=10, total_steps=51)
    assert [r.step for r in ds.rows] == [0, 20, 50]


@pytest.mark.parametrize(
    ("cell", "kwargs", "needle", "fix"),
    [
        (
            "2ep",
            {},
            "is in epochs, but the number of steps per epoch is not given",
            "steps_per_epoch",
        ),
        ("+1ep", {}, "is in epochs", "--steps-per-epoch N"),
        ("50%", {}, "is a share of the run, but the run's total", "--total-steps N"),
        ("+10%", {"total_steps": 100}, "a share of the run cannot be relative", "+0.25"),
        ("101%", {"total_steps": 100}, "past the end of the run", "0% to 100%"),
        ("2e12ep", {"steps_per_epoch": 1}, "too large", "absolute step"),
    ],
)
def test_unit_errors_name_the_cell_and_the_missing_argument(cell, kwargs, needle, fix):
    with pytest.raises(DopesheetError) as info:
        Dopesheet.from_text(f"STEP,x\n0,0\n{cell},1\n10,2\n", source="u.csv", **kwargs)
    p = info.value.problem
    assert (p.file, p.line, p.column, p.column_name) == ("u.csv", 3, 1, "STEP")
    assert needle in p.message and fix in p.fix


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10"])
def test_unit_arguments_must_be_positive_whole_numbers(bad):
    with pytest.raises(ValueError, match="steps_per_epoch must be a positive whole number"):
        Dopesheet.from_text("STEP,x\n0,1\n", steps_per_epoch=bad)


def test_percent_with_a_run_that_ends_elsewhere_warns():
    with pytest.warns(DopesheetWarning, match=r"shares of total_steps=101 .* last step is 150"):
        Dopesheet.from_text("STEP,x\n0,0\n100%,1\n+50,2\n", total_steps=101)


def test_units_are_resolved_before_scaling():
    # scaled() stretches resolved steps: 2ep of a 10-epoch run stays at 20% of the run.
    ds = Dopesheet.from_text("STEP,x\n0,0\n2ep,1\n10ep,2\n", steps_per_epoch=100)
    assert [r.step for r in ds.scaled(101).rows] == [0, 20, 100]


def test_from_csv_and_from_df_take_units(tmp_path):
    path = tmp_path / "u.csv"
    path.write_text("STEP,x\n0,0\n2ep,1\n")
    assert Dopesheet.from_csv(path, steps_per_epoch=50).last_step == 100
    df = pd.DataFrame({"STEP": ["0", "50%"], "x": [0.0, 1.0]})
    assert Dopesheet.from_df(df, total_steps=201).last_step == 100

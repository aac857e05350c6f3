"""Search cells (``?lo..hi``, ``?{a b}``): grammar, nominal reading, ``with_values``, refusal."""

from __future__ import annotations

import math
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mini.temporal import Dopesheet, DopesheetError, DopesheetWarning, Timeline
from mini.temporal.cli import main

SHEET = """STEP,PHASE,lr:log,w
0,Warm,?1e-4..1e-2,0
?+100..+500,,,?{0.1 0.5 1}
1000,Main,?1e-5..1e-3 linear,1
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(DopesheetError) as e:
        Dopesheet.from_text(text, source="bad.csv")
    return [str(p) for p in e.value.problems]


def test_search_cells_are_named_by_column_and_line_and_read_at_their_nominal_values():
    ds = Dopesheet.from_text(SHEET)
    assert list(ds.search.params) == ["lr@2", "STEP@3", "w@3", "lr@4"]
    lr = ds.search.params["lr@2"]
    assert (lr.kind, lr.low, lr.high, lr.log) == ("float", 1e-4, 1e-2, True)
    assert lr.nominal == pytest.approx(1e-3)  # geometric middle in a log column
    assert ds.search.params["STEP@3"].nominal == 300  # the middle of the offsets
    assert ds.search.params["w@3"].choices == (0.1, 0.5, 1.0)
    assert [r.step for r in ds.rows] == [0, 300, 1000]
    assert ds.keyframes("w")[1] == (300, 0.1)  # a set reads as its first value
    assert ds.key_interpolators("lr")[1] == "linear"  # the interpolator after the search stays


def test_linear_ranges_are_read_at_the_arithmetic_middle():
    ds = Dopesheet.from_text("STEP,x\n0,?2..4\n?{10 20},1\n")
    assert ds.keyframes("x")[0] == (0, 3.0)
    assert ds.last_step == 10


def test_with_values_fills_every_cell_and_relative_steps_keep_their_meaning():
    ds = Dopesheet.from_text(SHEET)
    filled = ds.with_values({"lr@2": 3e-3, "STEP@3": 150, "w@3": 0.5, "lr@4": 2e-5})
    assert filled.search is None
    assert [r.step for r in filled.rows] == [0, 150, 1000]
    assert filled.keyframes("lr") == [(0, 3e-3), (1000, 2e-5)]
    assert filled.keyframes("w") == [(0, 0.0), (150, 0.5), (1000, 1.0)]
    assert filled.key_interpolators("lr")[1] == "linear"
    Timeline(filled)  # a plain schedule


def test_with_values_negative_offset_searches_back_from_the_next_anchor():
    ds = Dopesheet.from_text("STEP,x\n0,0\n?-50..-10,1\n100,2\n")
    assert [r.step for r in ds.with_values({"STEP@3": -20}).rows] == [0, 80, 100]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"lr@2": 1e-3, "STEP@3": 200, "w@3": 0.5, "lr@5": 1e-4}, "did you mean 'lr@4'"),
        ({"lr@2": 1e-3, "STEP@3": 200, "w@3": 0.5}, "no value for lr@4"),
        ({"lr@2": 1.0, "STEP@3": 200, "w@3": 0.5, "lr@4": 1e-4}, "lr@2: 1.0 is outside"),
        ({"lr@2": 1e-3, "STEP@3": 200.5, "w@3": 0.5, "lr@4": 1e-4}, "not a whole step"),
        ({"lr@2": 1e-3, "STEP@3": 200, "w@3": 0.3, "lr@4": 1e-4}, "not one of ?{0.1 0.5 1}"),
        ({"lr@2": "x", "STEP@3": 200, "w@3": 0.5, "lr@4": 1e-4}, "'x' is not a number"),
    ],
)
def test_with_values_rejects_unknown_missing_and_out_of_range_values(values, message):
    with pytest.raises(ValueError, match="cannot fill") as e:
        Dopesheet.from_text(SHEET).with_values(values)
    assert message in str(e.value)


def test_a_filled_step_that_breaks_the_schedule_is_a_dopesheet_error_at_its_line():
    ds = Dopesheet.from_text("STEP,x\n0,0\n?{5 50},1\n20,2\n", source="s.csv")
    with pytest.raises(DopesheetError, match=r"s\.csv:3:1: .*backwards|s\.csv:4:1"):
        ds.with_values({"STEP@3": 50})


def test_a_search_space_is_refused_by_the_timeline_scaling_and_realize():
    ds = Dopesheet.from_text(SHEET, source="space.csv")
    for attempt in (lambda: Timeline(ds), lambda: ds.scaled(100)):
        with pytest.raises(DopesheetError, match="search space") as e:
            attempt()
        assert "--search space.csv" in str(e.value) and "with_values" in str(e.value)


def test_with_values_on_a_plain_sheet_says_there_is_nothing_to_fill():
    with pytest.raises(ValueError, match="no search cells"):
        Dopesheet.from_text("STEP,x\n0,1\n").with_values({})


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("?1..0", "'?1..0' is empty or reversed (fix: write ?0..1)"),
        ("?{1}", "fewer than two values"),
        ("?{1 1}", "repeats a value"),
        ("?abc..2", "'abc' in the search cell '?abc..2' is not a finite number"),
        ("?1..inf", "'inf' in the search cell '?1..inf' is not a finite number"),
        ("?1..2 lineer", "unknown interpolator 'lineer' (did you mean 'linear'?)"),
        ("?1..2 linear x", "cannot read"),
        ("?{1 2", "cannot read the search cell"),
        ("?1 2", "cannot read the search cell"),
        ("?", "cannot read the search cell"),
    ],
)
def test_bad_value_search_cells_are_reported_at_their_cell(cell, expected):
    problems = _problems(f'STEP,x\n0,0\n10,"{cell}"\n')
    assert len(problems) == 1 and problems[0].startswith("bad.csv:3:2: column 'x': ")
    assert expected in problems[0]


def test_a_search_cell_in_a_log_column_must_stay_positive():
    (problem,) = _problems("STEP,lr:log\n0,?0..1\n")
    assert problem.startswith("bad.csv:2:2: column 'lr:log': '0' in the search cell '?0..1' is not")
    assert "log space" in problem


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("?1.5..3", "'1.5' in the searched step '?1.5..3' is not a whole step"),
        ("?+10..-10", "mixes absolute steps and offsets"),
        ("?5..+10", "mixes absolute steps and offsets"),
        ("?8..2", "empty or reversed"),
        ("?{3}", "fewer than two steps"),
        ("?2ep..3ep", "is not a whole step or offset"),
        ("?1..2e13", "is not a whole step or offset"),
        ("?1..99999999999999", "too large"),
        ("?1..3 linear", "cannot read the searched step"),
    ],
)
def test_bad_step_search_cells_are_reported_at_the_step(cell, expected):
    problems = _problems(f"STEP,x\n0,0\n{cell},1\n")
    assert problems and problems[0].startswith("bad.csv:3:1: column 'STEP': ")
    assert expected in problems[0]


def test_check_show_and_plot_accept_a_search_space_and_realize_refuses_it(tmp_path, capsys):
    path = tmp_path / "space.csv"
    path.write_text(SHEET)
    assert main(["check", str(path)]) == 0
    assert "4 search cells (lr@2, STEP@3, w@3, lr@4)" in capsys.readouterr().out
    assert main(["show", str(path)]) == 0
    shown = capsys.readouterr().out
    assert "?+100..+500 → 300" in shown and "?{0.1 0.5 1} → 0.1" in shown
    assert main(["plot", str(path), "-o", str(tmp_path / "p.png")]) == 0
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert main(["realize", str(path), "-o", str(tmp_path / "r.csv")]) == 1
    assert "search space" in capsys.readouterr().err
    assert not (tmp_path / "r.csv").exists()


_SEARCHY = st.sampled_from(
    ["?", "..", "{", "}", "+", "-", " ", "1", "0", "e", ".", "5", "linear", "|", "?{", "x", "9"]
)


@st.composite
def search_sheets(draw) -> str:
    """CSV text whose STEP and value cells are often search-cell-like junk."""
    cell = st.lists(_SEARCHY, max_size=7).map("".join)
    rows = draw(st.lists(st.tuples(cell, cell, cell), min_size=1, max_size=5))
    header = draw(st.sampled_from(["STEP,x,lr:log", "STEP,x:log:step-end,y", "STEP,PHASE,x"]))
    return header + "\n" + "\n".join(",".join(f'"{c}"' for c in r) for r in rows) + "\n"


@given(search_sheets())
@settings(max_examples=150, deadline=None)
def test_the_parser_raises_only_dopesheet_error_with_search_cells_in_play(text):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DopesheetWarning)
        try:
            ds = Dopesheet.from_text(text)
        except DopesheetError as e:
            assert e.problems and all(p.message for p in e.problems)
            return
    if ds.search:  # every nominal and every extreme either fills or is a located error
        for p in ds.search:
            for value in p.choices or p.bounds:
                try:
                    ds.with_values(ds.search.nominal() | {p.name: value})
                except DopesheetError as e:
                    assert all(q.line is not None for q in e.problems)


@given(st.floats(1e-6, 1e6), st.floats(1.0001, 1e3))
@settings(max_examples=100, deadline=None)
def test_any_value_in_range_fills_exactly(low, ratio):
    high = low * ratio
    ds = Dopesheet.from_text(f"STEP,lr:log\n0,?{low!r}..{high!r}\n")
    value = math.sqrt(low * high)
    value = min(max(value, low), high)
    assert ds.with_values({"lr@2": value}).keyframes("lr") == [(0, value)]


def test_a_search_cell_past_the_rows_kept_is_a_clear_error_and_long_sheets_keep_nothing():
    from mini.temporal.search_cells import MAX_KEPT_RECORDS

    rows = "".join(f"{i},{i}\n" for i in range(MAX_KEPT_RECORDS + 1))
    (problem,) = _problems(f"STEP,x\n{rows}{MAX_KEPT_RECORDS + 5},?0..1\n")
    assert f"up to {MAX_KEPT_RECORDS:,} rows" in problem
    assert Dopesheet.from_text(f"STEP,x\n{rows}").search is None

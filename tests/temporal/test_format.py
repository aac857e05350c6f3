"""The dopesheet format, row by row as docs/format.md states it."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd
import pytest

from mini.temporal import Dopesheet, DopesheetError, DopesheetWarning, Timeline, realize

README_EXAMPLE = """STEP,PHASE,ACTION,lr:log,loss-recon,reg-anchor,temperature:log,z::step-end
0,Warm-up,,1e-3,1.0,0,1.0,1
+0.4,,snapshot,,0.8,,,2
3000,Main,anchor,,,0.25,,3
10000,,,1e-4,,,0.1,
"""


def ds_of(text: str, source: str = "test.csv") -> Dopesheet:
    return Dopesheet.from_text(text, source=source)


def error_of(text: str) -> DopesheetError:
    with pytest.raises(DopesheetError) as info:
        ds_of(text)
    return info.value


# -- STEP ----------------------------------------------------------------------------------------


def test_worked_example_resolves_relative_steps():
    steps = [
        "0",
        "+0.4",
        "+0.6",
        "3000",
        "+0.05",
        "+0.5",
        "+0.8",
        "10000",
        "+0.05",
        "+0.3",
        "20000",
    ]
    text = "STEP,x\n" + "\n".join(f"{s},{i}" for i, s in enumerate(steps))
    ds = ds_of(text)
    assert [r.step for r in ds.rows] == [
        0, 1200, 1800, 3000, 3350, 6500, 8600, 10000, 10500, 13000, 20000,
    ]  # fmt: skip
    # each row keeps its own value: the i-th row keyed x=i
    assert [v for _, v in ds.keyframes("x")] == list(range(11))


def test_readme_example_parses():
    ds = ds_of(README_EXAMPLE)
    assert len(ds) == 10001
    assert [r.step for r in ds.rows] == [0, 1200, 3000, 10000]
    assert ds.specs["lr"].space == "log" and ds.specs["lr"].interpolator == "minjerk"
    assert ds.specs["z"].space == "linear" and ds.specs["z"].interpolator == "step-end"
    assert ds.actions == [(1200, "snapshot"), (3000, "anchor")]
    assert [(p.name, p.start, p.end) for p in ds.phases] == [
        ("Warm-up", 0, 2999),
        ("Main", 3000, 10000),
    ]


@pytest.mark.parametrize(
    ("step", "expected"),
    [("+250", 1250), ("-250", 1750), ("+0.25", 1250), ("-0.25", 1750), ("+0", 1000), ("-0", 2000)],
)
def test_relative_steps_between_anchors(step, expected):
    ds = ds_of(f"STEP,x,y\n1000,0,\n{step},,5\n2000,1,\n")
    assert ds.keyframes("y") == [(expected, 5.0)]


def test_several_relative_rows_use_the_same_anchors_and_are_sorted():
    ds = ds_of("STEP,x\n0,0\n+0.5,5\n+0.25,2.5\n-10,9\n100,10\n")
    assert ds.keyframes("x") == [(0, 0.0), (25, 2.5), (50, 5.0), (90, 9.0), (100, 10.0)]


def test_trailing_offset_extends_the_run_and_leading_negative_offset_is_fine():
    ds = ds_of("STEP,x\n-10,1\n100,2\n+50,3\n")
    assert [r.step for r in ds.rows] == [90, 100, 150]
    assert len(ds) == 151


def test_rows_on_the_same_step_are_merged():
    ds = ds_of("STEP,PHASE,ACTION,a,b\n0,P,,1,\n+0.5,Q,y,,4\n-5,,z,,\n10,,x,2,\n")
    row = next(r for r in ds.rows if r.step == 5)
    assert row.phase == "Q"
    assert row.values == {"b": 4.0}
    assert set(row.actions) == {"y", "z"}
    assert set(row.lines) == {3, 4}


def test_run_length_is_largest_step_plus_one():
    assert len(ds_of("STEP,x\n0,1\n41,2\n")) == 42
    assert len(ds_of("STEP,x\n7,1\n")) == 8


# -- PHASE and ACTION -----------------------------------------------------------------------------


def test_phase_start_and_end_flags():
    ds = ds_of("STEP,PHASE,x\n0,A,0\n3,B,1\n4,C,2\n6,,3\n")
    tl = Timeline(ds)
    states = list(tl)
    assert [s.phase for s in states] == ["A", "A", "A", "B", "C", "C", "C"]
    assert [s.is_phase_start for s in states] == [True, False, False, True, True, False, False]
    assert [s.is_phase_end for s in states] == [False, False, True, True, False, False, True]


def test_steps_before_the_first_named_phase_form_an_unnamed_phase():
    ds = ds_of("STEP,PHASE,x\n0,,0\n5,Main,1\n9,,0\n")
    assert [(p.name, p.start, p.end) for p in ds.phases] == [(None, 0, 4), ("Main", 5, 9)]


def test_multiple_actions_per_cell_with_comma_or_semicolon():
    ds = ds_of('STEP,ACTION,x\n0,"anchor, snapshot",1\n5,refresh;log ; ,2\n')
    assert ds.actions == [(0, "anchor"), (0, "snapshot"), (5, "refresh"), (5, "log")]
    tl = Timeline(ds)
    fired = {s.step: s.actions for s in tl if s.actions}
    assert fired == {0: ("anchor", "snapshot"), 5: ("refresh", "log")}


# -- property columns ---------------------------------------------------------------------------


def test_header_spaces_interpolators_and_alias():
    ds = ds_of("STEP,a,b:log,c::linear,d:linear:step,e:log:step-end\n0,1,1,1,1,1\n")
    got = {n: (s.space, s.interpolator) for n, s in ds.specs.items()}
    assert got == {
        "a": ("linear", "minjerk"),
        "b": ("log", "minjerk"),
        "c": ("linear", "linear"),
        "d": ("linear", "step"),
        "e": ("log", "step-end"),
    }


def test_hold_before_first_key_and_after_last_key():
    tl = Timeline(ds_of("STEP,x,y\n0,,0\n10,3,\n20,7,\n30,,1\n"))
    assert tl[0]["x"] == 3.0 and tl[9]["x"] == 3.0
    assert tl[20]["x"] == 7.0 and tl[30]["x"] == 7.0


def test_minimum_jerk_formula():
    tl = Timeline(ds_of("STEP,x\n100,2\n300,-6\n"))
    for step in range(100, 301, 7):
        tau = (step - 100) / 200
        expected = 2 + (-6 - 2) * (10 * tau**3 - 15 * tau**4 + 6 * tau**5)
        assert tl[step]["x"] == pytest.approx(expected, abs=1e-12)


def test_linear_and_step_end():
    tl = Timeline(ds_of("STEP,a::linear,b::step-end\n0,0,0\n10,1,1\n"))
    assert [tl[i]["a"] for i in range(11)] == pytest.approx([i / 10 for i in range(11)])
    assert [tl[i]["b"] for i in range(11)] == [0.0] * 10 + [1.0]


def test_log_space_interpolates_log_of_value():
    tl = Timeline(ds_of("STEP,lr:log,lin\n0,1e-2,1e-2\n100,1e-4,1e-4\n"))
    mid = tl[50]
    assert mid["lr"] == pytest.approx(1e-3, rel=1e-12)  # geometric midpoint
    assert mid["lin"] == pytest.approx((1e-2 + 1e-4) / 2)


def test_empty_cell_is_no_key():
    ds = ds_of("STEP,a,b\n0,1,\n10,,2\n20,3,4\n")
    assert ds.keyframes("a") == [(0, 1.0), (20, 3.0)]
    assert ds.keyframes("b") == [(10, 2.0), (20, 4.0)]


def test_never_keyed_property_warns_and_is_ignored():
    with pytest.warns(DopesheetWarning, match=r"test.csv:1:3: property 'ghost' is never keyed"):
        ds = ds_of("STEP,x,ghost\n0,1,\n")
    assert list(ds.specs) == ["x"]


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "column", "needle"),
    [
        ("PHASE,x\nA,1\n", 1, None, "no STEP column"),
        ("step,x\n0,1\n", 1, None, "no STEP column"),
        ("STEP,x\nabc,1\n", 2, 1, "cannot read step 'abc'"),
        ("STEP,x\n0,1\n1.5,2\n", 3, 1, "not a whole number"),
        ("STEP,x\n+5,1\n10,2\n", 2, 1, "needs an absolute row before it"),
        ("STEP,x\n0,1\n-5,2\n", 3, 1, "needs an absolute row after it"),
        ("STEP,x\n0,1\n+0.5,2\n", 3, 1, "needs an absolute row after it"),
        ("STEP,x\n0,1\n+1.5,2\n10,3\n", 3, 1, "outside (0, 1)"),
        ("STEP,x\n0,1\n-0.0,2\n10,3\n", 3, 1, "outside (0, 1)"),
        ("STEP,x\n0,1\n+20,2\n10,3\n", 3, 1, "past the next anchor"),
        ("STEP,x\n5,1\n-30,2\n30,3\n", 3, 1, "before the previous anchor"),
        ("STEP,x\n-20,2\n10,3\n", 2, 1, "before step 0"),
        ("STEP,x\n10,1\n5,2\n", 3, 1, "must not go backwards"),
        ("STEP,x\n0,1\n0,2\n", 3, 2, "both key 'x'"),
        ("STEP,PHASE,x\n0,A,1\n0,B,\n", 3, 2, "name different phases"),
        ("STEP,x\n0,abc\n", 2, 2, "'abc' is not a finite number"),
        ("STEP,x\n0,nan\n", 2, 2, "not a finite number"),
        ("STEP,x:log\n0,0\n", 2, 2, "not > 0"),
        ("STEP,x:log\n0,-1e-3\n", 2, 2, "not > 0"),
        ("STEP,x:cubic\n0,1\n", 1, 2, "unknown space 'cubic'"),
        ("STEP,x:log:bezier\n0,1\n", 1, 2, "unknown interpolator 'bezier'"),
        ("STEP,x,x:log\n0,1,1\n", 1, 3, "already defined in column 2"),
        ("STEP,,x\n0,,1\n", 1, 2, "has no name"),
        ("STEP,x\n0,1,2\n", 2, 3, "the row has 3 cells"),
        ("STEP,x\n", 2, None, "no keyframe rows"),
        ("", 1, None, "the file is empty"),
        ("   \n\n", 1, None, "the file is empty"),
        ("STEP,x\n0,1\n,2\n", 3, 1, "STEP is empty"),
    ],
)
def test_each_problem_names_line_column_and_fix(text, line, column, needle):
    err = error_of(text)
    problem = next(p for p in err.problems if needle in p.message)
    assert problem.file == "test.csv"
    assert problem.line == line
    assert problem.column == column
    assert problem.fix, "every problem says how to fix it"
    location = f"test.csv:{line}" + (f":{column}" if column else "")
    assert location in str(err)


def test_every_problem_is_reported_at_once():
    err = error_of("STEP,a:log,b\n0,-1,x\n5,1,\nzz,2,3\n")
    messages = [p.message for p in err.problems]
    assert len(messages) == 3
    assert [p.line for p in err.problems] == [2, 2, 4]


def test_non_utf8_bytes_are_located():
    data = b"STEP,PHASE,x\n0,Warm,1\n5,Caf\xe9,2\n"
    with pytest.raises(DopesheetError) as info:
        Dopesheet.from_csv(io.BytesIO(data))
    p = info.value.problem
    assert (p.line, p.column) == (3, 2)
    assert "UTF-8" in p.message and "UTF-8" in p.fix


def test_from_csv_reads_paths_text_and_binary_files(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(README_EXAMPLE)
    a = Dopesheet.from_csv(path)
    b = Dopesheet.from_csv(str(path))
    c = Dopesheet.from_csv(io.StringIO(README_EXAMPLE))
    d = Dopesheet.from_csv(io.BytesIO(("\ufeff" + README_EXAMPLE).encode()))
    assert a == b == c == d
    assert a.source == str(path)
    with pytest.raises(DopesheetError, match=r"s2\.csv:2:4"):
        bad = tmp_path / "s2.csv"
        bad.write_text("STEP,PHASE,ACTION,lr:log\n0,,,0\n")
        Dopesheet.from_csv(bad)


def test_blank_lines_keep_line_numbers():
    err = error_of("STEP,x\n\n0,1\n\n\n5,bad\n")
    assert err.problem.line == 6


# -- views and transformations --------------------------------------------------------------------


def test_dataframe_round_trip_and_dict_round_trip():
    ds = ds_of(README_EXAMPLE)
    df = ds.as_df()
    assert list(df.columns[:3]) == ["STEP", "PHASE", "ACTION"]
    assert Dopesheet.from_df(df) == ds
    assert Dopesheet.from_dict(json.loads(json.dumps(ds.to_dict()))) == ds
    assert Dopesheet.from_df(pd.DataFrame({"STEP": [0, 10], "w": [1.0, np.nan]})).keyframes(
        "w"
    ) == [(0, 1.0)]


def test_content_hash_ignores_layout_but_not_values():
    a = ds_of("STEP,x\n0,1\n10,2\n")
    b = ds_of("STEP,x\n\n0, 1.0\n+10,2\n", source="other.csv")
    c = ds_of("STEP,x\n0,1\n10,3\n")
    assert a.content_hash == b.content_hash != c.content_hash


def test_markdown_and_html_views_hold_the_resolved_rows():
    ds = ds_of(README_EXAMPLE)
    head, rule, *body = ds.to_markdown().splitlines()
    names = [c.strip() for c in head.strip("|").split("|")]
    assert set(rule) <= set("|-")
    table = [
        dict(zip(names, (c.strip() for c in line.strip("|").split("|")), strict=True))
        for line in body
    ]
    assert [int(r["STEP"]) for r in table] == [r.step for r in ds.rows]
    assert [r["PHASE"] or None for r in table] == [r.phase for r in ds.rows]
    assert [r["ACTION"] for r in table] == [";".join(r.actions) for r in ds.rows]
    for name, spec in ds.specs.items():
        keyed = [(int(r["STEP"]), float(r[spec.header])) for r in table if r[spec.header]]
        assert keyed == ds.keyframes(name)
    html = ds._repr_html_()
    assert html.count("<tr") == len(ds.rows) + 1 and "Warm-up" in html
    assert ds._repr_markdown_().startswith(f"**Dopesheet** `test.csv`: {ds.n_steps} steps")


def test_to_dict_is_json_for_loggers():
    d = ds_of(README_EXAMPLE).to_dict()
    json.dumps(d)
    assert d["steps"] == 10001
    assert d["specs"]["lr"] == {"space": "log", "interpolator": "minjerk"}
    assert d["phases"][1] == {"name": "Main", "start": 3000, "end": 10000}


def test_scaled_stretches_and_compresses():
    ds = ds_of(README_EXAMPLE)
    small = ds.scaled(1001)
    assert len(small) == 1001
    assert [r.step for r in small.rows] == [0, 120, 300, 1000]
    assert small.keyframes("lr") == [(0, 1e-3), (1000, 1e-4)]
    assert [p.start for p in small.phases] == [0, 300]
    big = ds.scaled(20001)
    assert [r.step for r in big.rows] == [0, 2400, 6000, 20000]


def test_scaled_too_small_names_the_colliding_rows():
    ds = ds_of("STEP,x\n0,0\n10,1\n11,2\n100,3\n")
    with pytest.raises(DopesheetError) as info:
        ds.scaled(11)
    assert "both key 'x'" in str(info.value)
    assert "at least 101 steps" in info.value.problem.fix


def test_realize_columns_and_values():
    ds = ds_of(README_EXAMPLE)
    df = realize(ds)
    assert list(df.columns) == [
        "STEP", "PHASE", "ACTION", "lr", "loss-recon", "reg-anchor", "temperature", "z",
    ]  # fmt: skip
    assert len(df) == 10001
    assert df["STEP"].tolist() == list(range(10001))
    assert df.loc[1200, "ACTION"] == "snapshot" and df.loc[1201, "ACTION"] == ""
    assert df.loc[2999, "PHASE"] == "Warm-up" and df.loc[3000, "PHASE"] == "Main"
    assert df.loc[10000, "lr"] == 1e-4 and df.loc[0, "lr"] == 1e-3
    assert math.isclose(df.loc[5000, "temperature"], Timeline(ds)[5000]["temperature"])

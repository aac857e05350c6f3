"""Jump keys: a cell ``a|b`` keys a value the curve arrives at (a) and the value from its step on
(b), as warm restarts need; every path a dopesheet takes carries them."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from mini.temporal import Dopesheet, DopesheetError, DopesheetWarning, PropSpec, realize
from mini.temporal.check import check_csv
from mini.temporal.spec import Row

RESTARTS = "STEP,lr:log:cosine\n0,1e-3\n200,1e-5|1e-3\n300,2e-5 | 5e-4 linear\n400,1e-5\n"


def parse(text: str, **kwargs) -> Dopesheet:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DopesheetWarning)
        return Dopesheet.from_text(text, **kwargs)


def test_a_jump_key_keys_its_value_and_the_value_the_curve_arrives_at():
    ds = parse(RESTARTS)
    assert ds.keyframes("lr") == [(0, 1e-3), (200, 1e-3), (300, 5e-4), (400, 1e-5)]
    assert [r.arrivals for r in ds.rows] == [{}, {"lr": 1e-5}, {"lr": 2e-5}, {}]
    assert [r.curves for r in ds.rows] == [{}, {}, {"lr": "linear"}, {}]
    assert ds.key_arrivals("lr") == [None, 1e-5, 2e-5, None]
    assert ds.key_interpolators("lr") == ["cosine", "cosine", "linear", "cosine"]
    lr = realize(ds)["lr"].to_numpy()
    assert lr[0] == 1e-3 and lr[200] == 1e-3 and lr[300] == 5e-4 and lr[400] == 1e-5
    assert lr[199] == pytest.approx(1e-5, rel=1e-2) and lr[100] == pytest.approx(1e-4)
    assert lr[299] == pytest.approx(2e-5, rel=0.05)  # linear (in log space) into 2e-5
    assert lr[250] == pytest.approx(np.sqrt(1e-3 * 2e-5))


def test_a_jump_to_the_same_level_holds_then_jumps_and_every_number_form_reads():
    ds = parse("STEP,x\n0,-1\n10,-1|+.5e1\n20,3\n")
    x = realize(ds)["x"].to_numpy()
    assert np.all(x[:10] == -1.0) and x[10] == 5.0 and ds.key_arrivals("x") == [None, -1.0, None]


def test_a_jump_into_a_step_end_column_needs_an_interpolator_that_moves():
    ds = parse("STEP,z::step-end\n0,0\n10,5|1 linear\n20,2\n")
    z = realize(ds)["z"].to_numpy()
    assert z[5] == 2.5 and z[10] == 1.0 and np.all(z[10:20] == 1.0) and z[20] == 2.0


@pytest.mark.parametrize(
    ("header", "cell", "message", "fix"),
    [
        ("lr:log", "1|2|3", "'1|2|3' has 2 '|', but a jump key has one", "e.g. 1e-5|1e-3"),
        ("lr:log", "abc|1", "the arrival 'abc' (before '|') is not a finite number", "'|'"),
        ("lr:log", "1|inf", "the value 'inf' (after '|') is not a finite number", "'|'"),
        ("lr:log", "|1e-3", "the jump key '|1e-3' has no value before '|'", "e.g. 1e-5|1e-3"),
        ("lr:log", "1e-3|", "the jump key '1e-3|' has no value after '|'", "e.g. 1e-5|1e-3"),
        ("lr:log", "0|1e-3", "the arrival '0' (before '|') is not > 0, but the column is in log",
         "drop ':log'"),
        ("lr:log", "1e-3|-1", "the value '-1' (after '|') is not > 0", "drop ':log'"),
        ("lr:log", "1e-5|1e-3 linear x", "cannot read '1e-5|1e-3 linear x'", "1e-5|1e-3 linear"),
        ("lr:log", "linear 1e-5|1e-3", "cannot read 'linear 1e-5|1e-3'",
         "write the value first, then the interpolator: '1e-5|1e-3 linear'"),
        ("lr:log", "1e-5|1e-3 lineer", "unknown interpolator 'lineer' (did you mean 'linear'?)",
         "minjerk"),
        ("z::step-end", "1|2", "the jump key '1|2' has no effect: the column's interpolator "
         "'step-end' holds the previous key's value up to this key, so nothing arrives at 1",
         "write only the value (2), or name an interpolator that moves into the key (e.g. "
         "'1|2 linear')"),
        ("x", "1|2 step", "the jump key '1|2' has no effect: its interpolator 'step'", "'1|2 linear'"),
    ],
)  # fmt: skip
def test_malformed_jump_keys_are_located_with_a_fix(header, cell, message, fix):
    with pytest.raises(DopesheetError) as info:
        Dopesheet.from_text(f"STEP,a,{header}\n0,1,1\n10,2,{cell}\n", source="j.csv")
    p = info.value.problem
    assert info.value.total == 1
    assert (p.file, p.line, p.column, p.column_name, p.value) == ("j.csv", 3, 3, header, cell)
    assert message in p.message and fix in p.fix


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "STEP,x\n0,\n10,1|2\n",  # x's first key is at step 10
            "j.csv:3:2: column 'x': the jump key '1.0|2.0' is the property's first key, where no "
            "curve arrives (the value holds at 2.0 before it); to hold 1.0 up to this step, key "
            "1.0 on an earlier row (e.g. step 0)",
        ),
        (
            "STEP,w,x:log\n0,0,1|2 linear\n10,1,\n",
            "j.csv:2:3: column 'x:log': the jump key '1.0|2.0 linear' is the property's first "
            "key, where no curve arrives (the value holds at 2.0 before it); write only the value "
            "(2.0)",
        ),
    ],
)
def test_a_jump_on_a_first_key_warns_that_nothing_arrives_there(text, expected, tmp_path):
    with pytest.warns(DopesheetWarning) as caught:
        ds = Dopesheet.from_text(text, source="j.csv")
    assert [str(w.message) for w in caught] == [expected]
    assert ds.key_arrivals("x")[0] is None  # it has no effect: the value holds before it
    assert np.all(realize(ds)["x"].to_numpy() == 2.0)
    path = tmp_path / "j.csv"
    path.write_text(text)
    assert check_csv(path).warnings == [expected.replace("j.csv", str(path), 1)]


def test_two_keys_on_one_step_conflict_whether_jumps_or_not():
    with pytest.raises(DopesheetError) as info:
        Dopesheet.from_text("STEP,x\n0,0\n+0.5,1\n-5,2|3\n10,4\n", source="j.csv")
    p = info.value.problem
    assert str(p) == (
        "j.csv:4:2: column 'x': rows on lines 3 and 4 both land on step 5 and both key 'x' "
        "(fix: keep one of the two values or move one row to another step)"
    )
    assert p.value == "2.0|3.0"
    merged = parse("STEP,x,y\n0,0,0\n+0.5,1|2,\n-5,,3|4 linear\n10,4,5\n")
    row = merged.rows[1]
    assert (row.step, row.values, row.arrivals, row.curves) == (
        5,
        {"x": 2.0, "y": 4.0},
        {"x": 1.0, "y": 3.0},
        {"y": "linear"},
    )


# -- every path a dopesheet takes ------------------------------------------------------------------


def test_jump_keys_survive_every_round_trip_bit_for_bit(tmp_path):
    ds = parse(
        "STEP,lr:log:cosine,w\n0,1e-3,0\n200,1.2345678901234567e-5|1e-3,1e-300|0.1\n300,1e-5,2\n"
    )
    df = ds.as_df()
    assert df["lr:log:cosine"].tolist()[1] == f"{1.2345678901234567e-5!r}|0.001"
    assert df["w"].tolist()[1] == "1e-300|0.1"
    ds.to_csv(tmp_path / "j.csv")
    again = [
        Dopesheet.from_csv(tmp_path / "j.csv"),
        Dopesheet.from_df(df),
        Dopesheet.from_dict(json.loads(json.dumps(ds.to_dict()))),
    ]
    want = realize(ds)[["lr", "w"]].to_numpy()
    for back in again:
        assert back == ds and [r.arrivals for r in back.rows] == [r.arrivals for r in ds.rows]
        assert np.array_equal(realize(back)[["lr", "w"]].to_numpy(), want)
    scaled = ds.scaled(31)
    assert scaled.key_arrivals("lr") == ds.key_arrivals("lr")
    assert [s for s, _ in scaled.keyframes("w")] == [0, 20, 30]


def test_a_dict_from_before_jump_keys_loads_and_hashes_as_before():
    ds = parse("STEP,PHASE,ACTION,x,lr:log\n0,A,go,0,1e-3\n10,,,1,1e-4\n")
    old = ds.to_dict()
    for row in old["rows"]:
        del row["arrivals"]
    assert Dopesheet.from_dict(old) == ds
    # the value pinned before curves and jump keys existed (test_key_curves pins it too)
    assert ds.content_hash == "b6699609f8cd7e0532d32724a378a83e4fb3f65c795d9eb0f60668132e0a4a22"
    jumped = parse("STEP,PHASE,ACTION,x,lr:log\n0,A,go,0,1e-3\n10,,,0.5|1,1e-4\n")
    assert jumped != ds and jumped.content_hash != ds.content_hash


@pytest.mark.parametrize(
    ("spec", "row"),
    [
        (PropSpec("w"), Row(10, values={}, arrivals={"w": 1.0})),  # no key
        (PropSpec("w"), Row(10, values={"w": 1.0}, arrivals={"w": float("nan")})),
        (PropSpec("w", "log"), Row(10, values={"w": 1.0}, arrivals={"w": 0.0})),
        (PropSpec("w", "linear", "step-end"), Row(10, values={"w": 1.0}, arrivals={"w": 2.0})),
        (PropSpec("w"), Row(10, values={"w": 1.0}, curves={"w": "step"}, arrivals={"w": 2.0})),
    ],
)
def test_resolved_rows_with_unusable_jump_keys_are_rejected(spec, row):
    with pytest.raises(ValueError, match=r"the jump key of 'w' .* needs a key there"):
        Dopesheet([spec], [Row(0, values={"w": 1.0}), row])

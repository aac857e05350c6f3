"""Per-key interpolation: a cell may name the curve of the segment arriving at its key."""

from __future__ import annotations

import json

import pytest

from mini.temporal import (
    Dopesheet,
    DopesheetError,
    DopesheetWarning,
    Interpolator,
    get_interpolator,
)

WARMUP_DECAY = "STEP,lr:log\n0,1e-5\n500,3e-3 linear\n10000,1e-4 minjerk\n20000,1e-5\n"


def test_a_cell_names_the_curve_into_its_key():
    ds = Dopesheet.from_text(WARMUP_DECAY)
    assert ds.keyframes("lr") == [(0, 1e-5), (500, 3e-3), (10000, 1e-4), (20000, 1e-5)]
    assert [r.curves for r in ds.rows] == [{}, {"lr": "linear"}, {"lr": "minjerk"}, {}]
    # first key: the column's (unused); then what each cell names, or the column's
    assert ds.key_interpolators("lr") == ["minjerk", "linear", "minjerk", "minjerk"]


def test_key_interpolators_default_to_the_column():
    ds = Dopesheet.from_text("STEP,z::step-end,w\n0,0,0\n10,1 linear,1\n20,2,2\n")
    assert ds.key_interpolators("z") == ["step-end", "linear", "step-end"]
    assert ds.key_interpolators("w") == ["minjerk"] * 3
    with pytest.raises(KeyError, match="no property 'q'"):
        ds.key_interpolators("q")


def test_any_registered_interpolator_and_aliases_are_valid(monkeypatch):
    # registered for this test only (the registry dict is restored afterwards)
    registry = get_interpolator.__globals__["_REGISTRY"]
    monkeypatch.setitem(registry, "test-ease-in", Interpolator("test-ease-in", lambda t: t * t))
    ds = Dopesheet.from_text("STEP,x\n0,0\n10,1 test-ease-in\n20,2 step\n")
    assert ds.key_interpolators("x") == ["minjerk", "test-ease-in", "step"]


def test_unknown_curve_name_is_located_with_did_you_mean():
    with pytest.raises(DopesheetError) as info:
        Dopesheet.from_text("STEP,a,lr:log\n0,1,1\n10,2,3e-3 lineer\n", source="c.csv")
    p = info.value.problem
    assert (p.line, p.column, p.column_name, p.value) == (3, 3, "lr:log", "3e-3 lineer")
    assert "unknown interpolator 'lineer' (did you mean 'linear'?)" in p.message
    assert "minjerk" in p.fix


@pytest.mark.parametrize(
    ("cell", "needle", "fix"),
    [
        ("linear 3e-3", "cannot read 'linear 3e-3'", "'3e-3 linear'"),
        ("3e-3 linear extra", "cannot read", "0.5 linear"),
        ("abc linear", "'abc' is not a finite number", "0.5 or 1e-3"),
        ("-1 linear", "not > 0, but the column is in log space", "drop ':log'"),
    ],
)
def test_malformed_curve_cells(cell, needle, fix):
    with pytest.raises(DopesheetError) as info:
        Dopesheet.from_text(f"STEP,lr:log\n0,1\n10,{cell}\n")
    assert needle in info.value.problem.message and fix in info.value.problem.fix


def test_a_curve_on_the_first_key_warns_that_nothing_arrives_there():
    with pytest.warns(
        DopesheetWarning,
        match=r"c\.csv:2:2: column 'x': 'linear' is named on the property's first key",
    ):
        ds = Dopesheet.from_text("STEP,x\n0,0 linear\n10,1\n", source="c.csv")
    assert ds.key_interpolators("x") == ["minjerk", "minjerk"]


def test_curves_survive_every_round_trip():
    ds = Dopesheet.from_text(WARMUP_DECAY)
    df = ds.as_df()
    assert df["lr:log"].tolist()[1] == "0.003 linear"
    assert Dopesheet.from_df(df) == ds
    assert Dopesheet.from_dict(json.loads(json.dumps(ds.to_dict()))) == ds
    scaled = ds.scaled(2001)
    assert scaled.key_interpolators("lr") == ds.key_interpolators("lr")


def test_curves_count_in_the_content_hash_but_sheets_without_them_hash_as_before():
    plain = Dopesheet.from_text("STEP,PHASE,ACTION,x,lr:log\n0,A,go,0,1e-3\n10,,,1,1e-4\n")
    named = Dopesheet.from_text("STEP,PHASE,ACTION,x,lr:log\n0,A,go,0,1e-3\n10,,,1 linear,1e-4\n")
    assert plain != named
    # checkpoints store the hash: a sheet without curves hashes as it did before curves existed
    # (value computed with the code before this change)
    assert plain.content_hash == "b6699609f8cd7e0532d32724a378a83e4fb3f65c795d9eb0f60668132e0a4a22"


def test_merged_rows_keep_their_curves_and_conflicts_are_problems():
    ds = Dopesheet.from_text("STEP,a,b\n0,0,0\n+0.5,1 linear,\n-5,,1 step-end\n10,2,2\n")
    row = next(r for r in ds.rows if r.step == 5)
    assert row.curves == {"a": "linear", "b": "step-end"}
    with pytest.raises(DopesheetError, match="both key 'a'"):
        Dopesheet.from_text("STEP,a\n0,0\n+0.5,1 linear\n-5,1 minjerk\n10,2\n")

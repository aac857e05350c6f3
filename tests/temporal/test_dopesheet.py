"""The Dopesheet object: its constructor from resolved rows, round trips, scaling, phases."""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mini.temporal import Dopesheet, DopesheetError, DopesheetWarning, Phase, PropSpec
from mini.temporal.spec import Row

from .strategies import dopesheet_text


def parse(text: str) -> Dopesheet:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DopesheetWarning)
        return Dopesheet.from_text(text)


# -- round trips ----------------------------------------------------------------------------------


@given(dopesheet_text(curves=True, jumps=True))
@settings(max_examples=150, deadline=None)
def test_as_df_and_to_dict_round_trip(text):
    ds = parse(text)
    back = parse_df(ds)
    assert back == ds
    assert [r.step for r in back.rows] == [r.step for r in ds.rows]
    assert {n: back.keyframes(n) for n in back.specs} == {n: ds.keyframes(n) for n in ds.specs}
    assert {n: back.key_interpolators(n) for n in back.specs} == {
        n: ds.key_interpolators(n) for n in ds.specs
    }
    assert [r.arrivals for r in back.rows] == [r.arrivals for r in ds.rows]
    restored = Dopesheet.from_dict(json.loads(json.dumps(ds.to_dict())))
    assert restored == ds and restored.rows == ds.rows and restored.phases == ds.phases


def parse_df(ds: Dopesheet) -> Dopesheet:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DopesheetWarning)
        return Dopesheet.from_df(ds.as_df())


@given(dopesheet_text(curves=True, jumps=True), st.data())
@settings(max_examples=150, deadline=None)
def test_scaled_maps_first_and_last_rows_and_keeps_order_and_keys(text, data):
    ds = parse(text)
    if ds.last_step == 0:
        return
    n = data.draw(st.integers(2, 3 * ds.n_steps))
    try:
        small = ds.scaled(n)
    except DopesheetError as e:  # compressing may put two rows on one step
        assert n - 1 < ds.last_step and "scale to at least" in e.problem.fix
        return
    assert small.n_steps == n
    factor = (n - 1) / ds.last_step
    expected = sorted({int(r.step * factor + 0.5) for r in ds.rows})
    assert [r.step for r in small.rows] == expected
    assert small.rows[-1].step == n - 1
    if ds.rows[0].step == 0:
        assert small.rows[0].step == 0
    for name in ds.specs:  # the same keys, in the same order, with the same curves and jumps
        assert [v for _, v in small.keyframes(name)] == [v for _, v in ds.keyframes(name)]
        assert small.key_interpolators(name) == ds.key_interpolators(name)
        assert small.key_arrivals(name) == ds.key_arrivals(name)
    named = [p.name for p in ds.phases if p.name is not None]
    assert [p.name for p in small.phases if p.name is not None] == named


# -- the constructor ------------------------------------------------------------------------------


def test_init_from_resolved_rows():
    ds = Dopesheet(
        [PropSpec("lr", "log"), PropSpec("w")],
        [Row(0, "A", (), {"lr": 1e-3, "w": 0.0}), Row(10, None, ("go",), {"lr": 1e-4})],
        source="built",
    )
    assert ds.n_steps == 11 and ds.actions == [(10, "go")]
    assert ds.phases == [Phase("A", 0, 10)] and ds.keyframes("w") == [(0, 0.0)]
    assert ds == parse("STEP,PHASE,ACTION,lr:log,w\n0,A,,1e-3,0\n10,,go,1e-4,\n")


@pytest.mark.parametrize(
    ("specs", "rows", "needle"),
    [
        ([PropSpec("w")], [], "at least one row"),
        ([PropSpec("w")], [Row(5, values={"w": 1.0}), Row(5, values={"w": 2.0})], "increasing"),
        ([PropSpec("w")], [Row(-1, values={"w": 1.0})], "increasing"),
        ([PropSpec("w")], [Row(0, values={"v": 1.0})], "'v', which has no PropSpec"),
        ([PropSpec("w"), PropSpec("v")], [Row(0, values={"w": 1.0})], "without keys: v"),
        ([PropSpec("w", "log")], [Row(0, values={"w": 0.0})], "not a usable value"),
        ([PropSpec("w")], [Row(0, values={"w": float("nan")})], "not a usable value"),
        ([PropSpec("w", "cubic")], [Row(0, values={"w": 1.0})], "unknown space"),  # type: ignore[arg-type]
        ([PropSpec("w")], [Row(0, values={"w": 1.0}, curves={"w": "bezier"})], "registered"),
        ([PropSpec("w")], [Row(0, values={}, curves={"w": "linear"})], "needs a key"),
    ],
)
def test_init_rejects_rows_that_break_the_invariants(specs, rows, needle):
    with pytest.raises(ValueError, match=needle):
        Dopesheet(specs, rows)


# -- phases: fill-down continues, a name that returns starts a new phase --------------------------


def test_a_phase_name_repeated_on_consecutive_rows_continues_the_phase():
    filled = parse(
        "STEP,PHASE,x\n0,Warm,0\n10,Warm,1\n20,Warm,2\n30,Main,3\n40,Main,4\n50,Main,5\n"
    )
    sparse = parse("STEP,PHASE,x\n0,Warm,0\n10,,1\n20,,2\n30,Main,3\n40,,4\n50,,5\n")
    assert filled.phases == [Phase("Warm", 0, 29), Phase("Main", 30, 50)]
    assert filled == sparse and filled.rows == sparse.rows
    assert [r.phase for r in filled.rows] == ["Warm", None, None, "Main", None, None]


def test_a_phase_name_that_returns_after_another_phase_is_a_new_phase():
    ds = parse("STEP,PHASE,x\n0,A,0\n10,B,1\n20,A,2\n30,A,3\n")
    assert ds.phases == [Phase("A", 0, 9), Phase("B", 10, 19), Phase("A", 20, 30)]


def test_fill_down_in_resolved_rows_is_normalised_too():
    ds = Dopesheet([PropSpec("x")], [Row(0, "A", (), {"x": 0.0}), Row(5, "A", (), {"x": 1.0})])
    assert ds.phases == [Phase("A", 0, 5)] and ds.rows[1].phase is None


# -- to_csv ---------------------------------------------------------------------------------------


def test_to_csv_round_trips_and_writes_atomically(tmp_path, monkeypatch):
    ds = parse("STEP,PHASE,ACTION,lr:log,w\n0,A,go,1e-3,0\n+0.5,,,,0.5 linear\n100,B,,1e-4,1\n")
    path = tmp_path / "out.csv"
    ds.to_csv(path)
    assert Dopesheet.from_csv(path) == ds
    before = path.read_text()

    def interrupted(self, f, **kwargs):
        f.write("STEP,PHA")  # half a file, then the process dies
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", interrupted)
    with pytest.raises(KeyboardInterrupt):
        parse("STEP,x\n0,1\n").to_csv(path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]

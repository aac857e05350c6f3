"""bake / Timeline.to_dopesheet: "Save as dopesheet" reproduces the run's values."""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mini.temporal import Dopesheet, DopesheetWarning, Timeline, realize
from mini.temporal.bake import bake

from .strategies import dopesheets
from .test_properties import NO_EXPLAIN, _random_control

TEXT = "STEP,PHASE,ACTION,lr:log,w\n0,Warm,go,1e-3,0\n1000,Main,,1e-3,1\n2000,,stop,3e-5,0\n"


def assert_same_values(baked: Dopesheet, tl: Timeline, *, rtol: float = 0.0) -> None:
    run, again = realize(tl), realize(baked)
    assert len(run) == len(again)
    for name in tl.names:
        a, b = run[name].to_numpy(), again[name].to_numpy()
        known = ~np.isnan(a)  # a property added by a reload has no values before it
        if rtol == 0:
            assert np.array_equal(a[known], b[known]), name
        else:
            scale = np.abs(a[known]) if baked.specs[name].space == "log" else np.abs(a[known]).max()
            assert np.all(np.abs(a[known] - b[known]) <= rtol * scale * (1 + 1e-9)), name


def test_overrides_from_rest_bake_to_a_few_exact_keys():
    tl = Timeline(Dopesheet.from_text(TEXT))
    tl.seek(1000)  # at a key: minimum jerk is at rest there
    tl.set("w", 3.0, 100, hold=200, rejoin=300)  # rejoins a moving schedule: dense
    tl.seek(2000)  # after the last key: at rest, and the schedule is flat
    baked_before = tl.to_dopesheet()
    tl.set("lr", 1e-4, 0)
    tl.seek(2000)
    baked = tl.to_dopesheet()
    assert_same_values(baked, tl)
    tl = Timeline(Dopesheet.from_text(TEXT.replace("2000,,stop", "4000,,stop")))
    tl.seek(2500)  # lr held at rest before its last key... the schedule moves: takeover
    tl.set("w", 2.0, 100)  # hold until the key at 4000... no key after for w: holds to the end
    tl.seek(3000)
    tl.set("lr", 2e-3, 50, hold=100, rejoin=200)
    baked = tl.to_dopesheet()
    assert_same_values(baked, tl)
    assert baked_before.keyframes("lr") == Dopesheet.from_text(TEXT).keyframes("lr")


def test_the_explorer_case_bakes_exactly_and_compactly_from_rest():
    """Moves from rest onto a held value, then back onto a flat schedule: pure keys."""
    ds = Dopesheet.from_text("STEP,PHASE,lr:log,w\n0,A,1e-3,0\n500,B,1e-4,1\n3000,,1e-4,1\n")
    tl = Timeline(ds)
    tl.seek(800)  # both on flat stretches: from rest
    tl.set("lr", 3e-4, 100, hold=400, rejoin=200)
    tl.seek(1000)
    tl.set("w", 0.5, 50)  # hold=None: until the key at 3000, the last one: for good
    baked = tl.to_dopesheet(actions=[(800, "bump")])
    assert_same_values(baked, tl)
    assert [s for s, _ in baked.keyframes("lr")] == [0, 500, 800, 900, 1300, 1500, 3000]
    assert [s for s, _ in baked.keyframes("w")] == [0, 500, 1000, 1050]
    assert realize(baked)["ACTION"][800] == "bump" and baked.phases[1].name == "B"


def test_a_moving_start_is_exact_with_dense_keys_or_close_with_a_tolerance():
    tl = Timeline(Dopesheet.from_text(TEXT))
    tl.seek(1600)  # lr decaying, w falling
    tl.set("lr", 3e-3, 50, hold=100, rejoin=200)
    tl.set("w", 2.0, 30, hold=0)
    exact = tl.to_dopesheet()
    assert_same_values(exact, tl)
    compact = tl.to_dopesheet(tolerance=1e-4)
    assert_same_values(compact, tl, rtol=1e-4)
    assert len(compact.rows) < len(exact.rows) / 2


def test_bake_checks_its_arguments():
    tl = Timeline(Dopesheet.from_text(TEXT))
    with pytest.raises(ValueError, match="tolerance"):
        bake(tl, tolerance=-1)
    with pytest.raises(ValueError, match=r"outside 0\.\.2000"):
        bake(tl, [(5000, "late")])


def test_bake_keeps_phases_and_actions_across_a_reload():
    tl = Timeline(Dopesheet.from_text(TEXT))
    tl.seek(500)
    tl.reload(Dopesheet.from_text(TEXT.replace("1000,Main,,", "700,Main,snap,")))
    baked = tl.to_dopesheet(actions=[(10, "fired"), (0, "go")])
    run, again = realize(tl), realize(baked)
    assert run["PHASE"].tolist() == again["PHASE"].tolist()
    expect = run["ACTION"].astype(str).tolist()
    expect[10] = "fired"
    assert again["ACTION"].astype(str).tolist() == expect
    assert_same_values(baked, tl)


@given(dopesheets(max_step=200), st.data())
@settings(max_examples=120, deadline=None, phases=NO_EXPLAIN)
def test_baked_runs_realize_to_the_values_the_run_used(ds, data):
    tl = Timeline(ds)
    calls = sorted(data.draw(st.lists(st.integers(0, len(ds) - 1), max_size=5)))
    for state in tl:
        while calls and calls[0] == state.step:
            calls.pop(0)
            if data.draw(st.integers(0, 4)) == 0:
                edit = ds.to_dict()
                for row in edit["rows"]:
                    for name in row["values"]:
                        if data.draw(st.booleans()):
                            row["values"][name] *= 2.0
                tl.reload(Dopesheet.from_dict(edit))
            else:
                _random_control(tl, ds, data)
    assert_same_values(bake(tl), tl)
    tolerance = data.draw(st.sampled_from([1e-9, 1e-6, 1e-3]))
    assert_same_values(bake(tl, tolerance=tolerance), tl, rtol=tolerance)
    pd.testing.assert_series_equal(
        realize(bake(tl))["PHASE"], realize(tl)["PHASE"], check_categorical=False
    )


def reread(baked: Dopesheet) -> list[Dopesheet]:
    """``baked`` through a CSV file (no warning allowed: a baked sheet has no curve or jump on a
    first key), a DataFrame and a JSON dict."""
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("error", DopesheetWarning)
        path = Path(folder) / "baked.csv"
        baked.to_csv(path)
        return [
            Dopesheet.from_csv(path),
            Dopesheet.from_df(baked.as_df()),
            Dopesheet.from_dict(json.loads(json.dumps(baked.to_dict()))),
        ]


def assert_round_trips_bit_for_bit(baked: Dopesheet) -> None:
    values = realize(baked)
    for back in reread(baked):
        assert back == baked and back.phases == baked.phases and back.actions == baked.actions
        again = realize(back)
        for name in baked.specs:
            assert np.array_equal(again[name].to_numpy(), values[name].to_numpy()), name


def test_a_baked_warm_restart_run_keeps_its_jump_keys_and_curves_through_files():
    preset = Path(__file__).resolve().parents[2] / "schedules/presets/cosine-warm-restarts.csv"
    tl = Timeline(Dopesheet.from_csv(preset))
    tl.seek(50)  # the cosine is moving: the override's start is written densely
    tl.set("lr", 5e-4, 20, hold=30, rejoin=40)
    baked = tl.to_dopesheet()
    assert_same_values(baked, tl)
    keys = zip(baked.keyframes("lr"), baked.key_arrivals("lr"), strict=True)
    # the cycle the override cut is written densely; the restart at 600 stays a jump key
    assert [(s, a) for (s, _), a in keys if a is not None] == [(600, 1e-5)]
    assert {c for r in baked.rows for c in r.curves.values()} >= {"linear", "step-end"}
    assert_round_trips_bit_for_bit(baked)


@given(dopesheets(max_step=120), st.data())
@settings(max_examples=60, deadline=None, phases=NO_EXPLAIN)
def test_baked_dopesheets_survive_csv_and_dict_round_trips_bit_for_bit(ds, data):
    tl = Timeline(ds)
    calls = sorted(data.draw(st.lists(st.integers(0, len(ds) - 1), max_size=3)))
    for state in tl:
        while calls and calls[0] == state.step:
            calls.pop(0)
            _random_control(tl, ds, data)
    tolerance = data.draw(st.sampled_from([0.0, 1e-6]))
    assert_round_trips_bit_for_bit(bake(tl, tolerance=tolerance))

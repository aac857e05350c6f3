"""Properties over random dopesheets: the parser's contract and the timeline's consistency."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from mini.temporal import Dopesheet, DopesheetError, DopesheetWarning, Timeline, realize

from .strategies import csvish_text, dopesheet_text, dopesheets

# Hypothesis 6.155's "explain" phase crashes in its shrinker on some st.data() failures; without it
# a failure is still found, shrunk and reported.
NO_EXPLAIN = (Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink)


def _parse_or_error(text: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DopesheetWarning)
        try:
            Dopesheet.from_text(text)
        except DopesheetError as e:
            assert e.problems and all(p.file == "<text>" for p in e.problems)
            assert all(p.message for p in e.problems)


@given(st.text())
@settings(deadline=None)  # no timing in tests: a loaded CI machine must not fail them
def test_parser_raises_only_dopesheet_error_on_arbitrary_text(text):
    _parse_or_error(text)


@given(csvish_text())
@settings(max_examples=300, deadline=None)
def test_parser_raises_only_dopesheet_error_on_csvish_text(text):
    _parse_or_error(text)


@given(st.binary(max_size=200))
@settings(deadline=None)
def test_parser_raises_only_dopesheet_error_on_arbitrary_bytes(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DopesheetWarning)
        with contextlib.suppress(DopesheetError):
            Dopesheet.from_csv(io.BytesIO(data))


@given(dopesheets(), st.data())
@settings(max_examples=120, deadline=None)
def test_stepping_equals_iteration_equals_random_access_equals_realize(ds, data):
    names = list(ds.specs)
    table = realize(ds)[names].to_numpy()

    stepped = Timeline(ds)
    rows = [list(stepped.state.props.values())]
    while stepped.state.step + 1 < len(stepped):
        rows.append(list(stepped.step().props.values()))
    iterated = [list(s.props.values()) for s in Timeline(ds)]
    accessed = Timeline(ds)
    order = data.draw(st.permutations(range(len(ds))))
    random_access = {i: list(accessed[i].props.values()) for i in order}

    assert np.array_equal(np.array(rows), table)
    assert np.array_equal(np.array(iterated), table)
    assert np.array_equal(np.array([random_access[i] for i in range(len(ds))]), table)


def _random_control(tl: Timeline, ds: Dopesheet, data: st.DataObject) -> None:
    """One random runtime call at the cursor: set (hold until the next key, or hold and
    rejoin) or follow."""
    name = data.draw(st.sampled_from(list(ds.specs)))
    kind = data.draw(st.sampled_from(("set", "set-hold", "follow")))
    if kind == "follow":
        tl.follow(name, data.draw(st.integers(0, 40)))
        return
    log = ds.specs[name].space == "log"
    value = data.draw(st.floats(1e-3, 1e3) if log else st.floats(-1e3, 1e3))
    duration = data.draw(st.integers(0, 40))
    if kind == "set":
        tl.set(name, value, duration)
    else:
        rejoin = data.draw(st.none() | st.integers(0, 40))
        tl.set(name, value, duration, hold=data.draw(st.integers(0, 30)), rejoin=rejoin)


@given(dopesheets(), st.data())
@settings(max_examples=100, deadline=None, phases=NO_EXPLAIN)
def test_runtime_control_keeps_all_access_paths_equal(ds, data):
    """Stepping == iteration == random access == realize == sampled values, with random
    set(), set(hold=, rejoin=) and follow() calls along the way, on dopesheets with per-key
    interpolators and jump keys; overrides end exactly on the schedule."""
    tl = Timeline(ds)
    names = list(ds.specs)
    n_calls = data.draw(st.integers(1, 5))
    call_steps = sorted(
        data.draw(st.lists(st.integers(0, len(ds) - 1), min_size=n_calls, max_size=n_calls))
    )
    rows = []
    for state in tl:
        rows.append(list(state.props.values()))
        while call_steps and call_steps[0] == state.step:
            call_steps.pop(0)
            _random_control(tl, ds, data)
    table = realize(tl)[names].to_numpy()
    assert np.array_equal(np.array(rows), table)
    assert np.array_equal(np.array([list(tl[i].props.values()) for i in range(len(tl))]), table)
    samples = data.draw(st.lists(st.integers(0, len(tl) - 1), max_size=20))
    sampled = tl.values_at(samples)
    for j, name in enumerate(names):
        assert np.array_equal(sampled[name], table[samples, j])
    schedule = realize(ds)[names].to_numpy()
    for j, name in enumerate(names):
        back = [i for i in range(len(tl)) if not tl.overridden(name, i)]
        assert np.array_equal(table[back, j], schedule[back, j])


@given(dopesheets())
@settings(max_examples=120, deadline=None)
def test_values_hit_keys_exactly_and_minjerk_stays_between_keys(ds):
    df = realize(ds)
    for name in ds.specs:
        curve = Timeline(ds)._now.curves[name]
        col = df[name].to_numpy()
        for step, value in ds.keyframes(name):
            assert col[step] == value
        for k in range(len(curve.steps) - 1):
            (s0, s1), v0 = curve.steps[k : k + 2], curve.values[k]
            arrive = curve.arrivals[k + 1]
            v1 = curve.values[k + 1] if arrive is None else arrive
            seg = col[s0:s1]
            lo, hi = min(v0, v1), max(v0, v1)
            if curve.interps[k + 1].name == "step-end":
                assert np.all(seg == v0)
            elif curve.interps[k + 1].name in ("minjerk", "cosine", "linear"):
                tol = 1e-12 * max(1.0, abs(lo), abs(hi))
                assert np.all(seg >= lo - tol) and np.all(seg <= hi + tol)
        keys = ds.keyframes(name)
        assert np.all(col[: keys[0][0]] == keys[0][1])
        assert np.all(col[keys[-1][0] :] == keys[-1][1])


@given(dopesheet_text(), st.data())
@settings(max_examples=60, deadline=None)
def test_state_dict_round_trip_then_seek_gives_identical_future(text, data):
    ds = Dopesheet.from_text(text)
    tl = Timeline(ds)
    stop = data.draw(st.integers(0, len(ds) - 1))
    name = next(iter(ds.specs))
    for state in tl:
        if state.step == stop // 2:
            value = 2.5 if ds.specs[name].space == "log" else -7.0
            tl.set(name, value, 10)
        if state.step == stop:
            break
    saved = tl.state_dict()
    future = [tl.step() for _ in range(len(ds) - 1 - stop)]

    restored = Timeline(ds)
    restored.load_state_dict(saved)
    assert restored.state == tl[stop]
    assert [restored.step() for _ in range(len(ds) - 1 - stop)] == future


@given(dopesheets(), st.data())
@settings(max_examples=100, deadline=None, phases=NO_EXPLAIN)
def test_reload_continues_value_velocity_and_acceleration(ds, data):
    """An edit adopted after step c: the past is untouched, and at step c + 1 every property has
    the value, velocity and acceleration it would have had without the edit."""
    tl = Timeline(ds)
    c = data.draw(st.integers(0, len(ds) - 1))
    tl.seek(c)
    if data.draw(st.booleans()):
        _random_control(tl, ds, data)
    before = realize(tl)[list(ds.specs)]
    s = min(c + 1, len(ds) - 1)
    state = {name: tl.kinematics(name, s) for name in ds.specs}
    edit = ds.to_dict()
    for row in edit["rows"]:
        for name in row["values"]:
            if data.draw(st.integers(0, 2)) == 0:
                log = ds.specs[name].space == "log"
                row["values"][name] = data.draw(
                    st.floats(1e-4, 1e4) if log else st.floats(-1e3, 1e3)
                )
    edited = Dopesheet.from_dict(edit)
    changed = tl.reload(edited)
    after = realize(tl)[list(ds.specs)]
    assert after.iloc[: c + 1].equals(before.iloc[: c + 1])
    if c + 1 >= len(ds):
        return
    for name in ds.specs:
        assert after[name].iloc[s] == pytest.approx(before[name].iloc[s], rel=1e-12, abs=1e-300)
        if name in changed:
            scale = max(1.0, *(abs(v) for v in state[name]))
            assert tl.kinematics(name, s) == pytest.approx(state[name], rel=1e-9, abs=1e-9 * scale)

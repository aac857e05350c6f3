"""Properties over random dopesheets: the parser's contract and the timeline's consistency."""

from __future__ import annotations

import contextlib
import io
import itertools
import warnings

import numpy as np
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from mini.temporal import Dopesheet, DopesheetError, DopesheetWarning, Timeline, realize

from .strategies import csvish_text, dopesheet_text

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
def test_parser_raises_only_dopesheet_error_on_arbitrary_text(text):
    _parse_or_error(text)


@given(csvish_text())
@settings(max_examples=300)
def test_parser_raises_only_dopesheet_error_on_csvish_text(text):
    _parse_or_error(text)


@given(st.binary(max_size=200))
def test_parser_raises_only_dopesheet_error_on_arbitrary_bytes(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DopesheetWarning)
        with contextlib.suppress(DopesheetError):
            Dopesheet.from_csv(io.BytesIO(data))


@given(dopesheet_text(), st.data())
@settings(max_examples=120, deadline=None)
def test_stepping_equals_iteration_equals_random_access_equals_realize(text, data):
    ds = Dopesheet.from_text(text)
    names = list(ds.props)
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
    name = data.draw(st.sampled_from(list(ds.props)))
    kind = data.draw(st.sampled_from(("set", "set-hold", "follow")))
    if kind == "follow":
        tl.follow(name, data.draw(st.integers(0, 40)))
        return
    log = ds.props[name].space == "log"
    value = data.draw(st.floats(1e-3, 1e3) if log else st.floats(-1e3, 1e3))
    duration = data.draw(st.integers(0, 40))
    if kind == "set":
        tl.set(name, value, duration)
    else:
        rejoin = data.draw(st.none() | st.integers(0, 40))
        tl.set(name, value, duration, hold=data.draw(st.integers(0, 30)), rejoin=rejoin)


@given(dopesheet_text(), st.data())
@settings(max_examples=100, deadline=None, phases=NO_EXPLAIN)
def test_runtime_control_keeps_all_access_paths_equal(text, data):
    """Stepping == iteration == random access == realize == sampled values, with random
    set(), set(hold=, rejoin=) and follow() calls along the way; overrides end exactly on the
    schedule."""
    ds = Dopesheet.from_text(text)
    tl = Timeline(ds)
    names = list(ds.props)
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


@given(dopesheet_text())
@settings(max_examples=120, deadline=None)
def test_values_hit_keys_exactly_and_minjerk_stays_between_keys(text):
    ds = Dopesheet.from_text(text)
    df = realize(ds)
    for name, spec in ds.props.items():
        keys = ds.keyframes(name)
        col = df[name].to_numpy()
        for step, value in keys:
            assert col[step] == value
        for (s0, v0), (s1, v1) in itertools.pairwise(keys):
            seg = col[s0 : s1 + 1]
            lo, hi = min(v0, v1), max(v0, v1)
            if spec.interpolator == "step-end":
                assert np.all(seg[:-1] == v0)
            elif spec.interpolator == "minjerk":
                tol = 1e-12 * max(1.0, abs(lo), abs(hi))
                assert np.all(seg >= lo - tol) and np.all(seg <= hi + tol)
        assert np.all(col[: keys[0][0]] == keys[0][1])
        assert np.all(col[keys[-1][0] :] == keys[-1][1])


@given(dopesheet_text(), st.data())
@settings(max_examples=60, deadline=None)
def test_state_dict_round_trip_then_seek_gives_identical_future(text, data):
    ds = Dopesheet.from_text(text)
    tl = Timeline(ds)
    stop = data.draw(st.integers(0, len(ds) - 1))
    name = next(iter(ds.props))
    for state in tl:
        if state.step == stop // 2:
            value = 2.5 if ds.props[name].space == "log" else -7.0
            tl.set(name, value, 10)
        if state.step == stop:
            break
    saved = tl.state_dict()
    future = [tl.step() for _ in range(len(ds) - 1 - stop)]

    restored = Timeline(ds)
    restored.load_state_dict(saved)
    assert restored.state == tl[stop]
    assert [restored.step() for _ in range(len(ds) - 1 - stop)] == future

"""Properties over random dopesheets: the parser's contract and the timeline's consistency."""

from __future__ import annotations

import contextlib
import io
import itertools
import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mini.temporal import Dopesheet, DopesheetError, DopesheetWarning, Timeline, realize

from .strategies import csvish_text, dopesheet_text


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


@given(dopesheet_text(), st.data())
@settings(max_examples=80, deadline=None)
def test_runtime_sets_keep_all_access_paths_equal(text, data):
    ds = Dopesheet.from_text(text)
    tl = Timeline(ds)
    names = list(ds.specs)
    n_sets = data.draw(st.integers(1, 4))
    set_steps = sorted(
        data.draw(st.lists(st.integers(0, len(ds) - 1), min_size=n_sets, max_size=n_sets))
    )
    rows = []
    for state in tl:
        rows.append(list(state.props.values()))
        while set_steps and set_steps[0] == state.step:
            set_steps.pop(0)
            name = data.draw(st.sampled_from(names))
            log = ds.specs[name].space == "log"
            value = data.draw(st.floats(1e-3, 1e3) if log else st.floats(-1e3, 1e3))
            tl.set(name, value, data.draw(st.integers(0, 40)))
    table = realize(tl)[names].to_numpy()
    assert np.array_equal(np.array(rows), table)
    assert np.array_equal(np.array([list(tl[i].props.values()) for i in range(len(tl))]), table)


@given(dopesheet_text())
@settings(max_examples=120, deadline=None)
def test_values_hit_keys_exactly_and_minjerk_stays_between_keys(text):
    ds = Dopesheet.from_text(text)
    df = realize(ds)
    for name, spec in ds.specs.items():
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

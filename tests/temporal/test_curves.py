"""Curve evaluation: per-key interpolators, jump keys, overflow-safe interpolation, quintics."""

from __future__ import annotations

import itertools
import math
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mini.temporal import MINJERK, Dopesheet, PropSpec, Timeline, realize
from mini.temporal.curves import PropCurve, Steps, key_curves
from mini.temporal.overrides import Quintic

MAX = sys.float_info.max


def values(curve: PropCurve, lo: int, hi: int) -> np.ndarray:
    out = np.empty(hi - lo)
    curve.evaluate(Steps.range(lo, hi), out)
    return out


def test_each_segment_uses_the_interpolator_named_at_the_key_it_arrives_at():
    keys = [(0, 0.0), (10, 1.0), (20, 0.0), (30, 2.0)]
    curve = PropCurve(PropSpec("x"), keys, ["minjerk", "linear", "minjerk", "step-end"])
    x = values(curve, 0, 31)
    assert x[5] == 0.5 and x[3] == pytest.approx(0.3)  # linear warm-up into key 10
    assert x[12] == pytest.approx(1.0 - MINJERK.shape(np.array([0.2]))[0])  # minimum jerk out
    assert np.all(x[20:30] == 0.0) and x[30] == 2.0  # step-end into key 30
    assert [x[s] for s, _ in keys] == [v for _, v in keys]
    assert curve.kinematics(5) == pytest.approx((0.5, 0.1, 0.0))
    assert curve.kinematics(20)[1:] == (0.0, 0.0) and curve.kinematics(25) == (0.0, 0.0, 0.0)


def test_per_key_curves_in_log_space_and_the_column_default():
    spec = PropSpec("lr", "log", "linear")
    curve = PropCurve(spec, [(0, 1e-4), (10, 1e-2), (20, 1e-3)], ["linear", "linear", "cosine"])
    x = values(curve, 0, 21)
    assert x[5] == pytest.approx(1e-3)  # linear in log space: the geometric mean
    assert x[15] == pytest.approx(math.sqrt(1e-2 * 1e-3))  # cosine's midpoint is the middle too
    assert x[10] == 1e-2 and x[20] == 1e-3
    default = PropCurve(spec, [(0, 1e-4), (10, 1e-2)])
    assert default.interpolator_names == ["linear", "linear"]


def test_a_jump_key_arrives_at_one_value_and_leaves_from_another():
    keys = [(0, 1.0), (10, 1.0), (20, 1.0)]  # warm restarts: cosine down to 0.1, back to 1
    curve = PropCurve(PropSpec("lr"), keys, ["cosine"] * 3, [None, 0.1, 0.1])
    x = values(curve, 0, 21)
    expect = 0.1 + 0.9 * (1 + np.cos(np.pi * np.arange(10) / 10)) / 2
    assert np.allclose(x[0:10], expect, rtol=0, atol=1e-15)
    assert np.allclose(x[10:20], expect, rtol=0, atol=1e-15)
    assert x[10] == 1.0 and x[20] == 1.0
    assert curve.kinematics(5)[1] == pytest.approx(-0.9 * np.pi / 20)


def test_key_curves_read_the_cells_interpolators_and_jumps():
    plain = Dopesheet.from_text("STEP,a,b:log:step-end\n0,0,1\n10,1,\n20,0,2\n")
    ds = Dopesheet.from_text("STEP,a,b:log:step-end\n0,0,1\n10,1 linear,\n20,-1|0,2 cosine\n")
    assert key_curves(plain, "a") == (["minjerk"] * 3, [None] * 3)
    assert key_curves(ds, "a") == (["minjerk", "linear", "minjerk"], [None, None, -1.0])
    assert key_curves(ds, "b") == (["step-end", "cosine"], [None, None])
    df = realize(ds)
    assert df.loc[5, "a"] == 0.5 and df.loc[20, "a"] == 0.0 and df.loc[19, "a"] < -0.9
    assert df.loc[10, "b"] == pytest.approx(math.sqrt(2))


def test_a_jump_key_cell_evaluates_like_the_curve_built_by_hand():
    ds = Dopesheet.from_text("STEP,lr::cosine\n0,1\n10,0.1|1\n20,0.1\n")
    by_hand = PropCurve(
        PropSpec("lr", "linear", "cosine"), ds.keyframes("lr"), None, [None, 0.1, None]
    )
    assert np.array_equal(realize(ds)["lr"].to_numpy(), values(by_hand, 0, 21))


def test_override_takeover_follows_the_next_segments_own_interpolator():
    tl = Timeline(Dopesheet.from_text("STEP,x\n0,0\n100,1\n200,0 linear\n"))
    tl.seek(10)
    tl.set("x", 5.0, 20)  # holds 5 until the key at 100, then the linear segment takes over
    assert tl[100]["x"] == 5.0 and tl[150]["x"] == pytest.approx(2.5) and tl[200]["x"] == 0.0
    tl = Timeline(Dopesheet.from_text("STEP,x\n0,0\n100,1 step-end\n200,0\n"))
    tl.seek(10)
    tl.set("x", 5.0, 20)
    assert tl[99]["x"] == 5.0 and tl[100]["x"] == 1.0  # a step-end key applies its jump


@given(
    st.lists(st.floats(-MAX, MAX, allow_nan=False, allow_infinity=False), min_size=2, max_size=5),
    st.sampled_from(["minjerk", "linear", "cosine"]),
)
@settings(max_examples=300, deadline=None)
def test_keys_anywhere_in_the_float_range_are_hit_exactly_and_values_stay_finite(vals, interp):
    keys = [(7 * i, v) for i, v in enumerate(vals)]
    curve = PropCurve(PropSpec("x", "linear", interp), keys)
    x = values(curve, 0, keys[-1][0] + 3)
    assert np.all(np.isfinite(x))
    assert [x[s] for s, _ in keys] == vals
    for (s0, v0), (_, v1) in itertools.pairwise(keys):
        lo, hi = min(v0, v1), max(v0, v1)
        seg = x[s0 : s0 + 7]
        assert np.all(seg >= lo - 1e-12 * abs(lo)) and np.all(seg <= hi + 1e-12 * abs(hi))
    assert all(math.isfinite(v) for v in curve.kinematics(3)[:1])


def test_extreme_keys_of_the_issue():
    curve = PropCurve(PropSpec("x"), [(0, 1e308), (10, -1e308)])
    x = values(curve, 0, 11)
    assert x[0] == 1e308 and x[10] == -1e308 and np.all(np.isfinite(x)) and x[5] == 0.0
    tl = Timeline(Dopesheet.from_text("STEP,x\n0,1e308\n10,-1e308\n"))
    tl.seek(4)
    with pytest.raises(ValueError, match="rate of change"):  # 2e308 per segment overflows
        tl.set("x", 0.0, 5)
    tl.seek(0)  # at the key it is at rest: a move from there is fine
    tl.set("x", -1.7e308, 4)
    assert np.all(np.isfinite(realize(tl)["x"].to_numpy())) and tl[4]["x"] == -1.7e308


@given(
    st.floats(-1e6, 1e6),
    st.floats(-1e3, 1e3),
    st.floats(-10, 10),
    st.floats(-1e6, 1e6),
    st.integers(1, 10_000),
)
@settings(max_examples=300, deadline=None)
def test_quintic_boundary_conditions_for_random_start_states(x0, v0, a0, x1, duration):
    q = Quintic(x0, v0, a0, x1, duration)
    scale = max(1.0, abs(x0), abs(x1), abs(v0) * duration, abs(a0) * duration**2)
    start, end = q.kinematics(0), q.kinematics(duration)
    assert start == pytest.approx((x0, v0, a0), rel=1e-9, abs=1e-9 * scale)
    assert end[0] == pytest.approx(x1, rel=1e-9, abs=1e-9 * scale)
    assert end[1] == pytest.approx(0.0, abs=1e-9 * scale / duration)
    assert end[2] == pytest.approx(0.0, abs=1e-8 * scale / duration**2)
    u = np.array([0.0, duration / 2, float(duration)])
    assert q.values(u)[[0, 2]] == pytest.approx([x0, x1], rel=1e-9, abs=1e-9 * scale)
    assert q.values(u)[1] == pytest.approx(q.kinematics(duration / 2)[0], rel=1e-12, abs=1e-9)


def test_steps_samples_and_ranges_agree():
    curve = PropCurve(PropSpec("x", "log"), [(3, 1.0), (50, 1e-3), (90, 2.0)])
    full = values(curve, 0, 100)
    picks = np.array([0, 3, 4, 17, 49, 50, 51, 89, 90, 99])
    out = np.empty(len(picks))
    curve.evaluate(Steps.of(picks), out)
    assert np.array_equal(out, full[picks])

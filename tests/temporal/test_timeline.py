"""Timeline semantics: cursor, runtime control, reload, persistence and the interpolator registry."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mini.temporal import (
    MINJERK,
    Dopesheet,
    Interpolator,
    Timeline,
    get_interpolator,
    realize,
    register_interpolator,
)
from mini.temporal.overrides import Quintic

TEXT = (
    "STEP,PHASE,ACTION,a,b:log,c::step-end\n0,One,go,0,1,0\n100,Two,,10,100,1\n200,,stop,0,0.01,2\n"
)


def tl_of(text: str = TEXT) -> Timeline:
    return Timeline(Dopesheet.from_text(text))


def test_cursor_iteration_and_bounds():
    tl = tl_of()
    assert len(tl) == 201
    assert tl.state.step == 0 and tl.state.actions == ("go",)
    assert tl.step().step == 1
    assert [s.step for s in tl][:2] == [1, 2]  # iteration continues from the cursor
    assert tl.state.step == 200 and tl.state.actions == ("stop",)
    with pytest.raises(IndexError):
        tl.step()
    assert tl[-1].step == 200
    with pytest.raises(IndexError):
        tl[201]
    assert tl.seek(50).step == 50 and tl.state.step == 50


def test_timeline_accepts_a_path(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(TEXT)
    assert len(Timeline(path)) == 201


def test_quintic_from_rest_is_minimum_jerk_and_matches_boundary_state():
    u = np.arange(0, 51, dtype=float)
    q = Quintic(2.0, 0.0, 0.0, 5.0, 50)
    assert np.allclose(q.values(u), 2 + 3 * MINJERK.shape(u / 50), atol=1e-12)
    moving = Quintic(1.0, 0.3, -0.01, -4.0, 30)
    assert moving.kinematics(0) == pytest.approx((1.0, 0.3, -0.01))
    assert moving.kinematics(30) == pytest.approx((-4.0, 0.0, 0.0), abs=1e-12)


def test_set_keeps_value_velocity_and_acceleration_continuous():
    tl = tl_of()
    tl.seek(37)  # `a` is mid-transition: moving and accelerating
    before = tl.kinematics("a")
    assert abs(before[1]) > 0.01
    value_now = tl.state["a"]
    tl.set("a", -5.0, 40)
    assert tl.kinematics("a") == pytest.approx(before)
    assert tl.state["a"] == value_now == tl[37]["a"]  # the current step does not change
    # Discretely: the step-to-step change just after the set continues the one just before.
    x = np.array([tl[i]["a"] for i in range(30, 80)])
    d1 = np.diff(x)
    d2 = np.diff(d1)
    assert np.max(np.abs(d2)) < 0.05  # no kink (a kink would change d1 by ~|velocity|)
    assert tl[77]["a"] == -5.0  # arrives at the target after `duration` steps
    assert tl.kinematics("a", 77)[1:] == (0.0, 0.0)  # and at rest


def test_set_holds_until_next_key_then_schedule_takes_over_smoothly():
    tl = tl_of()
    tl.seek(10)
    tl.set("a", 3.0, 20)  # reaches 3 at step 30, holds until the key at 100
    assert [tl[i]["a"] for i in (30, 60, 99, 100)] == [3.0, 3.0, 3.0, 3.0]
    # From the key at 100 the segment to the key at 200 (value 0) starts from the held value.
    assert tl[150]["a"] == pytest.approx(1.5)
    assert tl[200]["a"] == 0.0


def test_set_on_step_props_resumes_at_the_key_and_after_last_key_lasts():
    tl = tl_of()
    tl.seek(10)
    tl.set("c", 7.0, 0)
    assert tl[11]["c"] == 7.0 and tl[99]["c"] == 7.0
    assert tl[100]["c"] == 1.0  # the dopesheet's key value applies exactly at its key
    tl.seek(200)
    tl.set("a", 4.0, 0)  # nothing after: holds (nothing to rejoin)


def test_set_in_log_space_and_errors():
    tl = tl_of()
    tl.seek(50)
    tl.set("b", 1e-3, 10)
    assert tl[60]["b"] == 1e-3
    assert all(tl[i]["b"] > 0 for i in range(50, 201))
    with pytest.raises(ValueError, match="log space"):
        tl.set("b", 0.0, 5)
    with pytest.raises(KeyError, match="no property 'nope'"):
        tl.set("nope", 1.0, 5)
    with pytest.raises(ValueError, match="duration"):
        tl.set("a", 1.0, -1)


def test_reload_adopts_edits_without_a_jump():
    tl = tl_of()
    tl.seek(120)
    before = [tl[i]["a"] for i in range(100, 121)]
    edited = Dopesheet.from_text(TEXT.replace("200,,stop,0,0.01,2", "200,,stop,8,0.01,2"))
    changed = tl.reload(edited)
    assert changed == ["a"]
    assert [tl[i]["a"] for i in range(100, 121)] == before  # the past keeps what it ran
    x = np.array([tl[i]["a"] for i in range(115, 201)])
    assert np.max(np.abs(np.diff(x, 2))) < 0.05  # smooth through the reload
    assert tl[200]["a"] == 8.0  # the edited key is hit exactly
    assert tl[150]["b"] == Timeline(edited)[150]["b"]  # unchanged props are untouched


def test_reload_with_new_phases_actions_and_props():
    tl = tl_of()
    tl.seek(50)
    text = "STEP,PHASE,ACTION,a,b:log,c::step-end,d\n0,One,go,0,1,0,5\n60,Mid,snap,,,,\n100,Two,,10,100,1,\n200,,stop,0,0.01,2,\n"
    tl.reload(Dopesheet.from_text(text))
    assert tl[60].phase == "Mid" and tl[60].actions == ("snap",)
    assert tl[50].phase == "One" and tl.state.step == 50
    assert tl[70]["d"] == 5.0
    with pytest.raises(ValueError, match="already at step"):
        tl.seek(150)
        tl.reload(Dopesheet.from_text("STEP,a\n0,1\n100,2\n"))


def test_state_dict_is_json_and_load_with_an_edited_dopesheet_applies_edits_after():
    tl = tl_of()
    for _ in range(60):
        tl.step()
    tl.set("a", 2.0, 50)
    saved = json.loads(json.dumps(tl.state_dict()))
    straight = [tl.step() for _ in range(140)]

    same = tl_of()
    assert same.load_state_dict(saved) == []
    assert [same.step() for _ in range(140)] == straight

    edited = tl_of(TEXT.replace("200,,stop,0,0.01,2", "200,,stop,8,0.01,2"))
    assert edited.load_state_dict(saved) == ["a"]
    assert edited.state == tl[60]  # the resume step itself ran under the saved schedule
    assert edited[61]["a"] == pytest.approx(straight[0]["a"], abs=0.05)  # continues smoothly
    assert edited[200]["a"] == 8.0  # the edit applies after the resume step
    x = np.array([edited[i]["a"] for i in range(55, 201)])
    assert np.max(np.abs(np.diff(x, 2))) < 0.05


def test_registry_accepts_a_user_interpolator():
    smoothstep = Interpolator("smoothstep-test", lambda t: t * t * (3 - 2 * t))
    register_interpolator(smoothstep, "ss-test")
    assert get_interpolator("ss-test") is smoothstep
    tl = Timeline(Dopesheet.from_text("STEP,x::ss-test\n0,0\n10,1\n"))
    assert tl[5]["x"] == pytest.approx(0.5)
    tl.seek(3)
    _, v, a = tl.kinematics("x")  # numerical derivatives for user interpolators
    assert v == pytest.approx(6 * 0.3 * 0.7 / 10, rel=1e-4)
    assert a == pytest.approx((6 - 12 * 0.3) / 100, rel=1e-3)
    with pytest.raises(ValueError, match="already registered"):
        register_interpolator(Interpolator("ss-test", lambda t: t))
    with pytest.raises(KeyError, match="unknown interpolator"):
        get_interpolator("nope")


def test_realize_of_a_timeline_includes_overrides():
    tl = tl_of()
    tl.seek(20)
    tl.set("a", 50.0, 10)
    df = realize(tl)
    assert df.loc[30, "a"] == 50.0
    assert realize(tl.dopesheet).loc[30, "a"] != 50.0
    part = realize(tl, 25, 35)
    assert part["STEP"].tolist() == list(range(25, 35))
    assert part["a"].tolist() == df.loc[25:34, "a"].tolist()

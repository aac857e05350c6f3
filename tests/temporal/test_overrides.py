"""Runtime overrides that rejoin the schedule: set(hold=, rejoin=), follow(), introspection."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mini.temporal import Dopesheet, Timeline, realize
from mini.temporal.overrides import override_kinematics

# An LR that decays to 3e-5 by the last key and a linear weight: the situation of the issue (a
# bump of the LR at step 1600 must not leave it there until the end).
TEXT = "STEP,lr:log,w\n0,1e-3,0\n1000,1e-3,1\n2000,3e-5,0\n"


def tl_of(text: str = TEXT) -> Timeline:
    return Timeline(Dopesheet.from_text(text))


def column(source, name: str) -> np.ndarray:
    return realize(source)[name].to_numpy()


def assert_c2_at(x: np.ndarray, j: int) -> None:
    """No kink and no jump in acceleration at step ``j``: the discrete jerk there is of the
    size it has nearby (a C1-only join would make it as large as the acceleration itself)."""
    jerk = np.abs(np.diff(x, 3))
    near = max(jerk[j - 12 : j - 4].max(), jerk[j + 4 : j + 12].max())
    assert jerk[j - 3 : j + 1].max() <= 3 * near + 1e-12


def test_hold_then_rejoin_ends_exactly_on_the_schedule():
    tl = tl_of()
    schedule = column(tl.dopesheet, "lr")
    tl.seek(1600)
    tl.set("lr", 3e-3, 50, hold=100, rejoin=200)  # 1600-1650 move, hold to 1750, blend to 1950
    run = column(tl, "lr")
    assert np.array_equal(run[:1601], schedule[:1601])  # the past and the current step
    assert run[1650] == run[1700] == run[1750] == 3e-3
    assert np.array_equal(run[1950:], schedule[1950:])  # bit for bit after the blend
    assert run[-1] == 3e-5  # the last key is reached after all
    assert not np.any(run[1751:1950] == schedule[1751:1950])  # the blend is a blend
    for junction in (1600, 1750, 1950):
        assert_c2_at(np.log(run), junction)


def test_default_rejoin_is_the_duration_and_hold_zero_rejoins_at_once():
    tl = tl_of()
    schedule = column(tl.dopesheet, "w")
    tl.seek(1200)
    tl.set("w", 5.0, 40, hold=0)
    run = column(tl, "w")
    assert run[1240] == 5.0
    assert np.array_equal(run[1280:], schedule[1280:]) and run[1279] != schedule[1279]
    assert tl.overrides["w"].releases == ((1240, 40),)


def test_rejoin_zero_returns_to_the_schedule_at_the_end_of_the_hold():
    tl = tl_of()
    schedule = column(tl.dopesheet, "w")
    tl.seek(1200)
    tl.set("w", 5.0, 10, hold=20, rejoin=0)
    run = column(tl, "w")
    assert np.all(run[1210:1230] == 5.0)
    assert np.array_equal(run[1230:], schedule[1230:])


def test_crossfade_is_c2_at_both_ends():
    """Kinematics of the blend just inside its ends match the held state and the schedule's."""
    tl = tl_of()
    tl.seek(1300)
    tl.set("w", 2.0, 30, hold=10, rejoin=400)  # blend 1340..1740 onto a moving schedule
    curve = tl._now.curves["w"]
    ov = tl.overrides["w"]
    start = override_kinematics(curve, ov, 1340 + 1e-7)
    assert start == pytest.approx((2.0, 0.0, 0.0), abs=1e-9)
    inside = override_kinematics(curve, ov, 1740 - 1e-7)
    assert inside == pytest.approx(curve.kinematics(1740), rel=1e-6, abs=1e-12)
    assert abs(curve.kinematics(1740)[1]) > 1e-4  # the schedule is moving there


def test_keys_are_hit_exactly_when_no_override_is_active():
    tl = tl_of()
    tl.seek(100)
    tl.set("w", 0.5, 10, hold=5, rejoin=10)  # over by step 125, long before the keys
    run = realize(tl)
    assert run.loc[1000, "w"] == 1.0 and run.loc[2000, "w"] == 0.0
    assert run.loc[1000, "lr"] == 1e-3 and run.loc[2000, "lr"] == 3e-5


def test_follow_returns_from_mid_transition_and_from_a_hold():
    tl = tl_of()
    schedule = column(tl.dopesheet, "lr")
    tl.seek(1500)
    tl.set("lr", 1e-2, 100)  # hold=None: would hold 1e-2 to the end (no key after 2000)
    tl.seek(1550)  # mid-transition
    before = column(tl, "lr")
    assert tl.overridden("lr")
    tl.follow("lr", 100)
    run = column(tl, "lr")
    assert np.array_equal(run[:1551], before[:1551])  # the current step keeps its value
    assert np.array_equal(run[1650:], schedule[1650:])
    assert not tl.overridden("lr", 1650) and tl.overridden("lr", 1649)
    assert_c2_at(np.log(run), 1550)
    assert_c2_at(np.log(run), 1650)

    tl.seek(1700)
    tl.set("w", 3.0, 0)
    tl.seek(1800)  # held
    tl.follow("w", 0)
    w = column(tl, "w")
    assert w[1800] == 3.0 and np.array_equal(w[1801:], column(tl.dopesheet, "w")[1801:])


def test_follow_without_an_override_is_a_no_op_and_checks_its_arguments():
    tl = tl_of()
    tl.seek(10)
    tl.follow("w", 50)
    assert tl.overrides == {} and not tl.overridden("w")
    assert np.array_equal(column(tl, "w"), column(tl.dopesheet, "w"))
    with pytest.raises(ValueError, match="duration for 'w'"):
        tl.follow("w", -1)
    with pytest.raises(KeyError, match="did you mean 'w'"):
        tl.follow("ww", 5)


def test_follow_nests_with_a_blend_under_way():
    tl = tl_of()
    schedule = column(tl.dopesheet, "w")
    tl.seek(1100)
    tl.set("w", 4.0, 10, hold=0, rejoin=500)  # blend 1110..1610
    tl.seek(1300)
    before = column(tl, "w")
    tl.follow("w", 100)  # faster: exact from 1400
    run = column(tl, "w")
    assert np.array_equal(run[:1301], before[:1301])
    assert np.array_equal(run[1400:], schedule[1400:]) and run[1399] != schedule[1399]
    assert tl.overrides["w"].releases == ((1110, 500), (1300, 100))


def test_introspection_for_a_ui():
    tl = tl_of()
    tl.seek(1200)
    assert tl.overrides == {}
    tl.set("lr", 2e-3, 20, hold=30, rejoin=40)
    assert set(tl.overrides) == {"lr"} and tl.overridden("lr") and not tl.overridden("w")
    assert [tl.overridden("lr", s) for s in (1199, 1200, 1289, 1290)] == [False, True, True, False]
    ov = tl.overrides["lr"]
    assert (ov.start, ov.end, ov.hold, ov.target_value) == (1200, 1220, 30, 2e-3)


def test_set_rejects_bad_values_and_durations_naming_the_property():
    tl = tl_of()
    tl.seek(5)
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match=r"cannot set 'w' to .*finite"):
            tl.set("w", bad, 10)
    with pytest.raises(TypeError, match="'w'"):
        tl.set("w", "0.5", 10)
    for bad in (float("nan"), float("inf"), -3, 2.5):
        with pytest.raises(ValueError, match="duration for 'w'"):
            tl.set("w", 1.0, bad)
        with pytest.raises(ValueError, match="hold for 'w'"):
            tl.set("w", 1.0, 5, hold=bad)
        with pytest.raises(ValueError, match="rejoin for 'w'"):
            tl.set("w", 1.0, 5, hold=1, rejoin=bad)
    with pytest.raises(ValueError, match="needs hold=N"):
        tl.set("w", 1.0, 5, rejoin=3)
    with pytest.raises(ValueError, match="log space"):
        tl.set("lr", -1e-3, 5)
    with pytest.raises(KeyError, match=r"no property 'learning-rate'.*lr, w"):
        tl.set("learning-rate", 1e-3, 5)
    assert tl.overrides == {}  # nothing was half-applied
    tl.set("w", 2.0, 5.0)  # a whole float is a whole number of steps
    assert tl[10]["w"] == 2.0


def test_overrides_survive_checkpoints_and_reload():
    tl = tl_of()
    tl.seek(1500)
    tl.set("lr", 2e-3, 30, hold=20, rejoin=60)
    tl.seek(1520)
    tl.set("w", 9.0, 10)
    tl.follow("w", 40)
    saved = json.loads(json.dumps(tl.state_dict()))
    future = [tl.step() for _ in range(300)]

    restored = tl_of()
    assert restored.load_state_dict(saved) == []
    assert restored.state_dict() == saved
    assert [restored.step() for _ in range(300)] == future

    edited = tl_of(TEXT.replace("2000,3e-5,0", "2000,3e-5,0.5"))  # only `w` changes
    changed = edited.load_state_dict(saved)
    assert changed == ["w"]
    assert np.array_equal(column(edited, "lr"), column(tl, "lr"))  # lr's override carried over


def test_checkpoints_written_before_hold_existed_still_load():
    tl = tl_of()
    tl.seek(30)
    tl.set("w", 1.0, 10)
    saved = tl.state_dict()
    for era in saved["eras"]:
        for ovs in era["overrides"].values():
            for o in ovs:
                del o["hold"], o["releases"]
    restored = tl_of()
    restored.load_state_dict(saved)
    assert np.array_equal(column(restored, "w"), column(tl, "w"))


def test_set_right_after_reload_starts_from_the_state_that_ran():
    tl = tl_of()
    tl.seek(1500)
    tl.reload(Dopesheet.from_text(TEXT.replace("1000,1e-3,1", "1000,1e-3,3")))
    value, velocity, _ = tl.kinematics("w")  # the cursor still ran under the old schedule
    assert value == pytest.approx(tl.state["w"])
    tl.set("w", 0.0, 50, hold=0, rejoin=50)
    x = column(tl, "w")
    assert_c2_at(x, 1500)
    assert x[1501] - x[1500] == pytest.approx(velocity, abs=1e-4)

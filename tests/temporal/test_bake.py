"""``bake``: a steered timeline written down as a dopesheet that realizes to what the run had."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mini.temporal import Dopesheet, Timeline, realize
from mini.temporal.bake import bake

# w holds still on 0..300 and 600..999 and moves on 300..600; lr (log) decays throughout
SHEET = (
    "STEP,PHASE,ACTION,lr:log,w,z::step-end\n"
    "0,Warm,,1e-2,1,0\n"
    "300,Main,kick,,1,1\n"
    "600,,,,3,\n"
    "999,,,1e-4,,2\n"
)


def walk(tl: Timeline, to: int) -> None:
    while tl.state.step < to:
        tl.step()


def roundtrip(ds: Dopesheet) -> Dopesheet:
    return Dopesheet.from_text(ds.as_df().to_csv(index=False), source="baked.csv")


def test_an_untouched_timeline_bakes_to_its_own_keys():
    ds = Dopesheet.from_text(SHEET)
    baked = bake(Timeline(ds))
    assert baked == ds
    assert realize(roundtrip(baked)).equals(realize(ds))


def test_changes_made_at_rest_are_reproduced_exactly():
    tl = Timeline(Dopesheet.from_text(SHEET))
    walk(tl, 100)
    tl.set("w", 0.25, 50)  # w holds still here: a plain minimum-jerk move, held until key 300
    walk(tl, 300)
    tl.set("z", 5.0, 0)  # a step-end column moves at once
    walk(tl, 700)
    tl.set("w", 2.0, 40, hold=30, rejoin=60)  # rejoins the schedule where it holds still
    walk(tl, 720)
    tl.set("z", 7.0, 0)
    walk(tl, 800)
    tl.follow("z", 0)
    baked = roundtrip(bake(tl, [(120, "refresh"), (300, "refresh")]))
    ran = tl.values()
    again = Timeline(baked).values()
    for name in ("w", "z"):
        assert np.array_equal(again[name], ran[name]), name
    np.testing.assert_allclose(again["lr"], ran["lr"], rtol=1e-13)  # untouched, log space
    # the run's phases and dopesheet actions stay; fired actions follow the step's own
    assert baked.actions == [(120, "refresh"), (300, "kick"), (300, "refresh")]
    assert [(p.name, p.start) for p in baked.phases] == [("Warm", 0), ("Main", 300)]
    assert baked.n_steps == 1000


def test_an_adopted_edit_is_baked_into_the_keys():
    tl = Timeline(Dopesheet.from_text(SHEET))
    walk(tl, 150)
    tl.reload(Dopesheet.from_text(SHEET.replace("300,Main,kick,,1,1", "300,Main,kick,,2,1")))
    walk(tl, 400)
    baked = roundtrip(bake(tl))
    assert np.array_equal(Timeline(baked).values()["w"], tl.values()["w"])
    assert baked.keyframes("w")[0] == (0, 1.0)


def test_the_saved_dopesheet_realizes_to_what_a_stepping_loop_saw():
    tl = Timeline(Dopesheet.from_text(SHEET))
    seen = []
    for state in tl:
        seen.append(state.props["w"])
        if state.step == 50:
            tl.set("w", 0.0, 100)
        if state.step == 650:
            tl.set("w", 4.0, 80)
    baked = roundtrip(bake(tl))
    assert realize(baked)["w"].tolist() == seen


@settings(max_examples=100, deadline=None)
@given(
    s=st.integers(1, 598),
    d=st.integers(1, 400),
    value=st.floats(-5, 5, allow_nan=False),
)
def test_a_change_made_while_moving_stays_within_the_documented_bound(s, d, value):
    """Keys where the run was are exact; in between a rest-to-rest segment replaces (a) the
    part of a schedule segment (change Δ) the run followed before the change — off by at most
    0.2282·|Δ| — and (b) a transition that started moving at (v0, a0) — off by at most
    0.1976·|v0|·d + 0.0173·|a0|·d²."""
    tl = Timeline(Dopesheet.from_text("STEP,w\n0,0\n600,2\n999,2\n"))
    walk(tl, s)
    _, v0, a0 = tl.kinematics("w")
    tl.set("w", value, d)
    baked = bake(tl)
    err = np.abs(Timeline(baked).values()["w"] - tl.values()["w"])
    bound = max(0.2282 * 2.0, 0.1976 * abs(v0) * d + 0.0173 * abs(a0) * d * d) + 1e-9
    assert err.max() <= bound
    assert err[s] == 0.0 and err[min(s + d, 999)] == 0.0  # baked keys are exact

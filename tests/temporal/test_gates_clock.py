"""The gated timeline's two clocks on synthetic metric streams: holds, max, advances with a
blend, early stopping, resume mid-hold / mid-window, the as-run sheet, and ungated sheets."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mini.temporal import Dopesheet, Timeline, realize
from mini.temporal.gated import GatedTimeline, GateMetricError

SHEET = """STEP,PHASE,ACTION,x,lr:log,GATE
0,A,,0,1e-3,
10,B,go,1,,{hold}
20,,,1,,
30,C,,3,1e-4,{when}
40,,end,0,,
"""

Stream = Callable[[int, int], dict[str, float]]  # (training step, schedule step) -> metrics


def run(sheet: str, stream: Stream, **kw) -> tuple[GatedTimeline, list]:
    tl = GatedTimeline(Dopesheet.from_text(sheet), **kw)
    states = []
    for s in tl:
        states.append(s)
        tl.observe(s.step, stream(s.step, s.schedule_step))
    return tl, states


def sheet(hold: str = "", when: str = "") -> str:
    return SHEET.format(hold=hold, when=when)


def test_hold_lasts_exactly_until_the_condition_and_shifts_later_keys():
    tl, states = run(
        sheet("until loss < 0.5 max 20"), lambda t, s: {"loss": 1.0 if t < 15 else 0.4}
    )
    plain = list(Timeline(Dopesheet.from_text(sheet())))
    held = [s.step for s in states if s.schedule_step == 10]
    assert held == [10, 11, 12, 13, 14, 15]  # the condition holds at 15: step 16 moves on
    assert [s.props for s in states[10:16]] == [plain[10].props] * 6  # every property frozen
    assert [s.actions for s in states[10:16]] == [("go",), (), (), (), (), ()]  # fires once
    for s in states[16:]:  # later keys shifted by the 5 held steps, bit for bit
        assert s.schedule_step == s.step - 5 and s.props == plain[s.step - 5].props
    assert len(states) == len(plain) + 5 and states[-1].actions == ("end",)
    (o,) = tl.openings
    assert (o.kind, o.reason, o.held, o.step, o.label) == ("until", "condition", 5, 15, "B")


def test_max_ends_a_hold_and_says_so(caplog):
    tl, states = run(sheet("until loss < 0.5 max 7"), lambda t, s: {"loss": 1.0})
    assert [s.step for s in states if s.schedule_step == 10] == list(range(10, 18))
    assert tl.openings[0].reason == "max" and tl.openings[0].held == 7
    assert "gave up after holding 7 steps" in caplog.text


def test_min_holds_at_least_min_steps():
    _, states = run(sheet("until loss < 0.5 max 20 min 3"), lambda t, s: {"loss": 0.1})
    assert [s.step for s in states if s.schedule_step == 10] == [10, 11, 12, 13]


def test_a_met_condition_does_not_hold_and_the_run_matches_the_plain_sheet():
    _, states = run(sheet("until loss < 0.5 max 20"), lambda t, s: {"loss": 0.1})
    plain = list(Timeline(Dopesheet.from_text(sheet())))
    assert [(s.step, s.props, s.actions, s.phase) for s in states] == [
        (p.step, p.props, p.actions, p.phase) for p in plain
    ]


def test_when_moves_on_with_a_blend_of_bounded_velocity():
    tl, states = run(
        sheet(when="when val < 1 blend 4"), lambda t, s: {"val": 0.5 if t >= 23 else 2}
    )
    o = tl.openings[0]
    assert (o.kind, o.step, o.skipped) == ("when", 23, 6)
    nxt = states[24]
    assert nxt.schedule_step == 30 and nxt.phase == "C" and nxt.is_phase_start
    x = np.array([s.props["x"] for s in states])
    plain = realize(Dopesheet.from_text(sheet()))["x"].to_numpy()
    # no jump: the first blended step continues the path it was on
    assert x[24] == plain[24]
    # velocity bounded by the schedule's own plus the gap spread by min-jerk over the blend
    bound = np.abs(np.diff(plain)).max() + abs(plain[30] - plain[24]) * 1.875 / 4 + 1e-12
    assert np.abs(np.diff(x)).max() <= bound
    assert np.abs(np.diff(x)[23:30]).max() < abs(plain[30] - x[23])  # no step jumps the gap
    assert [s.schedule_step for s in states[24:]] == list(range(30, 41))
    assert states[28].props == Timeline(Dopesheet.from_text(sheet()))[34].props  # blend over


def test_when_on_the_last_row_stops_the_run():
    text = "STEP,x,GATE\n0,0,\n100,1,when q plateau 5 max\n"
    tl, states = run(text, lambda t, s: {"q": min(t, 10)})
    assert states[-1].step == 15 and len(tl) == 16  # no improvement over 10..15
    assert tl.openings[0].kind == "stop"


def test_a_metric_never_logged_stops_with_its_name():
    with pytest.raises(GateMetricError, match=r"<text>:3:6: .*'loss'.*never logged"):
        run(sheet("until loss < 0.5 max 4"), lambda t, s: {"other": 1.0})


def test_holding_without_observations_is_an_error_not_a_silent_wait():
    tl = GatedTimeline(Dopesheet.from_text(sheet("until loss < 0.5 max 4")))
    with pytest.raises(RuntimeError, match="GateHandler"):
        for _ in tl:
            pass


def test_custom_condition_sees_the_run():
    seen = []

    def ready(ctx):
        seen.append((ctx.step, ctx.schedule_step))
        return ctx.step >= 12

    _, states = run(sheet("until ready() max 50"), lambda t, s: {}, conditions={"ready": ready})
    assert [s.step for s in states if s.schedule_step == 10] == [10, 11, 12]
    assert (12, 10) in seen
    with pytest.raises(KeyError, match="ready"):
        GatedTimeline(Dopesheet.from_text(sheet("until ready() max 50")))


def _stream(t: int, s: int) -> dict[str, float]:
    out = {"loss": 1.0 / (1 + t)}
    if t % 3 == 0:
        out["q"] = round(np.sin(t / 4), 2)
    return out


GATED = sheet("until loss < 0.06 max 30", "when q stable 6 delta 0.3 blend 3")


@pytest.mark.parametrize("cut", [5, 12, 14, 16, 22, 25, 27])
def test_resume_mid_hold_and_mid_window_is_bit_identical(cut):
    _, full = run(GATED, _stream)
    tl = GatedTimeline(Dopesheet.from_text(GATED))
    for s in tl:
        tl.observe(s.step, _stream(s.step, s.schedule_step))
        if s.step == cut:
            break
    saved = json.loads(json.dumps(tl.state_dict()))  # as a checkpoint stores it
    fresh = GatedTimeline(Dopesheet.from_text(GATED))
    fresh.load_state_dict(saved)
    resumed = full[: cut + 1]
    while len(fresh) > fresh.state.step + 1:
        s = fresh.step()
        resumed.append(s)
        fresh.observe(s.step, _stream(s.step, s.schedule_step))
    assert resumed == full
    assert any(s.schedule_step == 10 and s.step > 10 for s in full)  # it did hold


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 25), st.integers(1, 30), st.integers(0, 40), st.integers(0, 6),
    st.sampled_from(["", "end"]),
)  # fmt: skip
def test_the_as_run_sheet_replays_bit_for_bit(open_at, max_hold, jump_at, blend, action):
    text = (
        "STEP,PHASE,ACTION,x,lr:log,z::step-end,w::cosine,GATE\n"
        "0,A,,0,1e-3,1,2,\n"
        f"10,B,go,1,,2,,until loss < 0.5 max {max_hold}\n"
        "20,,,1,,,5|1 linear,\n"
        f"30,C,,3,1e-4,3,,when val < 1 blend {blend}\n"
        f"40,,{action},0,,,0,\n"
    )

    def stream(t, s):
        return {"loss": 1.0 if t < open_at else 0.1, "val": 0.5 if t >= jump_at else 2.0}

    tl, states = run(text, stream)
    replay = realize(tl.as_run())
    assert len(replay) == len(states)
    for name in ("x", "lr", "z", "w"):
        assert np.array_equal(replay[name].to_numpy(), [s.props[name] for s in states]), name
    assert list(replay["PHASE"].astype(str)) == [s.phase or "" for s in states]
    fired = [";".join(s.actions) for s in states]
    assert list(replay["ACTION"].astype(str)) == fired
    assert tl.as_run().gates == ()


def test_a_sheet_without_gates_plays_as_before():
    ds = Dopesheet.from_text(sheet())
    gated, plain = list(GatedTimeline(ds)), list(Timeline(ds))
    assert gated == plain
    assert all(s.schedule_step == s.step for s in plain)


@pytest.mark.parametrize("cut", [11, 14, 25])
def test_a_fault_checkpoint_resumes_the_step_that_failed(cut):
    """A fault checkpoint is taken after stepping to ``cut`` but before its metrics, and is
    saved as the state after ``cut - 1``: resuming runs ``cut`` again, identically."""
    _, full = run(GATED, _stream)
    tl = GatedTimeline(Dopesheet.from_text(GATED))
    for s in tl:
        if s.step == cut:
            break
        tl.observe(s.step, _stream(s.step, s.schedule_step))
    saved = json.loads(json.dumps(tl.state_dict() | {"step": cut - 1}))
    fresh = GatedTimeline(Dopesheet.from_text(GATED))
    fresh.load_state_dict(saved)
    assert fresh.state == full[cut - 1]
    resumed = full[:cut]
    while len(fresh) > fresh.state.step + 1:
        s = fresh.step()
        resumed.append(s)
        fresh.observe(s.step, _stream(s.step, s.schedule_step))
    assert resumed == full

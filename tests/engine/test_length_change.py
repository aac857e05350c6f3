"""Resuming into a schedule of another length (or an edited one) with on_length_change="adopt":
the blend into the new schedule never leaves the range of the keys around each step."""

from __future__ import annotations

import bisect

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mini.temporal import Dopesheet, Timeline
from mini.training.engine import ScheduleEngine
from mini.training.length_change import already_fired, check_policy


def key_range(ds: Dopesheet, t: int) -> tuple[float, float]:
    """The values of the keys of ``x`` at or before ``t`` and after it (one of each)."""
    keys = ds.keyframes("x")
    steps = [s for s, _ in keys]
    i = bisect.bisect_right(steps, min(t, ds.last_step)) - 1
    around = [keys[j][1] for j in (i, i + 1) if 0 <= j < len(keys)]
    return min(around), max(around)


def sheet(steps: list[int], values: list[float], space: str) -> Dopesheet:
    rows = "\n".join(f"{s},{v!r}" for s, v in zip(steps, values, strict=True))
    return Dopesheet.from_text(f"STEP,x:{space}\n{rows}\n", source="s.csv")


def resume(old: Dopesheet, new: Dopesheet, at: int) -> list[tuple[int, float]]:
    """Run ``old`` to step ``at``, checkpoint, resume with ``new``: the values after ``at``."""
    before = Timeline(old)
    before.seek(at)
    saved = before.state_dict()
    engine = ScheduleEngine(Timeline(new))
    engine.resume_timeline(saved, "adopt")
    tl = engine.timeline
    out = []
    while tl.state.step + 1 < len(tl):
        state = tl.step()
        engine.enter(state)
        out.append((state.step, state.props["x"]))
    return out


@st.composite
def cases(draw):
    n_keys = draw(st.integers(2, 4))
    space = draw(st.sampled_from(["linear", "log"]))
    last = draw(st.integers(6, 40))
    inner = sorted(
        draw(st.sets(st.integers(1, last - 1), min_size=n_keys - 2, max_size=n_keys - 2))
    )
    steps = [0, *inner, last]
    values = [draw(st.floats(1e-4, 1.0)) for _ in steps]
    old = sheet(steps, values, space)
    if draw(st.booleans()):  # the run got longer or shorter: the same keys, rescaled
        new = old.scaled(draw(st.integers(last + 1, 3 * last)))
    else:  # an edited CSV: other values at the same steps
        new = sheet(steps, [draw(st.floats(1e-4, 1.0)) for _ in steps], space)
    at = draw(st.integers(0, min(old.last_step, new.last_step) - 1))
    return old, new, at


@settings(max_examples=60, deadline=None)
@given(case=cases())
def test_the_blend_stays_within_the_keys_of_the_old_and_new_schedules(case):
    old, new, at = case
    for step, value in resume(old, new, at):
        lo_old, hi_old = key_range(old, step)
        lo_new, hi_new = key_range(new, step)
        lo, hi = min(lo_old, lo_new), max(hi_old, hi_new)
        assert lo * (1 - 1e-12) <= value <= hi * (1 + 1e-12), (step, value, lo, hi)


def test_a_fast_fall_into_a_longer_schedule_would_overshoot_without_the_bounds():
    old = sheet([0, 100], [1e-2, 1e-4], "log")
    new = old.scaled(301)
    raw = Timeline(old)
    raw.seek(50)
    saved = raw.state_dict()
    plain = Timeline(new)
    plain.load_state_dict(saved)  # the Timeline's own smooth reload, unbounded
    lows = [plain.step().props["x"] for _ in range(len(plain) - 51)]
    bounded = [v for _, v in resume(old, new, 50)]
    assert min(lows) < 1e-5  # the unbounded blend falls far below every key (1e-2, 1e-4)
    assert min(bounded) >= 1e-4 * (1 - 1e-12)


def test_an_action_that_fired_is_not_fired_again_where_the_new_schedule_moved_it():
    old = Dopesheet.from_text("STEP,ACTION,x\n0,,1\n6,freeze,\n11,snap,2\n")
    new = old.scaled(20)  # freeze moves to 10, snap to 19
    assert already_fired([(6, "freeze")], new, 8) == {"freeze": 1}
    assert already_fired([(6, "freeze")], old, 8) == {}
    assert already_fired([(0, "snap"), (6, "snap")], Dopesheet.from_text(
        "STEP,ACTION,x\n0,snap,1\n6,,\n19,snap,2\n"), 8) == {"snap": 1}  # fmt: skip


def test_the_policy_is_checked():
    with pytest.raises(ValueError, match="on_length_change must be one of 'adopt', 'keep'"):
        check_policy("rescale")


def test_a_resume_just_before_a_key_stays_within_the_keys_until_the_blend_ends():
    """Found by hypothesis: resumed at step 6 of keys 0/5/11 rescaled to 0/7/15, the timeline
    blends from step 7 (a key) to the key at 15, and the bounds ended at 7: it dipped to 0.48."""
    old = sheet([0, 5, 11], [1.0, 1.0, 0.5], "linear")
    values = [v for _, v in resume(old, old.scaled(16), 6)]
    assert min(values) >= 0.5 and max(values) <= 1.0

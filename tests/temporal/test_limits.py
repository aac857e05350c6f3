"""Huge schedules and bad arguments: clear errors, no giant allocations."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from mini.temporal import Dopesheet, ScheduleTooLargeError, Timeline, realize
from mini.temporal.plot import plot_timeline, sample_steps

HUGE = "STEP,PHASE,ACTION,lr:log,w::step-end\n0,Warm,go,1e-3,0\n1000,Main,,1e-2,1\n1000000000000,,end,1e-5,2\n"


def peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_trillion_step_timeline_steps_and_seeks_near_the_end_in_small_memory():
    tl = Timeline(Dopesheet.from_text(HUGE))
    assert len(tl) == 10**12 + 1

    def walk() -> None:
        tl.seek(10**12 - 3)
        for _ in range(3):
            tl.step()
        assert tl.state.step == 10**12 and tl.state["lr"] == 1e-5 and tl.state.actions == ("end",)
        assert tl[10**12 - 10**6]["w"] == 1.0 and tl[500]["lr"] > 1e-3

    assert peak_bytes(walk) < 20 * 2**20
    with pytest.raises(IndexError, match="last step"):
        tl.step()
    tl.seek(10**12 - 200)
    tl.set("lr", 1e-4, 100, hold=10, rejoin=50)  # runtime control near the end is fine too
    assert tl.values(10**12 - 90, 10**12 - 89)["lr"][0] == 1e-4
    assert tl.values(10**12 - 40, 10**12 + 1)["lr"][-1] == 1e-5


def test_realize_refuses_a_schedule_too_large_for_memory_and_offers_windows():
    ds = Dopesheet.from_text(HUGE)
    with pytest.raises(ScheduleTooLargeError, match=r"1,000,000,000,001 steps .* GiB.*start/stop"):
        realize(ds)
    part = realize(ds, 10**12 - 5, 10**12 + 1)
    assert part["STEP"].tolist() == list(range(10**12 - 5, 10**12 + 1))
    assert part["PHASE"].tolist() == ["Main"] * 6 and part["ACTION"].iloc[-1] == "end"
    with pytest.raises(ScheduleTooLargeError):
        Timeline(ds).values()


def test_plot_samples_a_huge_schedule_and_keeps_its_keys_exact():
    ds = Dopesheet.from_text(HUGE)
    steps = sample_steps(ds, max_points=500)
    assert len(steps) < 520 and {0, 999, 1000, 10**12} <= set(steps.tolist())
    fig = plot_timeline(ds, max_points=500)
    lines = {ln.get_label(): ln for ax in fig.axes for ln in ax.get_lines()}
    x, y = (np.asarray(a) for a in lines["lr (log)"].get_data())
    for step, value in ds.keyframes("lr"):
        assert y[np.searchsorted(x, step)] == value
    x, y = (np.asarray(a) for a in lines["w"].get_data())
    assert y[np.searchsorted(x, 999)] == 0.0 and y[np.searchsorted(x, 1000)] == 1.0  # a sharp jump


def test_plot_of_a_timeline_shows_its_overrides():
    tl = Timeline(Dopesheet.from_text("STEP,x\n0,0\n100,1\n"))
    tl.seek(10)
    tl.set("x", 5.0, 10, hold=20, rejoin=10)
    fig = plot_timeline(tl)
    x, y = (np.asarray(a) for a in fig.axes[0].get_lines()[0].get_data())
    assert y[np.searchsorted(x, 25)] == 5.0 and y[-1] == 1.0


def test_bad_steps_and_ranges_get_clear_errors():
    ds = Dopesheet.from_text("STEP,x\n0,0\n10,1\n")
    tl = Timeline(ds)
    for bad, kind in ((True, "bool"), (1.5, "float"), ("3", "str")):
        with pytest.raises(TypeError, match=f"a step is a whole number \\(int\\), not {kind}"):
            tl[bad]
    with pytest.raises(TypeError, match=r"values\(a, b\)"):
        tl[2:5]
    assert tl[np.int64(3)].step == 3
    with pytest.raises(ValueError, match=r"realize\(start=0, stop=-5\): need 0 <= start <= stop"):
        realize(ds, 0, -5)
    with pytest.raises(ValueError, match="need 0 <= start <= stop <= 11"):
        realize(ds, 5, 2)
    with pytest.raises(ValueError, match="<= 11"):
        realize(ds, 0, 12)
    with pytest.raises(TypeError, match="start must be a whole step"):
        realize(ds, 0.5)
    with pytest.raises(ValueError, match=r"values\(3, 1\)"):
        tl.values(3, 1)
    with pytest.raises(IndexError, match=r"0\.\.10"):
        tl.values_at([0, 11])
    with pytest.raises(TypeError, match="whole numbers"):
        tl.values_at([0.5])
    with pytest.raises(TypeError, match="not float"):
        tl.seek(2.0)


def test_unknown_property_names_get_did_you_mean():
    tl = Timeline(Dopesheet.from_text("STEP,lr,loss-recon\n0,1,1\n"))
    with pytest.raises(KeyError) as err:
        tl.state["loss_recon"]
    assert str(err.value) == (
        "the dopesheet has no property 'loss_recon'; did you mean 'loss-recon'? "
        "(its properties: lr, loss-recon)"
    )
    with pytest.raises(KeyError, match=r"no property 'learning-rate' .*its properties: lr, loss"):
        tl.state["learning-rate"]
    with pytest.raises(KeyError, match="did you mean 'lr'"):
        tl.set("lr_", 1.0, 3)
    with pytest.raises(KeyError, match="did you mean 'lr'"):
        tl.overridden("Lr")

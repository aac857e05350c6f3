"""How the adapters read a dopesheet path: the run's length resolves ``ep`` and ``%`` steps."""

from __future__ import annotations

import pytest

from mini.adapters import read_dopesheet, to_timeline
from mini.temporal import Dopesheet, DopesheetError, Timeline

CSV = "STEP,lr\n0,0.1\n9,0.01\n"


def test_the_runs_length_resolves_epochs_and_shares_and_unknown_lengths_are_left_out(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("STEP,lr\n0,0.1\n2ep,0.05\n100%,0.01\n")
    ds = read_dopesheet(path, steps_per_epoch=30, total_steps=300)
    assert [r.step for r in ds.rows] == [0, 60, 299]
    with pytest.raises(DopesheetError, match="steps_per_epoch"):
        read_dopesheet(path, steps_per_epoch=float("inf"), total_steps=300)  # left out


def test_to_timeline_keeps_a_timeline_and_wraps_a_dopesheet():
    ds = Dopesheet.from_text(CSV)
    tl = Timeline(ds)
    tl.seek(4)
    assert to_timeline(tl) is tl and tl.state.step == 4
    assert to_timeline(ds).dopesheet is ds
    with pytest.raises(TypeError, match="Timeline, a Dopesheet or a path"):
        to_timeline(3.5)  # type: ignore[arg-type]

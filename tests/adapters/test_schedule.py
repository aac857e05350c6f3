"""How the adapters read a dopesheet path: the run's length goes to the parser only if it
takes it, so the adapters work before and after time units (``2ep``, ``50%``) are parsed."""

from __future__ import annotations

import pytest

from mini.adapters import parser_time_units, read_dopesheet, to_timeline
from mini.temporal import Dopesheet, Timeline

CSV = "STEP,lr\n0,0.1\n9,0.01\n"


def test_passes_only_the_lengths_the_parser_accepts(tmp_path, monkeypatch):
    path = tmp_path / "s.csv"
    path.write_text(CSV)
    calls: list[dict] = []
    original = Dopesheet.from_csv.__func__

    def from_csv(cls, path_or_file, *, steps_per_epoch=None):
        calls.append({"steps_per_epoch": steps_per_epoch})
        return original(cls, path_or_file)

    monkeypatch.setattr(Dopesheet, "from_csv", classmethod(from_csv))
    assert parser_time_units() == ("steps_per_epoch",)
    ds = read_dopesheet(path, steps_per_epoch=30, total_steps=300)
    assert calls == [{"steps_per_epoch": 30}] and ds.n_steps == 10
    read_dopesheet(path, steps_per_epoch=float("inf"))  # unknown lengths are left out
    assert calls[-1] == {"steps_per_epoch": None}


def test_without_time_units_the_path_is_read_as_it_is(tmp_path, monkeypatch):
    path = tmp_path / "s.csv"
    path.write_text(CSV)
    original = Dopesheet.from_csv.__func__
    monkeypatch.setattr(Dopesheet, "from_csv", classmethod(lambda cls, p: original(cls, p)))
    assert parser_time_units() == ()
    assert read_dopesheet(path, steps_per_epoch=30, total_steps=300).n_steps == 10


def test_to_timeline_keeps_a_timeline_and_wraps_a_dopesheet():
    ds = Dopesheet.from_text(CSV)
    tl = Timeline(ds)
    tl.seek(4)
    assert to_timeline(tl) is tl and tl.state.step == 4
    assert to_timeline(ds).dopesheet is ds
    with pytest.raises(TypeError, match="Timeline, a Dopesheet or a path"):
        to_timeline(3.5)  # type: ignore[arg-type]

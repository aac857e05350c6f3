"""``--watch``: saved edits are adopted mid-run, invalid ones keep the last good schedule."""

from __future__ import annotations

import json
import os
import threading
import time

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from mini.temporal import Dopesheet, Timeline, realize
from mini.training import PhaseData, Result, Trainer
from mini.training.watch import DopesheetWatcher

ORIGINAL = "STEP,PHASE,lr,mse,w\n0,A,0.1,1,0\n400,,,,1\n799,,,,\n"
EDITED = "STEP,PHASE,lr,mse,w\n0,A,0.1,1,0\n400,,,,3\n799,,,,\n"
BROKEN = "STEP,PHASE,lr,mse,w\n0,A,0.1,1,0\n400,,,,oops\n799,,,,\n"


class Lin(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(2, 2)

    def forward(self, x):
        return Result(self.lin(x))


def make(path, out, settle_s=0.0):
    torch.manual_seed(0)
    model = Lin()
    trainer = Trainer(
        model, torch.optim.SGD(model.parameters(), lr=0.0), Dopesheet.from_csv(path),
        PhaseData([torch.randn(4, 2)]), {"mse": lambda b, r: F.mse_loss(r.outputs, b)},
        out_dir=out, progress=False,
    )  # fmt: skip
    values: dict[int, float] = {}
    trainer.on("pre-step", lambda e: values.__setitem__(e.step, e.state.props["w"]), reads=["w"])
    trainer.on("pre-step", lambda e: time.sleep(0.0005))  # the edit is parsed on another thread
    watcher = DopesheetWatcher(path, every_s=0.0, settle_s=settle_s)
    trainer.add(watcher)
    return trainer, watcher, values


def write(path, text, when_ns):
    path.write_text(text)
    os.utime(path, ns=(when_ns, when_ns))  # a distinct mtime even within one clock tick


def test_an_edit_is_adopted_from_the_next_step_and_continues_smoothly(tmp_path):
    path = tmp_path / "s.csv"
    write(path, ORIGINAL, 1_000_000_000)
    trainer, watcher, values = make(path, tmp_path / "out")
    trainer.on(
        "step-metrics",
        lambda e: write(path, EDITED, 2_000_000_000) if e.step == 100 else None,
    )
    trainer.fit()
    assert len(watcher.adopted) == 1 and watcher.adopted[0]["changed"] == ["w"]
    s = watcher.adopted[0]["step"]  # adopted at a pre-step after the write (settle: 2 looks)
    assert 100 < s < 400  # parsed on a thread of its own: a few steps later
    # from the adoption step on, the values are the reloaded timeline's
    expected = Timeline(Dopesheet.from_text(ORIGINAL))
    expected.seek(s)
    expected.reload(Dopesheet.from_text(EDITED))
    ref = realize(expected)["w"].to_numpy()
    got = np.array([values[i] for i in range(800)])
    assert np.array_equal(got[s:], ref[s:])
    assert np.array_equal(
        got[: s + 1], realize(Dopesheet.from_text(ORIGINAL))["w"].to_numpy()[: s + 1]
    )
    # no jump larger than the schedule's own steepest slope
    assert np.abs(np.diff(got)).max() <= np.abs(np.diff(ref)).max() + 1e-12
    assert got[400] == 3.0  # the edited key is hit exactly
    copy = tmp_path / "out" / "schedules" / f"step-{s + 1:07d}-s.csv"
    assert copy.read_text() == EDITED
    lines = [json.loads(x) for x in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines if "dopesheet-reload" in r["extras"]] == [s]


def test_a_broken_edit_keeps_the_schedule_and_a_later_fix_is_adopted(tmp_path):
    path = tmp_path / "s.csv"
    write(path, ORIGINAL, 1_000_000_000)
    trainer, watcher, values = make(path, tmp_path / "out")

    def edit(e):
        if e.step == 50:
            write(path, BROKEN, 2_000_000_000)
        if e.step == 300:
            write(path, EDITED, 3_000_000_000)

    trainer.on("step-metrics", edit)
    result = trainer.fit()
    assert result.last_step == 799  # the run finished
    assert len(watcher.errors) == 1 and "s.csv:3:5" in watcher.errors[0]["problems"][0]
    assert len(watcher.adopted) == 1 and 300 < watcher.adopted[0]["step"] < 400
    plain = realize(Dopesheet.from_text(ORIGINAL))["w"].to_numpy()
    got = np.array([values[i] for i in range(800)])
    s = watcher.adopted[0]["step"]
    assert np.array_equal(got[: s + 1], plain[: s + 1])  # the broken edit changed nothing
    assert got[400] == 3.0


def test_polling_costs_a_clock_read_between_looks(tmp_path, monkeypatch):
    path = tmp_path / "s.csv"
    write(path, ORIGINAL, 1_000_000_000)
    watcher = DopesheetWatcher(path, every_s=3600)
    calls = []
    monkeypatch.setattr(os, "stat", lambda p: calls.append(p) or os.lstat(p))

    class E:
        step = 0
        trainer = None

    watcher._next = time.monotonic() + 3600
    for _ in range(1000):
        watcher.poll(E())
    assert calls == []


LONG = "STEP,PHASE,lr,mse,w\n0,A,0.1,1,0\n2000,,,,1\n3999,,,,\n"
LONG_EDITED = "STEP,PHASE,lr,mse,w\n0,A,0.1,1,0\n2000,,,,3\n3000,,,,-1\n3999,,,,\n"
LONG_BROKEN = "STEP,PHASE,lr,mse,w\n0,A,0.1,1,0\n2000,,,,oops\n3999,,,,\n"


def test_a_thread_rewriting_the_file_mid_run(tmp_path):
    """Another thread saves the CSV in place while the run trains: first a broken edit (the
    schedule stays, the error is reported once, training goes on), then a fix (adopted: from
    that step on the values are the reloaded timeline's, without a jump larger than the
    schedule's own steepest step), and the run finishes."""
    path = tmp_path / "s.csv"
    path.write_text(LONG)
    trainer, watcher, values = make(path, tmp_path / "out", settle_s=0.05)
    fixed = threading.Event()

    def pace(e):
        time.sleep(0.0002)  # leave the writer time to act mid-run
        if e.step == 3000:  # never let the run end before the fix is saved
            assert fixed.wait(60), "the writer thread did not finish"

    trainer.on("pre-step", pace)

    def writer():
        while max(values, default=0) < 300:
            time.sleep(0.001)
        path.write_text(LONG_BROKEN)  # in place, not atomically
        deadline = time.monotonic() + 60
        while not watcher.errors and time.monotonic() < deadline:
            time.sleep(0.001)
        path.write_text(LONG_EDITED)
        fixed.set()

    thread = threading.Thread(target=writer)
    thread.start()
    result = trainer.fit()
    thread.join()
    assert result.last_step == 3999  # the run finished
    assert len(watcher.errors) == 1  # the broken save, reported once
    assert "s.csv:3:5" in watcher.errors[0]["problems"][0]  # file:line:column
    assert len(watcher.adopted) == 1 and watcher.adopted[0]["changed"] == ["w"]
    s = watcher.adopted[0]["step"]
    assert 300 <= watcher.errors[0]["step"] < s < 3000
    got = np.array([values[i] for i in range(4000)])
    plain = realize(Dopesheet.from_text(LONG))["w"].to_numpy()
    assert np.array_equal(got[: s + 1], plain[: s + 1])  # the broken edit changed nothing
    expected = Timeline(Dopesheet.from_text(LONG))
    expected.seek(s)
    expected.reload(Dopesheet.from_text(LONG_EDITED))
    ref = realize(expected)["w"].to_numpy()
    assert np.array_equal(got[s:], ref[s:])
    steepest = np.abs(np.diff(realize(Dopesheet.from_text(LONG_EDITED))["w"].to_numpy())).max()
    assert np.abs(np.diff(got)).max() <= steepest + 1e-12
    assert got[3000] == -1.0


def test_a_same_size_rewrite_within_one_clock_tick_is_seen(tmp_path):
    """Coarse file-system clocks give two saves in quick succession the same mtime; EDITED has
    the size of ORIGINAL: the watcher compares the bytes too."""
    path = tmp_path / "s.csv"
    write(path, ORIGINAL, 1_000_000_000)
    trainer, watcher, values = make(path, tmp_path / "out")
    trainer.on(
        "step-metrics",
        lambda e: write(path, EDITED, 1_000_000_000) if e.step == 100 else None,
    )
    trainer.fit()
    assert len(EDITED) == len(ORIGINAL)
    assert len(watcher.adopted) == 1 and values[400] == 3.0


# -- issue: run safety II -------------------------------------------------------------------------
def test_an_edit_saved_before_the_watcher_was_made_is_adopted(tmp_path):
    """The baseline is the schedule the run started from: an edit saved while the run was being
    built (before the watcher existed) is still seen."""
    path = tmp_path / "s.csv"
    write(path, ORIGINAL, 1_000_000_000)
    torch.manual_seed(0)
    model = Lin()
    trainer = Trainer(
        model, torch.optim.SGD(model.parameters(), lr=0.0), Dopesheet.from_csv(path),
        PhaseData([torch.randn(4, 2)]), {"mse": lambda b, r: F.mse_loss(r.outputs, b)},
        progress=False,
    )  # fmt: skip
    trainer.on("pre-step", lambda e: time.sleep(0.0005), reads=["w"])
    write(path, EDITED, 2_000_000_000)  # saved 0.2 s after the start
    watcher = DopesheetWatcher(path, every_s=0.0, settle_s=0.0)
    trainer.add(watcher)
    trainer.fit()
    assert len(watcher.adopted) == 1 and watcher.adopted[0]["step"] < 400


def test_the_file_is_parsed_off_the_training_thread(tmp_path, monkeypatch):
    path = tmp_path / "s.csv"
    write(path, ORIGINAL, 1_000_000_000)
    trainer, watcher, _ = make(path, None)
    threads = []
    watcher.load = lambda p: threads.append(threading.current_thread()) or Dopesheet.from_csv(p)
    trainer.on(
        "step-metrics", lambda e: write(path, EDITED, 2_000_000_000) if e.step == 50 else None
    )
    trainer.fit()
    assert threads and threading.main_thread() not in threads
    assert len(watcher.adopted) == 1


def test_an_edit_too_big_for_memory_is_refused_like_check_refuses_it(tmp_path, monkeypatch):
    import mini.training.watch as watch_module

    path = tmp_path / "s.csv"
    write(path, ORIGINAL, 1_000_000_000)
    trainer, watcher, _ = make(path, None)

    def edit(e):
        if e.step == 50:  # a save whose schedule would not fit (the one the run began with did)
            monkeypatch.setattr(watch_module, "fits_in_memory", lambda nbytes: False)
            write(path, EDITED, 2_000_000_000)

    trainer.on("step-metrics", edit)

    trainer.fit()
    assert not watcher.adopted and len(watcher.errors) == 1
    assert (
        "too big" in watcher.errors[0]["problems"][0]
        and "s.csv:4:1:" in watcher.errors[0]["problems"][0]
    )


PHASES = "STEP,PHASE,lr,mse,w\n0,A,0.1,1,0\n300,B,,,1\n799,,,,\n"


def _edit_at(trainer, path, step, text):
    trainer.on(
        "step-metrics", lambda e: write(path, text, 2_000_000_000) if e.step == step else None
    )


@pytest.mark.parametrize(
    ("edited", "where", "what"),
    [
        ("STEP,PHASE,lr,mse,w\n0,A,0.1,1,0\n99,,,,1\n", "s.csv:3:1:", "already at step"),
        ("STEP,PHASE,lr,loss,w\n0,A,0.1,1,0\n799,,,,1\n", "s.csv:1:", "criterion 'mse'"),
        ("STEP,PHASE,lr,mse,w\n0,A,0.1,1,0\n300,C,,,1\n799,,,,\n", "s.csv:3:2:", "phase 'C'"),
    ],
    ids=["too-short", "renamed-criterion", "phase-without-data"],
)
def test_every_rejection_names_file_line_and_column(tmp_path, edited, where, what):
    path = tmp_path / "s.csv"
    write(path, ORIGINAL, 1_000_000_000)
    trainer, watcher, _ = make(path, None)
    _edit_at(trainer, path, 150, edited)
    result = trainer.fit()
    assert result.last_step == 799 and not watcher.adopted and len(watcher.errors) == 1
    problem = watcher.errors[0]["problems"][0]
    assert problem.startswith(str(tmp_path / where)) and what in problem, problem


def test_a_phase_can_be_removed_and_added_back(tmp_path):
    path = tmp_path / "s.csv"
    write(path, PHASES, 1_000_000_000)
    torch.manual_seed(0)
    model = Lin()
    data = PhaseData([torch.randn(4, 2)])
    trainer = Trainer(
        model, torch.optim.SGD(model.parameters(), lr=0.0), Dopesheet.from_csv(path),
        {"A": data, "B": data}, {"mse": lambda b, r: F.mse_loss(r.outputs, b)}, progress=False,
    )  # fmt: skip
    trainer.on("pre-step", lambda e: time.sleep(0.0005), reads=["w"])
    phases = {}
    trainer.on("pre-step", lambda e: phases.__setitem__(e.step, e.phase))
    watcher = DopesheetWatcher(path, every_s=0.0, settle_s=0.0)
    trainer.add(watcher)
    without_b = "STEP,PHASE,lr,mse,w\n0,A,0.1,1,0\n799,,,,1\n"
    _edit_at(trainer, path, 20, without_b)
    trainer.on(
        "step-metrics", lambda e: write(path, PHASES, 3_000_000_000) if e.step == 400 else None
    )
    trainer.fit()
    assert not watcher.errors and len(watcher.adopted) == 2
    assert phases[350] == "A" and phases[799] == "B"  # removed, then back (B from 300 again)


def test_under_torchrun_every_rank_applies_rank_0s_verdict_at_the_same_step(monkeypatch):
    """A rank other than 0 never reads the file; it applies what rank 0 broadcasts, and only
    on the shared sync steps."""
    import types

    import mini.training.watch as watch_module

    edited = Dopesheet.from_text(EDITED, source="s.csv")
    sent = []

    def broadcast(objects, ctx):
        sent.append(objects)
        return {"v": ("ok", edited)}

    monkeypatch.setattr(watch_module, "broadcast_objects", broadcast)
    watcher = DopesheetWatcher("/nonexistent/s.csv", sync_every=20)
    adopted = []
    trainer = types.SimpleNamespace(
        dist=types.SimpleNamespace(active=True, is_main=False),
        timeline=types.SimpleNamespace(dopesheet=Dopesheet.from_text(ORIGINAL, source="s.csv")),
        data={None: 1, "A": 1}, adopt=lambda ds: adopted.append(ds) or ["w"],
        record=lambda **kw: None, out_dir=None,
    )  # fmt: skip
    for step in range(1, 41):
        watcher.poll(types.SimpleNamespace(step=step, trainer=trainer))
    assert sent == [{"v": None}, {"v": None}]  # steps 20 and 40; rank 1 sends nothing
    assert [r["step"] for r in watcher.adopted] == [20, 40] and adopted[0] is edited

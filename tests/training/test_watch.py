"""``--watch``: saved edits are adopted mid-run, invalid ones keep the last good schedule."""

from __future__ import annotations

import json
import os
import threading
import time

import numpy as np
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
    assert 100 < s < 110
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
    assert len(watcher.adopted) == 1 and 300 < watcher.adopted[0]["step"] < 310
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

"""The explorer's controller without a browser: lifecycle, commands between steps, save, faults."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from mini.explore import Controller, PanelFailure
from mini.temporal import Dopesheet, realize
from mini.training import PhaseData, Result, Trainer

# w holds still (1.0) everywhere: moving it is exact to bake; lr decays
SHEET = "STEP,PHASE,ACTION,lr:log,mse,w\n0,A,,0.05,1,1\n300,B,poke,,,\n{last},,,0.005,,1\n"
WAIT = 30.0


class Lin(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 3)

    def forward(self, x):
        return Result(self.lin(x))


class Recorder:
    """What the training loop used: every step's properties and the actions' steps."""

    def __init__(self):
        self.props: dict[int, dict[str, float]] = {}
        self.pokes: list[int] = []


def factory(tmp_path, steps=600, panels_rng=False, fail_at=None, pause_at=()):
    """A ``make_trainer`` whose runs record what the loop used; ``pause_at`` pauses the
    controller from the training thread after those steps (deterministic command steps)."""
    runs: list[Recorder] = []
    box: dict[str, Controller] = {}

    def make() -> Trainer:
        torch.manual_seed(0)
        model = Lin()
        data = PhaseData([torch.randn(16, 3) for _ in range(4)])
        trainer = Trainer(
            model, torch.optim.SGD(model.parameters(), lr=0.0),
            Dopesheet.from_text(SHEET.format(last=steps - 1)), data,
            {"mse": lambda b, r: F.mse_loss(r.outputs, b)},
            out_dir=tmp_path / f"run{len(runs)}", overwrite=True, progress=False, seed=0,
            checkpoint_every=100,
        )  # fmt: skip
        rec = Recorder()
        runs.append(rec)

        def pre(e):
            rec.props[e.step] = dict(e.state.props)
            if fail_at is not None and e.step == fail_at:
                raise RuntimeError("the loss function broke")
            if panels_rng:
                torch.rand(3)  # the run draws random numbers: a capture must not shift them

        def after(e):
            if e.step in pause_at:
                box["c"].pause()

        trainer.on("pre-step", pre, reads=["w"])
        trainer.on("step-metrics", after)
        trainer.on("action:poke", lambda e: rec.pokes.append(e.step))
        return trainer

    return make, runs, box


def wait_for(cond, what):
    deadline = time.monotonic() + WAIT
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def paused_at(c: Controller, step: int) -> None:
    wait_for(lambda: c.status == "paused" and c.snapshot().step == step, f"a pause at {step}")


def test_start_pause_resume_and_finish(tmp_path):
    make, runs, box = factory(tmp_path, pause_at=(99,))
    c = box["c"] = Controller(make)
    snap = c.snapshot()
    assert (snap.status, snap.step, snap.n_steps, snap.phase) == ("ready", 0, 600, "A")
    assert c.start() == "started"
    paused_at(c, 100)
    time.sleep(0.2)
    assert c.snapshot().step == 100  # paused: the counter stops
    assert c.start() == "resumed"
    wait_for(lambda: c.status == "finished", "the end of the run")
    assert c.snapshot().step == 600 and sorted(runs[0].props) == list(range(600))
    assert c.result is not None and c.result.last_step == 599
    assert len(c.history) == 600 and "total" in c.history.columns


def test_a_moved_property_changes_smoothly_from_the_next_step(tmp_path):
    make, runs, box = factory(tmp_path, pause_at=(99,))
    c = box["c"] = Controller(make, transition=50)
    c.start()
    paused_at(c, 100)
    first = c.set_property("w", 0.2).result(WAIT)
    assert first == 101
    assert "w" in c.snapshot().overridden
    c.start()
    wait_for(lambda: c.status == "finished", "the end of the run")
    w = np.array([runs[0].props[i]["w"] for i in range(600)])
    assert np.all(w[:101] == 1.0)  # the step that was running keeps its value
    assert w[101] < 1.0 and w[150] == 0.2 and np.all(w[150:] == 0.2)
    steps = np.diff(w[100:151])
    assert np.all(steps <= 0)  # monotone, and no faster than a minimum-jerk move
    assert np.abs(steps).max() <= 1.875 * 0.8 / 50 + 1e-12


def test_commands_before_start_apply_at_once_and_actions_fire_at_the_next_step(tmp_path):
    make, runs, box = factory(tmp_path, pause_at=(199,))
    c = box["c"] = Controller(make)
    assert c.actions == ["poke"]
    assert c.set_property("w", 3.0, duration=10).result(WAIT) == 1
    with pytest.raises(KeyError, match="did you mean 'w'"):
        c.set_property("ww", 1.0)
    c.start()
    paused_at(c, 200)
    assert c.fire("poke").result(WAIT) == 201
    assert c.follow_schedule("w", 20).result(WAIT) == 201
    c.start()
    wait_for(lambda: c.status == "finished", "the end of the run")
    assert runs[0].pokes == [201, 300]  # fired at runtime, then the dopesheet's own
    assert c.trainer.fired == [(201, "poke")]
    w = [runs[0].props[i]["w"] for i in range(600)]
    assert w[0] == 1.0 and w[11] == 3.0 and w[200] == 3.0 and w[221] == 1.0


def test_saved_dopesheet_realizes_to_the_values_the_run_used_and_reruns_identically(tmp_path):
    make, runs, box = factory(tmp_path, pause_at=(149, 399), panels_rng=True)

    class RandomPanel:  # draws random numbers in capture: must not change the run
        title = "noise"

        def capture(self, trainer):
            return float(torch.rand(()))

        def render(self, data):
            return f"{data:.3f}"

    c = box["c"] = Controller(make, [RandomPanel()], transition=40, capture_every=0.0)
    c.start()
    paused_at(c, 150)
    c.set_property("w", 0.5)
    c.fire("poke")
    c.start()
    paused_at(c, 400)
    c.set_property("w", 2.0, duration=30)
    saved = c.save_dopesheet(tmp_path / "explored.csv").result(WAIT)
    assert saved.exact and "exactly" in saved.summary()
    c.start()
    wait_for(lambda: c.status == "finished", "the end of the run")
    used = runs[0].props
    again = realize(Dopesheet.from_csv(tmp_path / "explored.csv"))
    for name in ("lr", "mse", "w"):
        assert np.array_equal(again[name].to_numpy(), [used[i][name] for i in range(600)]), name
    assert (151, "poke") in Dopesheet.from_csv(tmp_path / "explored.csv").actions
    assert isinstance(c.snapshot().panels[0], float)
    explored = [p.detach().clone() for p in c.trainer.model.parameters()]

    # the same seed on the saved CSV, headless: the same weights
    torch.manual_seed(0)
    model = Lin()
    data = PhaseData([torch.randn(16, 3) for _ in range(4)])
    headless = Trainer(
        model, torch.optim.SGD(model.parameters(), lr=0.0), tmp_path / "explored.csv", data,
        {"mse": lambda b, r: F.mse_loss(r.outputs, b)}, progress=False, seed=0,
    )  # fmt: skip
    headless.on("pre-step", lambda e: torch.rand(3), reads=["w"])
    headless.on("action:poke", lambda e: None)
    headless.fit()
    for a, b in zip(explored, model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_reset_builds_a_fresh_run_at_step_zero(tmp_path):
    make, runs, box = factory(tmp_path, pause_at=(49,))
    c = box["c"] = Controller(make)
    first = [p.detach().clone() for p in c.trainer.model.parameters()]
    c.start()
    paused_at(c, 50)
    c.set_property("w", 0.1)
    assert c.reset() == "reset"
    snap = c.snapshot()
    assert (snap.status, snap.step, snap.run) == ("ready", 0, 2)
    assert not snap.overridden and snap.props["w"] == 1.0
    assert len(runs) == 2 and len(c.history) == 0
    for a, b in zip(first, c.trainer.model.parameters(), strict=True):
        assert torch.equal(a, b)  # same seed, fresh model
    assert (tmp_path / "run0" / "checkpoints").is_dir()  # the stopped run kept its checkpoint


def test_a_training_error_shows_and_keeps_the_last_checkpoint(tmp_path):
    make, _runs, box = factory(tmp_path, fail_at=250)
    c = box["c"] = Controller(make)
    c.start()
    wait_for(lambda: c.status == "failed", "the failure")
    snap = c.snapshot()
    assert "RuntimeError: the loss function broke" in snap.error
    assert "step 250" in snap.error and "step-0000200.pt" in snap.error
    assert (tmp_path / "run0" / "checkpoints" / "step-0000200.pt").is_file()
    with pytest.raises(RuntimeError, match="Reset first"):
        c.fire("poke").result(WAIT)
    assert c.start().startswith("the run is failed")


def test_a_failing_panel_is_shown_and_training_goes_on(tmp_path):
    make, _runs, box = factory(tmp_path)

    class Broken:
        title = "broken"

        def capture(self, trainer):
            raise ValueError("no codebook here")

        def render(self, data):
            return ""

    c = box["c"] = Controller(make, [Broken()], capture_every=0.0)
    c.start()
    wait_for(lambda: c.status == "finished", "the end of the run")
    panel = c.snapshot().panels[0]
    assert isinstance(panel, PanelFailure) and "no codebook here" in panel.message


def test_close_stops_cleanly_with_a_checkpoint(tmp_path):
    make, _runs, box = factory(tmp_path, steps=200_000)
    c = box["c"] = Controller(make)
    c.start()
    wait_for(lambda: c.snapshot().step > 10, "some steps")
    result = c.close(timeout=WAIT)
    assert result is not None and result.stopped == "explorer closed"
    assert c.status == "stopped"
    assert result.checkpoint is not None and result.checkpoint.is_file()
    assert not any(t.name == "explorer-training" for t in threading.enumerate())


def test_watched_edits_and_their_errors_show_in_the_activity(tmp_path):
    from mini.training.watch import DopesheetWatcher

    path = tmp_path / "s.csv"
    path.write_text(SHEET.format(last=599))
    box: dict[str, Controller] = {}

    def make() -> Trainer:
        torch.manual_seed(0)
        model = Lin()
        trainer = Trainer(
            model, torch.optim.SGD(model.parameters(), lr=0.0), Dopesheet.from_csv(path),
            PhaseData([torch.randn(16, 3)]), {"mse": lambda b, r: F.mse_loss(r.outputs, b)},
            progress=False, seed=0,
        )  # fmt: skip
        trainer.on("pre-step", lambda e: None, reads=["w"])
        trainer.on("action:poke", lambda e: None)
        trainer.on("step-metrics", lambda e: box["c"].pause() if e.step in (99, 299) else None)
        trainer.add(DopesheetWatcher(path, every_s=0.0, settle_s=0.0))
        return trainer

    c = box["c"] = Controller(make)
    c.start()
    paused_at(c, 100)
    path.write_text(SHEET.format(last=599).replace("300,B,poke,,,", "300,B,poke,,,oops"))
    c.start()
    paused_at(c, 300)
    path.write_text(SHEET.format(last=599).replace("300,B,poke,,,", "300,B,poke,,,2"))
    c.start()
    wait_for(lambda: c.status == "finished", "the end of the run")
    notes = "\n".join(c.snapshot().notes)
    assert "edit of s.csv not adopted" in notes and "s.csv:3:6" in notes
    assert "adopted the edit of s.csv (w)" in notes
    assert c.trainer.timeline.dopesheet.keyframes("w")[1] == (300, 2.0)


def test_no_interleaving_of_controls_from_many_tabs_leaves_two_training_threads(tmp_path):
    """Tabs clicking Reset/Start/Pause/Save at once: one training thread at most, the run on
    screen (issue: two Resets and several Starts left a second thread training)."""
    import random

    make, _, box = factory(tmp_path, steps=100_000)
    c = box["c"] = Controller(make)
    ops = [c.reset, c.start, c.start, c.pause, lambda: c.save_dopesheet().result(timeout=WAIT)]

    def tab(seed: int, go: threading.Barrier) -> None:
        rng = random.Random(seed)
        go.wait()
        for _ in range(12):
            rng.choice(ops)()

    for round_ in range(3):
        go = threading.Barrier(4)
        tabs = [threading.Thread(target=tab, args=(10 * round_ + i, go)) for i in range(4)]
        for t in tabs:
            t.start()
        for t in tabs:
            t.join(WAIT)
        alive = [t for t in threading.enumerate() if t.name == "explorer-training"]
        assert len(alive) <= 1, f"{len(alive)} training threads after round {round_}"
        assert all(t is c._thread for t in alive)
        assert c.snapshot().run == c.run_number
    c.close()
    assert not [t for t in threading.enumerate() if t.name == "explorer-training"]

"""The categorical tokenizer's explorer panels: what they capture from a training run, that
they render, that the action buttons act, and that capturing leaves the run untouched."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch

from mini.explore import Controller, PanelFailure
from mini.temporal import Dopesheet, Timeline
from vq.tokenizer import explore as ce
from vq.tokenizer.assignment import assignment_imbalance, assignment_overlap, near_hard_fraction
from vq.tokenizer.run import build
from vq.tokenizer.synthetic import synthetic_table
from vq.tokenizer.video import feature_labels

SCHEDULE = Path(__file__).parents[2] / "schedules" / "categorical-vq.csv"
TABLE = synthetic_table(n_samples=300, group_sizes=(3, 3), distractors=1, seed=1)
STEPS = 60


def make_run(mode: str = "learnable"):
    return build(TABLE, mode, max_categories=3, latent_dim=2, levels=2, codes=8, hidden=8,
                 batch_size=64, eval_every=10, frame_every=5)  # fmt: skip


def make_trainer(run, **kw):
    timeline = Timeline(Dopesheet.from_csv(SCHEDULE).scaled(STEPS))
    return run.trainer(timeline, progress=False, seed=0, **kw)


def explored(mode: str = "learnable", **controller_kw):
    runs = []

    def make():
        run = make_run(mode)
        runs.append(run)
        return make_trainer(run)

    panels = ce.panels(make_run(mode))
    return Controller(make, panels, capture_every=0.0, **controller_kw), panels, runs


def well_formed(html: str) -> ET.Element:
    return ET.fromstring(f"<div>{html}</div>")  # raises unless well-formed XML


def train(controller: Controller) -> None:
    controller.start()
    controller._thread.join(120)
    assert controller.snapshot().status == "finished"


def test_the_panels_show_a_learnable_run_without_changing_it():
    controller, panels, runs = explored()
    assert [p.title for p in panels] == [
        "feature × category assignment", "assignment over steps",
        "codebook utilization per category",
    ]  # fmt: skip
    train(controller)  # a capture after every step
    snap = controller.snapshot()
    assert not any(isinstance(d, PanelFailure) for d in snap.panels)
    view, trace, usage = snap.panels
    model, evaluator = runs[0].model, runs[0].evaluator

    a = model.assignment
    assert a.hard  # the schedule's harden action ran
    assert np.array_equal(view.matrix, a.soft().detach().double().numpy())
    assert np.allclose(view.matrix.sum(1), 1.0) and view.matrix.shape == (7, runs[0].discovery.k)
    assert view.owner.tolist() == a.categories().tolist() and view.hard and view.learnable

    records = evaluator.history
    assert trace.steps.tolist() == [h["step"] for h in records]  # the last step was evaluated
    assert trace.steps[-1] == STEPS - 1 and trace.every == 10
    assert trace.temperature.tolist() == [h["assign_temperature"] for h in records]
    assert trace.temperature[0] == 1.0 and trace.temperature[-1] == pytest.approx(0.1)
    assert trace.planned == (0.1, 1.0)
    for key, _ in ce.FIGURES:
        assert trace.figures[key].tolist() == [h[key] for h in records]
    assert [name for name, _, _ in trace.phases] == ["Soft", "Anneal", "Refine"]

    assert usage.source == "held-out" and usage.step == records[-1]["step"]
    held = records[-1]["utilization_levels"]
    for k, levels in enumerate(usage.levels):
        assert levels == (tuple(held[f"c{k}"]) if f"c{k}" in held else None)
    assert sum(usage.owned) == 7 and usage.codes == 8
    assert np.mean([u for lv in usage.levels if lv for u in lv]) == pytest.approx(
        records[-1]["utilization"]
    )

    pages = [p.render(d) for p, d in zip(panels, snap.panels, strict=True)]
    for html in pages:
        well_formed(html)
    assert "hardened" in pages[0] and pages[0].count('stroke="#f59e0b"') == 7  # argmax framed
    assert all(f in pages[0] for f in feature_labels(TABLE.features, TABLE.groups))
    assert "noise" in pages[0] and "rows by planted group" in pages[0]
    assert "held-out" in pages[2] and "step 59" in pages[2]
    assert model.training  # the captures put it back in training mode

    # the same run without the page: identical weights and records
    run = make_run()
    make_trainer(run).fit()
    for x, y in zip(model.state_dict().values(), run.model.state_dict().values(), strict=True):
        assert torch.equal(x, y) if isinstance(x, torch.Tensor) else x == y
    assert run.evaluator.history == evaluator.history


def test_the_curves_end_at_the_model_now_between_evaluations():
    run = make_run()
    trainer = make_trainer(run)
    panel = ce.AssignmentCurvesPanel()
    a = run.model.assignment
    seen = []

    def capture(event):
        if event.step % 10 == 5:  # half way between two evaluations
            with torch.no_grad():
                now = {
                    "assign_overlap": float(assignment_overlap(a())),
                    "assign_imbalance": float(assignment_imbalance(a())),
                    "assign_near_hard": near_hard_fraction(a.soft()),
                }
                seen.append((event.step, panel.capture(trainer), now, a.temperature))

    trainer.on("step-metrics", capture)
    trainer.fit()
    assert len(seen) == 6
    for step, trace, now, temperature in seen:
        before = [h for h in run.evaluator.history if h["step"] < step]
        assert trace.step == step and trace.steps.tolist() == [h["step"] for h in before] + [step]
        assert trace.temperature[-1] == temperature
        assert {k: v[-1] for k, v in trace.figures.items()} == now


def test_without_an_evaluation_utilization_is_the_training_window():
    run = make_run()
    trainer = make_trainer(run)
    panel = ce.UtilizationPanel()
    view = panel.capture(trainer)  # nothing trained, nothing evaluated
    assert view.source == "training window" and view.window == 100 and view.step is None
    assert all(u == (0.0, 0.0) for u in view.levels)  # no code chosen yet
    trainer.fit()
    view = panel.capture(_NoEvaluator(trainer))
    assert view.source == "training window"
    expected = [
        tuple(float((q.usage_counts() > 0).float().mean()) for q in rvq.quantizers)
        for rvq in run.model.quantizers
    ]
    assert list(view.levels) == expected and any(u > 0 for lv in expected for u in lv)
    html = panel.render(view)
    well_formed(html)
    assert "training window" in html and "last 100 training batches" in html
    trace = ce.AssignmentCurvesPanel().capture(_NoEvaluator(trainer))
    assert trace.every is None and len(trace.steps) == 1  # only the model now
    assert "no evaluator" in ce.AssignmentCurvesPanel().render(trace)


class _NoEvaluator:
    """A trainer whose handlers include no evaluator."""

    def __init__(self, trainer):
        self.model, self.timeline = trainer.model, trainer.timeline
        self.current_step = trainer.current_step

        class Bus:
            @staticmethod
            def handlers():
                return []

        self.bus = Bus()


def test_static_mode_shows_the_fixed_assignment_without_curves():
    controller, panels, runs = explored("static")
    assert [type(p).__name__ for p in panels] == ["AssignmentPanel", "UtilizationPanel"]
    train(controller)
    view, usage = controller.snapshot().panels
    fixed = runs[0].model.assignment
    assert not view.learnable and view.hard
    assert np.array_equal(view.matrix, fixed.soft().double().numpy())  # one-hot, all run long
    assert set(np.unique(view.matrix)) <= {0.0, 1.0}
    html = panels[0].render(view)
    well_formed(html)
    assert "fixed (static mode)" in html and "discovered" in html
    assert 'stroke="#f59e0b"' not in html  # nothing to frame: there is no soft matrix
    assert usage.source == "held-out"


def test_the_harden_and_refresh_buttons_act_on_the_run():
    refreshed: list[int] = []
    runs = []

    def make():
        run = make_run()
        runs.append(run)
        trainer = make_trainer(run)
        trainer.on("action:refresh", lambda e: refreshed.append(e.step))
        return trainer

    c = Controller(make, ce.panels(make_run()), capture_every=0.0)
    assert {"harden", "refresh"} <= set(c.actions)
    c.fire("harden").result(timeout=10)  # before Start: fires at step 0
    c.fire("refresh").result(timeout=10)
    hard_at: list[int] = []
    c.trainer.on("step-metrics", lambda e: runs[0].model.assignment.hard and hard_at.append(e.step))
    train(c)
    assert (0, "harden") in c.trainer.fired and (0, "refresh") in c.trainer.fired
    assert hard_at[0] == 0 and 0 in refreshed
    assert c.snapshot().panels[0].hard

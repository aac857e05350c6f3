from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch

from ex_color.experiment import (
    PHASES,
    build,
    hsv_training_cube,
    primaries,
    rgb_validation_grid,
    summarize,
)
from mini.temporal import Dopesheet

from .conftest import run_curriculum

SCHEDULE = Path(__file__).parents[2] / "schedules" / "color-curriculum.csv"


@pytest.fixture(scope="module")
def dopesheet() -> Dopesheet:
    return Dopesheet.from_csv(SCHEDULE)


def test_schedule_has_exactly_the_issue_keyframes(dopesheet):
    assert dopesheet.n_steps == 20_001
    rows = [(r.step, r.phase, r.actions, r.values) for r in dopesheet.rows]
    assert rows == [
        (0, "Primary & secondary", (), {"loss-recon": 1.0, "reg-separate": 0.0, "reg-planar": 0.2}),
        (1200, None, (), {"loss-recon": 0.8, "reg-separate": 0.3}),
        (1800, None, (), {"reg-planar": 0.4, "reg-norm": 0.1}),
        (
            3000,
            "All hues",
            ("anchor",),
            {"reg-separate": 0.0, "reg-norm": 0.25, "reg-anchor": 0.0, "data-fraction": 0.0},
        ),
        (3350, None, (), {"lr": 0.01}),
        (6500, None, (), {"loss-recon": 0.8, "reg-planar": 0.0}),
        (8600, None, (), {"reg-anchor": 0.3}),
        (10000, "Full color space", (), {"data-fraction": 0.25}),
        (10500, None, (), {}),
        (13000, None, (), {"loss-recon": 1.0, "reg-anchor": 0.1, "data-fraction": 1.0}),
        (20000, None, (), {"lr": 0.001, "reg-anchor": 0.75}),
    ]


def test_build_covers_the_schedule(dopesheet):
    exp = build()
    assert [p.name for p in dopesheet.phases] == list(PHASES) == list(exp.data)
    used = set(exp.criteria) | set(exp.bindings) | {"lr"}
    assert used == set(dopesheet.specs)


def test_phase_data():
    exp = build()
    prim = primaries()
    assert prim.shape == (6, 3)
    first = exp.data["Primary & secondary"]
    assert all(torch.equal(b, prim) for b in itertools.islice(first.train, 3))
    assert torch.equal(first.val, prim)
    for phase in ("All hues", "Full color space"):
        spec = exp.data[phase]
        assert spec.val.shape == (1000, 3)
        assert torch.equal(spec.val, rgb_validation_grid())
    assert hsv_training_cube().shape == (36, 10, 10)
    batch = next(iter(exp.data["All hues"].train))
    assert batch.shape == (256, 3)
    # Data fraction starts at 0: only pure, bright hues (one channel 1, one 0).
    assert torch.allclose(batch.max(1).values, torch.ones(256))
    assert torch.allclose(batch.min(1).values, torch.zeros(256), atol=1e-6)


def test_build_is_seeded():
    a, b, c = build(seed=5), build(seed=5), build(seed=6)
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not torch.equal(a.model.encoder[0].weight, c.model.encoder[0].weight)
    ba = next(iter(a.data["All hues"].train))
    bc = next(iter(c.data["All hues"].train))
    assert torch.equal(ba, next(iter(b.data["All hues"].train)))
    assert not torch.equal(ba, bc)
    # Building does not touch the global RNG.
    torch.manual_seed(1)
    x = torch.rand(3)
    torch.manual_seed(1)
    build(seed=9)
    assert torch.equal(torch.rand(3), x)


def test_summarize_definitions():
    exp = build()
    s = summarize(exp.model, exp.anchor)
    assert set(s) == {
        "recon_mse",
        "hue_gaps_deg",
        "hue_order_ok",
        "ring_norm_error",
        "anchor_drift",
    }
    assert s["anchor_drift"] is None
    assert len(s["hue_gaps_deg"]) == 6
    assert sum(s["hue_gaps_deg"]) == pytest.approx(360, abs=1e-3) or not s["hue_order_ok"]
    assert s["recon_mse"] > 0.01  # untrained
    exp.anchor.capture(exp.model)
    assert summarize(exp.model, exp.anchor)["anchor_drift"] == pytest.approx(0, abs=1e-7)
    assert exp.model.training


def test_short_curriculum_runs_and_is_deterministic(dopesheet, tmp_path):
    summaries = []
    for fused in (True, False):
        exp = build(seed=0)
        run_curriculum(exp, dopesheet.scaled(400), fused=fused)
        assert exp.anchor.captured_at == 60  # "All hues" starts at 3000/20000 of the run
        assert [s.phase for s in exp.plotter.history] == list(PHASES)
        assert exp.plotter.save(tmp_path / "phases.png").stat().st_size > 10_000
        summaries.append(summarize(exp.model, exp.anchor))
    exp = build(seed=0)
    run_curriculum(exp, dopesheet.scaled(400), fused=True)
    assert summarize(exp.model, exp.anchor) == summaries[0]
    # The fused forward computes the same losses, up to float rounding.
    assert summaries[1]["recon_mse"] == pytest.approx(summaries[0]["recon_mse"], rel=1e-3)
    assert summaries[0]["recon_mse"] < 0.05


def test_trainer_checkpoint_resumes_the_sampler_anchor_and_plotter_exactly(dopesheet, tmp_path):
    """Stopping mid-epoch in "All hues" (after the anchor, while data-fraction moves) and
    resuming into freshly built objects gives bit-identical results."""
    short = dopesheet.scaled(500)
    exp = build(seed=0)
    run_curriculum(exp, short)
    reference = summarize(exp.model, exp.anchor)

    first = build(seed=0)
    trainer = first.trainer(short, progress=False, out_dir=tmp_path)
    trainer.on("step-metrics", lambda e: trainer.stop("test") if e.step == 137 else None)
    trainer.fit()
    assert first.sampler.position not in (0, first.sampler.steps_per_epoch)

    resumed = build(seed=1)  # different init and sampler seed: the checkpoint must win
    again = resumed.trainer(short, progress=False, out_dir=tmp_path)
    again.fit(resume=tmp_path / "checkpoints")
    assert summarize(resumed.model, resumed.anchor) == reference
    assert [s.phase for s in resumed.plotter.history] == list(PHASES)

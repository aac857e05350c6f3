"""HealthMonitor and RefreshHandler driven through the real event bus by a fake trainer."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from torch import nn

from mini.temporal import State
from mini.training.events import Event
from mini.training.result import Result
from vq import (
    HealthMonitor,
    RefreshHandler,
    ResidualVQ,
    VectorQuantizer,
    VQAutoencoder,
    digits_vqvae,
)

from .conftest import FakeTrainer


def _quantizer_with_dead_codes(window: int = 4) -> VectorQuantizer:
    """8 codes on a line, only codes 0..3 used for a full window."""
    vq = VectorQuantizer(1, 8, kmeans_init=False, window=window, decay=1.0)
    with torch.no_grad():
        vq.codebook.copy_(torch.arange(8.0)[:, None])
        vq.embed_sum.copy_(vq.codebook)
    for _ in range(window):
        vq(torch.tensor([[0.0], [1.0], [2.0], [3.0]]))
    return vq


def _batch_and_result(n: int = 64, dim: int = 2) -> tuple[torch.Tensor, Result]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 5, generator=gen)
    z = x[:, :dim] * 2
    return x, Result(outputs=x + 0.1, latents=z)


# -- HealthMonitor -------------------------------------------------------------------------------
def test_monitor_records_metrics_every_n_steps(trainer: FakeTrainer) -> None:
    vq = _quantizer_with_dead_codes()
    monitor = HealthMonitor(vq, every=10)
    monitor.attach(trainer)
    x, result = _batch_and_result()
    for step in range(25):
        trainer.emit("step-metrics", step, batch=x, result=result)
    assert len(trainer.records) == 3  # steps 0, 10, 20
    rec = trainer.records[-1]
    # no validation split: only training-side numbers, all named vq/train/...
    assert all(k.startswith("vq/train/") for k in rec)
    assert rec["vq/train/l0/active"] == 4 and rec["vq/train/l0/dead"] == 4
    assert rec["vq/train/l0/utilization"] == pytest.approx(0.5)
    assert rec["vq/train/l0/perplexity"] == pytest.approx(4.0)
    assert rec["vq/train/utilization"] == pytest.approx(0.5)
    assert rec["vq/train/effective_rank"] == pytest.approx(2.0, rel=0.1)
    assert 0.0 < rec["vq/train/topographic"] <= 1.0
    x2 = x.reshape(64, -1)
    expected_rq = 1 - ((0.1**2) * x2.numel()) / ((x2 - x2.mean(0)) ** 2).sum().item()
    assert rec["vq/train/recon_quality"] == pytest.approx(expected_rq, rel=1e-4)
    json.dumps(rec)  # plain numbers only


def test_monitor_also_measures_at_phase_ends(trainer: FakeTrainer) -> None:
    monitor = HealthMonitor(_quantizer_with_dead_codes(), every=10)
    monitor.attach(trainer)
    for step in range(15):
        end = step in (6, 14)
        state = State(step, "A", {}, (), False, end)
        trainer.current_step = step
        trainer.bus.emit(Event("step-metrics", trainer, state, batch=None, result=None))
    assert len(trainer.records) == 4  # steps 0, 6 (phase end), 10, 14 (the last step)


def test_monitor_warns_once_when_usage_falls_under_the_floor(
    trainer: FakeTrainer, caplog: pytest.LogCaptureFixture
) -> None:
    monitor = HealthMonitor(_quantizer_with_dead_codes(), every=1, usage_floor=0.75)
    monitor.attach(trainer)
    x, result = _batch_and_result()
    with caplog.at_level(logging.WARNING):
        for step in range(3):
            trainer.emit("step-metrics", step, batch=x, result=result)
    assert len(monitor.alarms) == 1  # edge-triggered, not repeated every check
    assert "utilization 0.50 is under the floor 0.75" in monitor.alarms[0][1]
    assert "under the floor" in caplog.text
    assert trainer.stops == []


def test_monitor_can_stop_the_run(trainer: FakeTrainer) -> None:
    monitor = HealthMonitor(_quantizer_with_dead_codes(), every=1, on_alarm="stop")
    monitor.attach(trainer)
    x, result = _batch_and_result()
    trainer.emit("step-metrics", 0, batch=x, result=result)
    assert trainer.stops == []  # utilization 0.5 is not under the default floor 0.5
    monitor.usage_floor = 0.6
    trainer.emit("step-metrics", 1, batch=x, result=result)
    assert len(trainer.stops) == 1 and "level 0" in trainer.stops[0]


def test_monitor_start_step_delays_alarms(trainer: FakeTrainer) -> None:
    monitor = HealthMonitor(_quantizer_with_dead_codes(), every=1, usage_floor=0.9, start_step=5)
    monitor.attach(trainer)
    x, result = _batch_and_result()
    for step in range(5):
        trainer.emit("step-metrics", step, batch=x, result=result)
    assert monitor.alarms == []
    trainer.emit("step-metrics", 5, batch=x, result=result)
    assert len(monitor.alarms) == 1


def test_monitor_detects_rank_collapse(trainer: FakeTrainer) -> None:
    vq = VectorQuantizer(4, 8)
    vq(torch.randn(256, 4))
    monitor = HealthMonitor(vq, every=1, usage_floor=0.0)
    monitor.attach(trainer)
    x = torch.randn(256, 5)
    healthy = Result(x, latents=torch.randn(256, 4))
    line = torch.randn(256, 1) * torch.tensor([[1.0, -2.0, 0.5, 1.0]])
    trainer.emit("step-metrics", 0, batch=x, result=healthy)
    assert monitor.alarms == []
    trainer.emit("step-metrics", 1, batch=x, result=Result(x, latents=line + 0.01))
    assert len(monitor.alarms) == 1 and "effective rank" in monitor.alarms[0][1]


class _Drifting(nn.Module):
    """A model whose reconstructions get worse by a fixed amount at every evaluation."""

    def __init__(self, losses: list[float]):
        super().__init__()
        self.losses = losses
        self.calls = 0
        self.modes: list[bool] = []

    def forward(self, x: torch.Tensor) -> Result:
        self.modes.append(self.training)
        err = self.losses[min(self.calls, len(self.losses) - 1)] ** 0.5
        self.calls += 1
        return Result(x + err)


def test_validation_rising_k_times_in_a_row_alarms() -> None:
    model = _Drifting([0.5, 0.4, 0.45, 0.5, 0.6, 0.7])
    trainer = FakeTrainer(model)
    val = (torch.zeros(8, 3), torch.zeros(8))
    monitor = HealthMonitor(VectorQuantizer(2, 4), every=1, patience=3, validation=val)
    monitor.attach(trainer)
    x, result = _batch_and_result()
    for step in range(6):
        trainer.emit("step-metrics", step, batch=x, result=result)
        if step < 4:
            assert not any("validation" in r for _, r in monitor.alarms), step
    assert [round(v, 6) for v in monitor.val_losses] == [0.5, 0.4, 0.45, 0.5, 0.6, 0.7]
    assert trainer.records[-1]["vq/val_loss"] == pytest.approx(0.7)
    alarms = [r for _, r in monitor.alarms if "validation" in r]
    assert len(alarms) == 1 and "step 4" in alarms[0] and "rose 3" in alarms[0]
    assert model.modes == [False] * 6  # evaluated in eval mode...
    assert model.training  # ...and put back in training mode


def test_monitor_state_round_trip(trainer: FakeTrainer) -> None:
    monitor = HealthMonitor(_quantizer_with_dead_codes(), every=1, usage_floor=0.9)
    monitor.attach(trainer)
    x, result = _batch_and_result()
    trainer.emit("step-metrics", 0, batch=x, result=result)
    state = json.loads(json.dumps(monitor.state_dict()))
    other = HealthMonitor(_quantizer_with_dead_codes(), every=1, usage_floor=0.9)
    other.load_state_dict(state)
    assert other.alarms == monitor.alarms
    assert torch.equal(other._gen.get_state(), monitor._gen.get_state())


def test_monitor_reports_every_level_of_a_residual_quantizer(trainer: FakeTrainer) -> None:
    rvq = ResidualVQ(2, dim=2, codebook_size=4)
    rvq(torch.randn(128, 2))
    trainer.model = VQAutoencoder(nn.Identity(), rvq, nn.Identity())
    HealthMonitor(rvq, every=1, validation=torch.randn(64, 2)).attach(trainer)
    x, result = _batch_and_result()
    trainer.emit("step-metrics", 0, batch=x, result=result)
    rec = trainer.records[-1]
    for i in (0, 1):
        for key in ("active", "dead", "utilization", "perplexity", "orthogonality"):
            assert f"vq/l{i}/{key}" in rec, (i, key)
        assert f"vq/train/l{i}/active" in rec
    assert {"vq/cross_level_orthogonality", "vq/recon_quality", "vq/topographic"} <= set(rec)


# -- RefreshHandler ------------------------------------------------------------------------------
def test_refresh_on_the_dopesheet_action(trainer: FakeTrainer) -> None:
    vq = _quantizer_with_dead_codes()
    handler = RefreshHandler(vq)
    handler.attach(trainer)
    before = vq.codebook.clone()
    trainer.emit("step-metrics", 100, batch=None)  # not subscribed without every
    assert torch.equal(vq.codebook, before)
    trainer.emit("action:refresh", 101, action="refresh")
    assert not torch.equal(vq.codebook[4:], before[4:])
    torch.testing.assert_close(vq.codebook[:4], before[:4])
    assert trainer.records[-1] == {"vq/refreshed": 4}
    assert handler.state_dict() == {"refreshed": 4}


def test_periodic_refresh_waits_for_a_full_window(trainer: FakeTrainer) -> None:
    vq = VectorQuantizer(1, 8, kmeans_init=False, window=10)
    vq(torch.zeros(16, 1))  # one step: most codes unused, but too early to call them dead
    handler = RefreshHandler(vq, every=5, action=None)
    handler.attach(trainer)
    trainer.emit("step-metrics", 5)
    assert handler.refreshed == 0
    for _ in range(9):
        vq(torch.zeros(16, 1))
    trainer.emit("step-metrics", 7)  # not a multiple of every
    assert handler.refreshed == 0
    trainer.emit("step-metrics", 10)
    assert handler.refreshed == 7  # every code but the one nearest 0
    assert vq.dead_codes().numel() == 7  # refreshed codes restart with no usage
    trainer.emit("action:refresh", 11, action="refresh")  # no action subscription
    assert handler.refreshed == 7


def test_refresh_threshold_and_levels(trainer: FakeTrainer) -> None:
    model = digits_vqvae(2, 8, 2, hidden=(16,))
    model(torch.rand(64, 64))
    handler = RefreshHandler(model.quantizer, usage_threshold=1e9)  # everything counts as dead
    assert handler.refresh() == [8, 8]
    with pytest.raises(ValueError, match="every, action"):
        RefreshHandler(model.quantizer, action=None)

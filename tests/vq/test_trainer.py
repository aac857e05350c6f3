"""The vq pieces on the real Trainer: bindings, handlers, checkpoints (the default-run acceptance
lives in test_example.py, through the runnable example)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch

from mini.temporal import Dopesheet
from mini.training import PhaseData, Trainer
from vq import (
    Batches,
    HealthMonitor,
    RefreshHandler,
    bind_quantizer,
    digits_vqvae_2d,
    load_digits_split,
    orthogonality_penalty,
    recon_mse,
    topographic_penalty,
    vq_term,
)

SCHEDULE = Path(__file__).parents[2] / "schedules" / "vq-curriculum.csv"


def _trainer(out: Path, steps: int | None, hidden=(32,), batch: int = 64, **kwargs) -> Trainer:
    torch.manual_seed(0)
    data = load_digits_split(seed=0)
    model = digits_vqvae_2d(hidden=hidden)
    ds = Dopesheet.from_csv(SCHEDULE)
    if steps is not None:
        ds = ds.scaled(steps)
    val = (data.val, data.val_labels)
    trainer = Trainer(
        model,
        torch.optim.Adam(model.parameters(), lr=1e-3),
        ds,
        PhaseData(Batches(data.train, data.train_labels, batch, seed=0), val),
        {
            "recon": recon_mse,
            "commitment": vq_term("commitment"),
            "reg-orthogonality": orthogonality_penalty(model.quantizer),
            "reg-topographic": topographic_penalty(),
        },
        out_dir=out,
        progress=False,
        seed=0,
        **kwargs,
    )
    assert bind_quantizer(trainer, model) == ["temperature", "ema-decay", "vq-blend"]
    trainer.add(
        RefreshHandler(model.quantizer),
        HealthMonitor(model.quantizer, every=10, validation=val, start_step=10**9),
    )
    return trainer


def test_curriculum_drives_the_quantizer_and_handlers_record(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path, steps=40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every dopesheet property is read by something
        result = trainer.fit()
    assert result.last_step == 39
    model = trainer.model
    assert model.blend == 1.0
    assert model.quantizer.temperature == pytest.approx(1e-4)
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    by_step = {r["step"]: r.get("extras", {}) for r in records}
    for step in (0, 10, 20, 30):
        assert {"vq/l0/active", "vq/l1/perplexity", "vq/val_loss"} <= set(by_step[step])
    refresh_steps = [s for s, a in trainer.timeline.dopesheet.actions if a == "refresh"]
    assert refresh_steps and all("vq/refreshed" in by_step[s] for s in refresh_steps)


def test_resumed_run_matches_the_uninterrupted_one(tmp_path: Path) -> None:
    full = _trainer(tmp_path / "full", steps=40)
    full.fit()
    part = _trainer(tmp_path / "part", steps=40, checkpoint_every=17, keep_checkpoints=None)
    part.fit()
    resumed = _trainer(tmp_path / "resumed", steps=40)
    resumed.fit(resume=tmp_path / "part" / "checkpoints" / "step-0000017.pt")
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for key in a:  # tensors bit for bit; extra states (the quantizers' counters) equal
        same = torch.equal(a[key], b[key]) if isinstance(a[key], torch.Tensor) else a[key] == b[key]
        assert same, key

"""Keeping the best checkpoint by a composite of metrics."""

from __future__ import annotations

import json

import pytest
import torch

from mini.temporal import Dopesheet
from mini.training import PhaseData, Result, Trainer
from mini.training.checks import ConfigError
from mini.training.keep_best import CompositeScore

SHEET = "STEP,lr\n0,0.1\n11,\n"


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(2, 2)

    def forward(self, x):
        return Result(self.lin(x))


def build(tmp_path, keep_best="composite"):
    torch.manual_seed(0)
    model = Net()
    trainer = Trainer(
        model, torch.optim.SGD(model.parameters(), lr=0.1), Dopesheet.from_text(SHEET),
        PhaseData([torch.rand(4, 2)]), {}, out_dir=tmp_path, progress=False,
        keep_best=keep_best, checkpoint_on_phase_end=False,
    )  # fmt: skip
    # two synthetic metrics: a is best (lowest) at step 4, b (higher is better) peaks at 7
    a = [5, 4, 3, 2, 1, 2, 3, 4, 5, 6, 7, 8]
    b = [0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0]
    trainer.on(
        "pre-step",
        lambda e: trainer.record(a=a[e.step], **({"b": b[e.step]} if e.step % 2 else {})),
    )
    return trainer


def test_best_checkpoint_is_the_step_with_the_best_composite(tmp_path):
    trainer = build(tmp_path)
    trainer.add(CompositeScore({"a": 1.0, "b": -0.5}))
    trainer.fit()
    # scored only on odd steps (b logged there): 4, 2, 2-4.5, 6, 8, ... → step 7 wins
    assert trainer.best["step"] == 7 and trainer.best["value"] == 4 - 4.5
    assert (tmp_path / "checkpoints" / "best.pt").exists()
    recs = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [("composite" in r["extras"]) for r in recs] == [s % 2 == 1 for s in range(12)]


def test_a_composite_the_trainer_does_not_keep_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="keep_best='score'"):
        build(tmp_path, keep_best="val-total").add(CompositeScore({"a": 1}, name="score"))

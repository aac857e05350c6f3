"""Training features people expect from Lightning/Ignite-style trainers, each off by default:
keep-best checkpoints, whole-loader validation, gradient accumulation, mixed precision,
per-group gradient clipping and learning rates, actions fired at runtime."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from mini.temporal import Dopesheet, realize
from mini.training import PhaseData, Result, Trainer, load_checkpoint


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 8)
        self.b = nn.Linear(8, 4)

    def forward(self, x):
        return Result(self.b(torch.tanh(self.a(x))), latents=x)


def mse(batch, result):
    return F.mse_loss(result.outputs, batch)


def make(sheet, data, **kw):
    torch.manual_seed(0)
    model = Net()
    opt = kw.pop("optimizer", None) or torch.optim.SGD(model.parameters(), lr=0.1)
    return Trainer(
        model, opt, Dopesheet.from_text(sheet, source="f.csv"), data, {"mse": mse},
        progress=False, **kw,
    )  # fmt: skip


X = torch.randn(64, 4, generator=torch.Generator().manual_seed(3))


def test_keep_best_keeps_the_best_validation_checkpoint(tmp_path):
    sheet = "STEP,PHASE,lr,mse\n0,a,0.1,1\n10,b,,\n20,c,,\n29,,,\n"
    good = PhaseData([X[:16], X[16:32]], val=X[32:])
    shifted = PhaseData([X[:16] * 3 + 2], val=X[32:])  # the last phase trains on other data
    data = {"a": good, "b": good, "c": shifted}
    trainer = make(sheet, data, out_dir=tmp_path, keep_best="val-total")
    vals = {}
    trainer.on("phase-end", lambda e: vals.__setitem__(e.step, e.losses["total"]))
    trainer.fit()
    best_step = min(vals, key=vals.get)
    assert best_step == 19  # not the last phase end: validation got worse in phase c
    assert trainer.best["step"] == best_step and trainer.best["value"] == vals[best_step]
    ckpt = load_checkpoint(tmp_path / "checkpoints" / "best.pt")
    assert ckpt["step"] == best_step and ckpt["best"]["metric"] == "val-total"


def test_validation_over_a_whole_loader_averages_by_batch_size():
    loader = [X[:10], X[10:40], X[40:64]]
    trainer = make("STEP,mse\n0,1\n3,\n", PhaseData([X[:8]], val_loader=loader))
    _, losses = trainer.validate()
    _, whole = make("STEP,mse\n0,1\n3,\n", PhaseData([X[:8]], val=X)).validate()
    assert losses["mse"] == pytest.approx(whole["mse"], rel=1e-6)
    with pytest.raises(ValueError, match="not both"):
        PhaseData([X], val=X, val_loader=[X])


def test_gradient_accumulation_equals_the_big_batch():
    sheet = "STEP,lr,mse\n0,0.1,1\n9,,\n"
    big = make(sheet, PhaseData([X[:32]]))
    big.fit()
    small = make(sheet, PhaseData([X[:16], X[16:32]]), accumulate=2)
    small.fit()
    for p, q in zip(big.model.parameters(), small.model.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)


def test_bf16_autocast_trains_close_to_fp32():
    sheet = "STEP,lr,mse\n0,0.1,1\n49,,\n"
    full = make(sheet, PhaseData([X[:32]], val=X[32:]))
    full.fit()
    half = make(sheet, PhaseData([X[:32]], val=X[32:]), precision="bf16")
    seen = []
    half.on("step-metrics", lambda e: seen.append(e.result.outputs.dtype))
    half.fit()
    assert seen[0] == torch.bfloat16
    _, a = full.validate()
    _, b = half.validate()
    assert b["mse"] == pytest.approx(a["mse"], rel=0.1)


def test_per_group_learning_rate_and_gradient_clip():
    torch.manual_seed(0)
    model = Net()
    opt = torch.optim.SGD(
        [{"params": model.a.parameters(), "name": "enc"},
         {"params": model.b.parameters(), "name": "dec"}], lr=0.0,
    )  # fmt: skip
    sheet = "STEP,lr,lr-enc,grad-clip-enc,grad-clip,mse\n0,0.1,0.01,1e-3,0,1\n4,,,,,\n"
    trainer = Trainer(model, opt, Dopesheet.from_text(sheet), PhaseData([X[:32] * 100]),
                      {"mse": mse}, progress=False)  # fmt: skip
    norms = []

    def spy(event):
        enc = torch.cat([p.grad.flatten() for p in model.a.parameters()]).norm()
        norms.append(float(enc))

    trainer.on("step-metrics", spy)
    lrs = []
    trainer.on("step-metrics", lambda e: lrs.append([g["lr"] for g in opt.param_groups]))
    trainer.fit()
    assert all(n <= 1e-3 * (1 + 1e-5) for n in norms)  # the encoder group is clipped
    assert lrs[0] == [0.01, 0.1]  # lr-enc for the encoder, lr for the decoder


def test_fired_actions_run_at_the_next_step_and_are_recorded(tmp_path):
    trainer = make("STEP,ACTION,mse\n0,,1\n9,,\n", PhaseData([X[:8]]), out_dir=tmp_path)
    seen = []
    trainer.on("action:refresh", lambda e: seen.append(e.step), optional=True)
    trainer.on("step-metrics", lambda e: trainer.fire("refresh") if e.step == 3 else None)
    trainer.fit()
    assert seen == [4] and trainer.fired == [(4, "refresh")]
    assert load_checkpoint(tmp_path)["fired"] == [[4, "refresh"]]


def test_lr_follows_the_schedule_exactly_with_accumulation():
    sheet = "STEP,lr:log,mse\n0,1e-3,1\n5,1e-1,\n9,,\n"
    trainer = make(sheet, PhaseData([X[:8], X[8:16]]), accumulate=3)
    lrs = []
    trainer.on("step-metrics", lambda e: lrs.append(trainer.optimizer.param_groups[0]["lr"]))
    trainer.fit()
    assert lrs == realize(trainer.timeline)["lr"].tolist()


def test_a_csv_schedule_in_epochs_uses_the_loaders_length(tmp_path):
    path = tmp_path / "ep.csv"
    path.write_text("STEP,PHASE,lr,mse\n0,a,0.1,1\n2ep,b,,\n3ep,,0.01,\n")
    loader = [X[:8], X[8:16], X[16:24], X[24:32]]  # 4 batches an epoch
    trainer = Trainer(Net(), torch.optim.SGD(Net().parameters(), lr=0.1), path,
                      PhaseData(loader), {"mse": mse}, progress=False)  # fmt: skip
    assert [(p.name, p.start) for p in trainer.timeline.dopesheet.phases] == [("a", 0), ("b", 8)]
    assert len(trainer.timeline) == 13
    explicit = Trainer(Net(), torch.optim.SGD(Net().parameters(), lr=0.1), path,
                       PhaseData(loader), {"mse": mse}, progress=False, steps_per_epoch=10)  # fmt: skip
    assert len(explicit.timeline) == 31

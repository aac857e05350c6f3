"""The trainer's contract: event order, actuators, checks before step 0, faults, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from mini.temporal import Dopesheet, realize
from mini.training import (
    ConfigError,
    LatentRecorder,
    NonFiniteLossError,
    PhaseData,
    Result,
    SnapshotRecorder,
    SpecialCriterion,
    Trainer,
    load_checkpoint,
)

ORDER_SHEET = 'STEP,PHASE,ACTION,lr,mse\n0,A,go,0.1,1\n1,B,,,\n3,,"snap,end",0.01,\n'


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)

    def forward(self, x):
        return Result(self.lin(x), latents=x)


def make(sheet: str, **kw) -> Trainer:
    torch.manual_seed(0)
    model = Tiny()
    data = kw.pop("data", None) or PhaseData(
        [torch.randn(4, 2), torch.randn(4, 2)], val=torch.ones(3, 2)
    )
    criteria = kw.pop("criteria", None) or {"mse": lambda b, r: F.mse_loss(r.outputs, b)}
    opt = kw.pop("optimizer", None) or torch.optim.SGD(model.parameters(), lr=0.0)
    return Trainer(model, opt, Dopesheet.from_text(sheet), data, criteria, progress=False, **kw)


def test_exact_event_order():
    trainer = make(ORDER_SHEET)
    seen: list[tuple[str, int]] = []
    names = [
        "train-start", "phase-start", "phase-start:A", "phase-start:B", "action", "action:go",
        "action:snap", "action:end", "pre-step", "step-metrics", "phase-end", "phase-end:A",
        "phase-end:B", "train-end",
    ]  # fmt: skip
    for name in names:
        trainer.on(name, lambda e, name=name: seen.append((name, e.step)))
    trainer.fit()
    assert seen == [
        ("train-start", 0),
        ("phase-start", 0), ("phase-start:A", 0), ("action", 0), ("action:go", 0),
        ("pre-step", 0), ("step-metrics", 0), ("phase-end", 0), ("phase-end:A", 0),
        ("phase-start", 1), ("phase-start:B", 1), ("pre-step", 1), ("step-metrics", 1),
        ("pre-step", 2), ("step-metrics", 2),
        ("action", 3), ("action:snap", 3), ("action", 3), ("action:end", 3),
        ("pre-step", 3), ("step-metrics", 3), ("phase-end", 3), ("phase-end:B", 3),
        ("train-end", 3),
    ]  # fmt: skip


def test_action_event_carries_the_action_name_and_phase_end_carries_validation():
    trainer = make(ORDER_SHEET)
    actions, validations = [], []
    trainer.on("action", lambda e: actions.append(e.action))
    trainer.on("phase-end", lambda e: validations.append((e.phase, e.validation, e.losses)))
    trainer.fit()
    assert actions == ["go", "snap", "end"]
    assert [p for p, _, _ in validations] == ["A", "B"]
    _, val, losses = validations[0]
    assert isinstance(val, Result) and val.outputs.shape == (3, 2) and not val.outputs.requires_grad
    assert set(losses) == {"total", "mse"}


def test_lr_follows_the_schedule_exactly_including_named_groups():
    sheet = "STEP,lr:log,lr-head,mse\n0,1e-2,0.5,1\n50,1e-4,0.1,\n99,3e-3,,\n"
    torch.manual_seed(0)
    model = Tiny()
    opt = torch.optim.SGD(
        [{"params": [model.lin.weight]}, {"params": [model.lin.bias], "name": "head"}], lr=1.0
    )
    trainer = make(sheet, optimizer=opt)
    trainer.model = model
    seen = []
    trainer.on("step-metrics", lambda e: seen.append([g["lr"] for g in opt.param_groups]))
    trainer.fit()
    expected = realize(trainer.timeline.dopesheet)
    assert [s[0] for s in seen] == expected["lr"].tolist()
    assert [s[1] for s in seen] == expected["lr-head"].tolist()


def test_weight_zero_terms_are_not_computed():
    calls = []

    def counted(batch, result):
        calls.append(1)
        return result.outputs.pow(2).mean()

    sheet = "STEP,mse,reg::step-end\n0,1,0\n10,,0.5\n20,,0\n29,,\n"
    trainer = make(sheet, criteria={"mse": lambda b, r: F.mse_loss(r.outputs, b), "reg": counted})
    losses = []
    trainer.on("step-metrics", lambda e: losses.append(e.losses))
    trainer.fit()
    assert len(calls) == 10  # steps 10..19 only (training; validation at the end has weight 0)
    assert all("reg" not in x for x in losses[:10]) and all("reg" in x for x in losses[10:20])


def test_every_filters_step_events():
    trainer = make("STEP,mse\n0,1\n20,1\n")
    steps = []
    trainer.on("step-metrics", lambda e: steps.append(e.step), every=7)
    trainer.fit()
    assert steps == [0, 7, 14]
    with pytest.raises(ValueError, match="unknown event"):
        trainer.on("step_end", lambda e: None)


def test_bindings_drive_actuators_when_values_change():
    class Knob:
        value = None
        calls = 0

        def set(self, v):
            self.value = v
            self.calls += 1

    knob = Knob()
    trainer = make("STEP,mse,temp::step-end\n0,1,1\n5,,2\n9,,\n")
    trainer.bind("temp", knob.set)
    trainer.fit()
    assert knob.value == 2 and knob.calls == 2


def test_missing_prop_and_missing_phase_fail_before_any_step():
    trainer = make("STEP,PHASE,mse\n0,A,1\n5,B,\n", data={"A": PhaseData([torch.zeros(1, 2)])})
    trainer.bind("temperature", lambda v: None)
    trainer.criteria["reg-x"] = lambda b, r: r.outputs.sum()
    started = []
    trainer.on("train-start", lambda e: started.append(1))
    before = [p.clone() for p in trainer.model.parameters()]
    with pytest.raises(ConfigError) as info:
        trainer.fit()
    msg = str(info.value)
    assert "criterion 'reg-x' has no column" in msg
    assert "property 'temperature'" in msg
    assert "phase 'B' (steps 5–5) has no data" in msg
    assert not started
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.model.parameters(), strict=True))


def test_unread_props_warn():
    trainer = make("STEP,mse,tempreature\n0,1,1\n3,,\n")
    with pytest.warns(UserWarning, match="'tempreature' not read by anything"):
        trainer.fit()


def test_each_phase_draws_from_its_own_loader():
    a, b = torch.zeros(2, 2), torch.ones(2, 2)
    trainer = make(
        "STEP,PHASE,mse\n0,,1\n2,A,\n4,B,\n5,,\n",
        data={None: PhaseData([a]), "A": PhaseData([a + 2]), "B": PhaseData([b, b * 3])},
    )
    batches = []
    trainer.on("step-metrics", lambda e: batches.append(float(e.batch[0, 0])))
    trainer.fit()
    assert batches == [0.0, 0.0, 2.0, 2.0, 1.0, 3.0]


def test_non_finite_loss_names_step_phase_and_term_and_saves_last_good_state(tmp_path):
    def poison(batch, result):
        bad = torch.tensor(float("nan")) if trainer.current_step == 6 else torch.tensor(0.0)
        return result.outputs.sum() * 0 + bad

    sheet = "STEP,PHASE,mse,poison\n0,Warm,1,0.5\n5,Main,,\n10,,,\n"
    trainer = make(
        sheet,
        criteria={"mse": lambda b, r: F.mse_loss(r.outputs, b), "poison": poison},
        out_dir=tmp_path,
    )
    trainer.optimizer.param_groups[0]["lr"] = 0.1
    good = {}
    trainer.on(
        "pre-step",
        lambda e: good.update({k: v.clone() for k, v in trainer.model.state_dict().items()}),
    )
    with pytest.raises(NonFiniteLossError) as info:
        trainer.fit()
    err = info.value
    assert "step 6" in str(err) and "'Main'" in str(err) and "'poison' = nan" in str(err)
    assert err.step == 6 and err.terms == ["poison"]
    ckpt = load_checkpoint(err.checkpoint)  # weights_only
    assert ckpt["step"] == 5
    assert all(torch.equal(ckpt["model"][k], v) for k, v in good.items())


def test_ctrl_c_finishes_the_step_writes_a_checkpoint_and_returns(tmp_path):
    trainer = make("STEP,mse\n0,1\n50,\n", out_dir=tmp_path)
    trainer.on("pre-step", lambda e: os.kill(os.getpid(), signal.SIGINT) if e.step == 7 else None)
    result = trainer.fit()
    assert result.interrupted and result.last_step == 7
    assert load_checkpoint(result.checkpoint)["step"] == 7
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["step"] == 7
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_metrics_jsonl_records_and_history(tmp_path):
    trainer = make("STEP,PHASE,mse,w\n0,A,1,0.5\n9,,,\n", out_dir=tmp_path, metrics_every=3)
    trainer.on("pre-step", lambda e: None, reads=["w"])
    trainer.on("step-metrics", lambda e: trainer.record(note=e.step * 2) if e.step == 3 else None)
    trainer.fit()
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [0, 3, 6, 9]
    assert records[0]["props"] == {"mse": 1.0, "w": 0.5} and records[0]["phase"] == "A"
    assert set(records[0]["losses"]) == {"total", "mse"}
    assert records[1]["extras"] == {"note": 6}
    assert "val-total" in records[-1]["extras"]
    hist = trainer.metrics.history()
    assert hist["step"].tolist() == [0, 3, 6, 9] and "losses.mse" in hist.columns


def test_latent_recorder_keeps_outputs_not_models():
    trainer = make("STEP,mse\n0,1\n30,\n")
    trainer.optimizer.param_groups[0]["lr"] = 0.1
    probe = torch.eye(2)
    rec = LatentRecorder(probe, steps=[0, 10, 30], fn=lambda m, p: m(p).outputs)
    trainer.add(rec)
    trainer.fit()
    frames = rec.frames["latents"]
    assert frames.shape == (3, 2, 2) and rec.recorded.all()
    assert not torch.equal(frames[0], frames[2])  # the model moved
    assert all(isinstance(v, torch.Tensor) for v in rec.state_dict()["frames"].values())


def test_snapshot_recorder_stays_within_budget():
    trainer = make("STEP,mse\n0,1\n40,\n")
    one = sum(p.numel() * p.element_size() for p in trainer.model.state_dict().values())
    rec = SnapshotRecorder(steps=range(41), max_bytes=5 * one)
    trainer.add(rec)
    trainer.fit()
    assert rec.nbytes <= 5 * one and 2 <= len(rec.snapshots) <= 5
    assert 0 in rec.snapshots  # thinning keeps the earliest and spreads the rest


class Counter(SpecialCriterion):
    """A special criterion with checkpointed state and its own forward."""

    def __init__(self):
        self.captured = None

    def attach(self, trainer):
        trainer.on(
            "action:capture",
            lambda e: setattr(self, "captured", e.trainer.model.lin.weight.detach().clone()),
        )

    def __call__(self, model, trainer):
        if self.captured is None:
            return model.lin.weight.sum() * 0
        return (model.lin.weight - self.captured).pow(2).sum()

    def state_dict(self):
        return {"captured": self.captured}

    def load_state_dict(self, state):
        self.captured = state["captured"]


def test_special_criterion_runs_its_own_forward_and_sees_actions():
    trainer = make(
        "STEP,ACTION,mse,drift\n0,,1,1\n5,capture,,\n20,,,\n",
        criteria={"mse": lambda b, r: F.mse_loss(r.outputs, b), "drift": Counter()},
    )
    trainer.optimizer.param_groups[0]["lr"] = 0.05
    losses = []
    trainer.on("step-metrics", lambda e: losses.append(e.losses["drift"]))
    trainer.fit()
    assert losses[:6] == [0.0] * 6  # zero until (and at) the capture step's own update
    assert losses[10] > 0

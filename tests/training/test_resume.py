"""Resume exactness: interrupting anywhere and resuming gives bit-identical weights and logs."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

from mini.temporal import Dopesheet
from mini.training import (
    LatentRecorder,
    PhaseData,
    Result,
    ResumeWarning,
    SpecialCriterion,
    Trainer,
)

SHEET = """STEP,PHASE,ACTION,lr:log,mse,drift,noise
0,Warm,,1e-2,1,0,0.5
12,Main,capture,,,0.5,
+0.5,,,3e-3,,,0.1
40,Last,,,0.5,1,
59,,,1e-3,,,0
"""


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(3, 8)
        self.drop = nn.Dropout(0.3)  # draws from the global torch RNG every step
        self.dec = nn.Linear(8, 3)
        self.noise = 0.0

    def forward(self, x):
        z = self.drop(torch.tanh(self.enc(x)))
        if self.training and self.noise:
            z = z + self.noise * torch.randn_like(z)
        return Result(self.dec(z), latents=z)


class Drift(SpecialCriterion):
    def __init__(self, ref):
        self.ref, self.anchor = ref, None

    def attach(self, trainer):
        trainer.on("action:capture", self.capture)

    def capture(self, event):
        with torch.no_grad():
            self.anchor = event.trainer.model.enc(self.ref).clone()

    def __call__(self, model, trainer):
        if self.anchor is None:
            return model.enc.weight.sum() * 0
        return (model.enc(self.ref) - self.anchor).pow(2).mean()

    def state_dict(self):
        return {"anchor": self.anchor}

    def load_state_dict(self, state):
        self.anchor = state["anchor"]


class StatefulBatches:
    """A loader with its own state (the path the dynamic samplers take)."""

    def __init__(self, data, batch, seed):
        self.data, self.batch = data, batch
        self.gen = torch.Generator().manual_seed(seed)
        self.pos = 0

    def __iter__(self):
        while True:
            idx = torch.randint(len(self.data), (self.batch,), generator=self.gen)
            self.pos += 1
            yield self.data[idx]
            if self.pos % 7 == 0:
                return

    def state_dict(self):
        return {"gen": self.gen.get_state(), "pos": self.pos}

    def load_state_dict(self, state):
        self.gen.set_state(state["gen"])
        self.pos = state["pos"]


def build(out_dir, sheet=SHEET, checkpoint_every=10):
    torch.manual_seed(1234)
    model = Net()
    data = torch.rand(64, 3)
    loader = torch.utils.data.DataLoader(data, batch_size=16, shuffle=True)
    data_map = {
        "Warm": PhaseData(loader, val=data[:8]),
        "Main": PhaseData(StatefulBatches(data, 16, seed=5), val=data[:8]),
        "Last": PhaseData(loader, val=data),
    }
    trainer = Trainer(
        model,
        torch.optim.Adam(model.parameters()),
        Dopesheet.from_text(sheet, source="sheet.csv"),
        data_map,
        {"mse": lambda b, r: F.mse_loss(r.outputs, b), "drift": Drift(data[:4])},
        out_dir=out_dir,
        checkpoint_every=checkpoint_every,
        progress=False,
    )
    trainer.bind("noise", lambda v: setattr(model, "noise", v))
    recorder = LatentRecorder(data[:5], steps=[0, 5, 13, 30, 59])
    trainer.add(recorder)
    return trainer, recorder


def straight(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight")
    trainer, rec = build(out)
    trainer.fit()
    return trainer, rec, out


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return straight(tmp_path_factory)


def interrupted_then_resumed(out, stop_at: int, **kw):
    first, _ = build(out, **kw)
    first.on("step-metrics", lambda e: first.stop("test") if e.step == stop_at else None)
    result = first.fit()
    assert result.stopped == "test" and result.last_step == stop_at
    second, rec = build(out, **kw)  # a fresh process would rebuild exactly like this
    second.fit(resume=out / "checkpoints")
    return second, rec


def assert_identical(a, b, out_a, out_b, rec_a, rec_b):
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa), "weights differ"
    assert (out_a / "metrics.jsonl").read_bytes() == (out_b / "metrics.jsonl").read_bytes()
    assert torch.equal(rec_a.frames["latents"], rec_b.frames["latents"])


@pytest.mark.parametrize("stop_at", [0, 11, 12, 25, 39, 40, 58])
def test_resume_is_bit_identical(reference, tmp_path, stop_at):
    ref, ref_rec, ref_out = reference
    resumed, rec = interrupted_then_resumed(tmp_path, stop_at)
    assert_identical(ref, resumed, ref_out, tmp_path, ref_rec, rec)


@given(stop_at=st.integers(0, 58), every=st.sampled_from([1, 3, 10, None]))
@settings(max_examples=6, deadline=None)
def test_resume_is_bit_identical_anywhere(tmp_path_factory, stop_at, every):
    ref, ref_rec, ref_out = straight(tmp_path_factory)
    out = tmp_path_factory.mktemp("resumed")
    resumed, rec = interrupted_then_resumed(out, stop_at, checkpoint_every=every)
    assert_identical(ref, resumed, ref_out, out, ref_rec, rec)


def test_resume_twice_in_a_row(reference, tmp_path):
    ref, ref_rec, ref_out = reference
    interrupted_then_resumed(tmp_path, 20)
    # interrupt the resumed run again, later on
    again, _ = build(tmp_path)
    again.on("step-metrics", lambda e: again.stop("x") if e.step == 45 else None)
    again.fit(resume=tmp_path / "checkpoints")
    final, rec = build(tmp_path)
    final.fit(resume=tmp_path / "checkpoints")
    assert_identical(ref, final, ref_out, tmp_path, ref_rec, rec)


def test_resume_with_an_edited_dopesheet_warns_about_the_past_and_applies_the_future(tmp_path):
    first, _ = build(tmp_path)
    first.on("step-metrics", lambda e: first.stop("edit") if e.step == 30 else None)
    first.fit()
    edited = SHEET.replace("12,Main,capture,,,0.5,", "12,Main,capture,,,0.9,").replace(
        "59,,,1e-3,,,0", "59,,,5e-4,,,0"
    )
    second, _ = build(tmp_path, sheet=edited)
    lrs = {}
    second.on("step-metrics", lambda e: lrs.__setitem__(e.step, e.state.props["lr"]))
    with pytest.warns(ResumeWarning) as caught:
        second.fit(resume=tmp_path / "checkpoints")
    msg = str(caught[0].message)
    assert "sheet.csv changed since the checkpoint at step 30" in msg
    assert "line 3 (step 12)" in msg  # the past edit is named and ignored
    assert "changed: lr, drift" in msg
    assert min(lrs) == 31 and lrs[59] == 5e-4  # the future edit applies
    assert abs(lrs[31] - first.timeline[31]["lr"]) / lrs[31] < 0.01  # no jump at the resume

"""Gates in the trainer: openings as events and records, names checked before step 0, early
stopping, exact resume mid-hold, and the as-run dopesheet replaying the run bit for bit."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from mini.temporal import Dopesheet, GatedTimeline
from mini.training import PhaseData, Result, Trainer
from mini.training.checks import ConfigError
from mini.training.gate_handler import AS_RUN, GateHandler

SHEET = """STEP,PHASE,ACTION,lr:log,mse,GATE
0,Warm,,1e-2,1,
10,Main,mark,,0.5,until signal < 0.5 and mse < 10 max 12
20,,,3e-3,,
30,Last,,,1,when signal2 > 0.5 blend 3
40,,,1e-3,,
"""


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x):
        return Result(self.lin(x))


class Signals:
    """Records synthetic metrics: ``signal`` drops below 0.5 at ``drop``; ``signal2`` rises at
    ``rise`` and is logged every third step only."""

    def __init__(self, drop: int, rise: int):
        self.drop, self.rise = drop, rise

    def attach(self, trainer):
        def record(e):
            trainer.record(signal=1.0 if e.step < self.drop else 0.0)
            if e.step % 3 == 0:
                trainer.record(signal2=1.0 if e.step >= self.rise else 0.0)

        trainer.on("pre-step", record)


def build(out_dir, sheet=SHEET, drop=15, rise=33, **handler_kw):
    torch.manual_seed(7)
    model = Net()
    data = torch.rand(32, 3)
    loader = torch.utils.data.DataLoader(data, batch_size=8, shuffle=True)
    trainer = Trainer(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        Dopesheet.from_text(sheet, source="sheet.csv"),
        PhaseData(loader, val=data[:8]),
        {"mse": lambda b, r: F.mse_loss(r.outputs, b)},
        out_dir=out_dir,
        checkpoint_every=4,
        progress=False,
        seed=3,
    )
    trainer.add(Signals(drop, rise))
    metrics = {"signal": "the test's Signals handler", "signal2": "Signals, every 3 steps"}
    if "GATE" in sheet.splitlines()[0]:
        trainer.add(GateHandler(metrics=metrics, **handler_kw))
    return trainer


def records(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    out = tmp_path_factory.mktemp("gated")
    trainer = build(out)
    events = []
    trainer.on("gate", lambda e: events.append(("gate", e.step, e.extras["gate"]["label"])))
    trainer.on("gate:Main", lambda e: events.append(("gate:Main", e.step)))
    result = trainer.fit()
    return trainer, result, out, events


def test_the_trainer_follows_the_gates(straight):
    trainer, result, out, events = straight
    assert isinstance(trainer.timeline, GatedTimeline)
    recs = records(out)
    sched = [r["extras"]["schedule-step"] for r in recs]
    assert sched[10:17] == [10] * 6 + [11]  # held 10..15 (signal < 0.5 logged at 15)
    opened = [r["extras"]["gate"] for r in recs if "gate" in r["extras"]]
    assert [(g["label"], g["kind"], g["step"], g["held"]) for g in opened] == [
        ("Main", "until", 15, 5),
        ("Last", "when", 33, 0),
    ]
    assert sched[34] == 30 and recs[34]["phase"] == "Last"
    assert events == [("gate", 15, "Main"), ("gate:Main", 15), ("gate", 33, "Last")]
    assert result.last_step == len(recs) - 1 == 44


def test_the_as_run_sheet_replays_the_run_bit_for_bit(straight, tmp_path):
    _, _, out, _ = straight
    as_run = Dopesheet.from_csv(out / AS_RUN)
    assert as_run.gates == ()
    replay = build(tmp_path, sheet=(out / AS_RUN).read_text().replace("\r\n", "\n"))
    replay.fit()
    a, b = records(out), records(tmp_path)
    assert [r["props"] for r in a] == [r["props"] for r in b]
    assert [r["losses"] for r in a] == [r["losses"] for r in b]  # the same training, too


@pytest.mark.parametrize("stop_at", [12, 14, 31])
def test_resume_mid_hold_and_mid_window_is_bit_identical(straight, tmp_path, stop_at):
    trainer, _, out, _ = straight
    first = build(tmp_path)
    first.on("step-metrics", lambda e: first.stop("test") if e.step == stop_at else None)
    first.fit()
    second = build(tmp_path)
    second.fit(resume=tmp_path / "checkpoints")
    assert [r["props"] for r in records(tmp_path)] == [r["props"] for r in records(out)]
    assert [r["losses"] for r in records(tmp_path)] == [r["losses"] for r in records(out)]
    for p, q in zip(second.model.parameters(), trainer.model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_unknown_metric_is_an_error_before_step_0(tmp_path):
    trainer = build(tmp_path, sheet=SHEET.replace("mse < 10", "mes < 10"))
    with pytest.raises(ConfigError, match=r"sheet.csv:3:6: .*'mes'.*did you mean 'mse'"):
        trainer.fit()
    assert trainer._completed is None


def test_when_on_the_last_row_stops_the_run(tmp_path):
    sheet = "STEP,lr,mse,GATE\n0,1e-2,1,\n100,,,when mse plateau 3 delta 10\n"
    trainer = build(tmp_path, sheet=sheet)
    result = trainer.fit()  # the schedule ends there: a complete run, not a stopped one
    assert result.last_step == 3 and result.stopped is None
    assert [o.kind for o in trainer.timeline.openings] == ["stop"]
    assert (tmp_path / AS_RUN).exists() and Dopesheet.from_csv(tmp_path / AS_RUN).last_step == 3


@pytest.mark.slow
def test_lightning_gives_the_same_openings(straight):
    """The same gated sheet and metric stream under the Lightning callback as it exists now:
    it walks a GatedTimeline it is given, and a step-metrics handler feeds it. (Once the shared
    schedule engine lands, GateHandler itself should serve Lightning; this test stays.)"""
    lightning = pytest.importorskip("lightning")
    from mini.adapters.lightning import DopesheetCallback

    trainer, _, _, _ = straight
    tl = GatedTimeline(Dopesheet.from_text(SHEET, source="sheet.csv"))
    cb = DopesheetCallback(tl)
    signals = Signals(drop=15, rise=33)

    def feed(e):
        m = {
            "mse": float((e.losses or {}).get("loss", 0.0)),
            "signal": 1.0 if e.step < signals.drop else 0.0,
        }
        if e.step % 3 == 0:
            m["signal2"] = 1.0 if e.step >= signals.rise else 0.0
        tl.observe(e.step, m)

    cb.on("step-metrics", feed)

    class Module(lightning.LightningModule):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def training_step(self, batch, batch_idx):
            return F.mse_loss(self.lin(batch), batch)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    loader = torch.utils.data.DataLoader(torch.rand(32, 3), batch_size=8)
    lightning.Trainer(
        accelerator="cpu", devices=1, logger=False, callbacks=[cb], max_steps=len(trainer.timeline),
        enable_progress_bar=False, enable_checkpointing=False, enable_model_summary=False,
        max_epochs=-1,
    ).fit(Module(), loader)  # fmt: skip
    ours = [(o.label, o.kind, o.step, o.held, o.skipped) for o in trainer.timeline.openings]
    assert [(o.label, o.kind, o.step, o.held, o.skipped) for o in tl.openings] == ours


def test_the_progress_line_shows_the_schedule_step_when_it_differs(straight):
    from mini.training.events import Event
    from mini.training.progress import TrainingProgress

    trainer = straight[0]
    held, plain = trainer.timeline[13], trainer.timeline[5]
    line = TrainingProgress().line(Event("step-metrics", trainer, held, losses={}))
    assert "step 14/45" in line and "schedule step 10" in line
    assert "schedule" not in TrainingProgress().line(Event("step-metrics", trainer, plain))


@pytest.mark.slow
def test_the_colour_example_follows_a_gated_schedule(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    cmd = [
        sys.executable, "-m", "examples.color_curriculum", "--no-video", "--steps", "150",
        "--schedule", "schedules/color-curriculum-gated.csv", "--out", str(tmp_path),
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    recs = records(tmp_path)
    assert all("schedule-step" in r["extras"] for r in recs)
    assert Dopesheet.from_csv(tmp_path / AS_RUN).last_step == len(recs) - 1

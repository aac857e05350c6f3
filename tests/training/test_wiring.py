"""Wiring mistakes get the same quality of message as dopesheet mistakes; every public method
works in any order; one metrics schema; progress output with and without a terminal."""

from __future__ import annotations

import io
import json

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from rich.console import Console
from torch import nn
from torch.nn import functional as F

from mini.temporal import Dopesheet, Timeline
from mini.training import ConfigError, PhaseData, Result, Trainer, TrainingProgress
from tests.temporal.strategies import dopesheet_text


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)

    def forward(self, x):
        return Result(self.lin(x), latents=x)


def mse(b, r):
    return F.mse_loss(r.outputs, b)


def make(sheet: str, **kw) -> Trainer:
    torch.manual_seed(0)
    model = Tiny()
    data = kw.pop("data", None) or PhaseData([torch.randn(4, 2)], val=torch.ones(3, 2))
    criteria = kw.pop("criteria", None) or {"mse": mse}
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    kw.setdefault("progress", False)
    return Trainer(model, opt, Dopesheet.from_text(sheet, source="run.csv"), data, criteria, **kw)


SHEET = "STEP,PHASE,ACTION,mse,hard-mix\n0,A,go,1,0\n5,B,,,1\n9,,,,\n"


def test_validate_works_before_fit():
    trainer = make(SHEET, criteria={"mse": mse}, data={"A": PhaseData([torch.randn(4, 2)], val=torch.ones(3, 2)), "B": PhaseData([torch.randn(4, 2)])})  # fmt: skip
    result, losses = trainer.validate()
    assert result is not None and set(losses) == {"total", "mse"}


def test_duplicate_checkpoint_keys_are_errors():
    class Stateful:
        def attach(self, trainer):
            pass

        def state_dict(self):
            return {}

        def load_state_dict(self, state):
            pass

    trainer = make(SHEET)
    with pytest.raises(ValueError, match="one handler"):
        trainer.add(Stateful(), Stateful(), key="x")
    trainer.add(Stateful(), key="x")
    with pytest.raises(ValueError, match="'x' is already used"):
        trainer.add(Stateful(), key="x")


@pytest.mark.parametrize(
    "event, expected",
    [
        ("phase-end:a", "phase 'a' is not in run.csv (did you mean 'A'?)"),
        ("phase-start:Bee", "phase 'Bee' is not in run.csv (did you mean 'B'?)"),
        ("action:goo", "action 'goo' is not in run.csv (did you mean 'go'?)"),
    ],
)
def test_event_names_are_checked_against_the_dopesheet(event, expected):
    trainer = make(SHEET)
    trainer.bind("hard-mix", lambda v: None)
    trainer.on(event, lambda e: None)
    with pytest.raises(ConfigError) as info:
        trainer.fit()
    assert expected in str(info.value) and "would never run" in str(info.value)


def test_optional_subscriptions_and_runtime_actions_are_allowed():
    trainer = make(SHEET)
    trainer.bind("hard-mix", lambda v: None)
    trainer.on("action:refresh", lambda e: None, optional=True)
    trainer.check()


def test_unknown_event_base_names_say_did_you_mean():
    trainer = make(SHEET)
    with pytest.raises(ValueError, match="did you mean 'phase-end'"):
        trainer.on("phase_end", lambda e: None)
    with pytest.raises(ValueError, match="no named form"):
        trainer.on("pre-step:A", lambda e: None)


def test_bind_typo_says_did_you_mean():
    trainer = make(SHEET)
    trainer.bind("hard_mix", lambda v: None)
    with pytest.raises(ConfigError, match=r"'hard_mix' .* \(did you mean 'hard-mix'\?\)"):
        trainer.fit()


def test_data_for_a_phase_that_does_not_exist_is_an_error():
    data = {p: PhaseData([torch.randn(4, 2)]) for p in ("A", "B", "Bb-typo")}
    trainer = make(SHEET, data=data)
    trainer.bind("hard-mix", lambda v: None)
    with pytest.raises(ConfigError, match=r"data for phase 'Bb-typo' .* never be used"):
        trainer.fit()


def test_on_returns_a_subscription_that_removes_the_handler():
    trainer = make(SHEET)
    trainer.bind("hard-mix", lambda v: None)
    seen: list[int] = []
    sub = trainer.on("step-metrics", lambda e: seen.append(e.step))
    trainer.on("step-metrics", lambda e: sub.remove() if e.step == 3 else None)
    trainer.fit()
    assert seen == [0, 1, 2, 3] and not sub.active
    sub.remove()  # idempotent


def test_criteria_may_take_the_state():
    seen = {}

    def smoothed(batch, result, state):
        seen[state.step] = state.props["hard-mix"]
        return F.mse_loss(result.outputs, batch)

    trainer = make(SHEET, criteria={"mse": smoothed})
    trainer.bind("hard-mix", lambda v: None)
    trainer.fit()
    tl = Timeline(trainer.timeline.dopesheet)
    assert seen == {i: tl[i].props["hard-mix"] for i in range(10)}


def test_every_metrics_line_has_the_same_keys(tmp_path):
    trainer = make("STEP,mse\n0,1\n2,0\n4,\n", out_dir=tmp_path)  # weight 0: no losses at all
    trainer.fit()
    records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all(set(r) == {"step", "phase", "props", "losses", "extras"} for r in records)
    assert records[-1]["losses"] == {} and records[0]["extras"] == {}


def test_without_a_terminal_progress_prints_plain_lines():
    buf = io.StringIO()
    progress = TrainingProgress(console=Console(file=buf, force_terminal=False), line_every_s=0)
    trainer = make(SHEET)
    trainer.bind("hard-mix", lambda v: None)
    trainer.add(progress)
    trainer.fit()
    out = buf.getvalue()
    assert "step 10/10 (100%) | B |" in out and "loss " in out and "mse " in out
    assert "phase 'A' done" in out and "\x1b[" not in out  # plain text, no escape codes


def test_print_from_a_handler_goes_above_the_live_bar(capsys, monkeypatch):
    monkeypatch.delenv("CI", raising=False)  # CI=1 means plain lines, no live bar
    buf = io.StringIO()
    progress = TrainingProgress(console=Console(file=buf, force_terminal=True, width=100))
    trainer = make(SHEET)
    trainer.bind("hard-mix", lambda v: None)
    trainer.add(progress)
    trainer.on("step-metrics", lambda e: print("hello from step", e.step), every=5)
    trainer.fit()
    assert "hello from step 5" in buf.getvalue()  # routed through the console
    assert "hello from step" not in capsys.readouterr().out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dopesheet_text(max_step=40))
def test_event_order_invariants_on_random_dopesheets(text):
    ds = Dopesheet.from_text(text)
    torch.manual_seed(0)
    model = Tiny()
    trainer = Trainer(
        model, torch.optim.SGD(model.parameters(), lr=0.0), ds, PhaseData([torch.randn(4, 2)]),
        {}, progress=False, metrics_every=None,
    )  # fmt: skip
    log: list[tuple[str, int]] = []
    for name in ("train-start", "phase-start", "action", "pre-step", "step-metrics", "phase-end", "train-end"):  # fmt: skip
        trainer.on(name, lambda e, n=name: log.append((n, e.step)))
    for name in ds.specs:
        trainer.on("pre-step", lambda e: None, reads=[name])
    trainer.fit()
    n = ds.n_steps
    assert log[0] == ("train-start", 0) and log[-1] == ("train-end", n - 1)
    steps = [s for k, s in log if k == "pre-step"]
    assert steps == list(range(n))
    starts = [s for k, s in log if k == "phase-start"]
    ends = [s for k, s in log if k == "phase-end"]
    assert starts == [p.start for p in ds.phases] and ends == [p.end for p in ds.phases]
    actions = [s for k, s in log if k == "action"]
    assert actions == [s for s, _ in ds.actions]
    # within a step: phase-start, actions, pre-step, step-metrics, phase-end
    rank = {"phase-start": 0, "action": 1, "pre-step": 2, "step-metrics": 3, "phase-end": 4}
    body = [(s, rank[k]) for k, s in log if k in rank]
    assert body == sorted(body)

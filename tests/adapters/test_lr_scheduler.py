"""DopesheetLR: a real torch LR scheduler whose learning rates are the dopesheet's, exactly."""

from __future__ import annotations

import io
import logging
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.optim.lr_scheduler import LRScheduler

from mini.adapters import DopesheetLR
from mini.temporal import Dopesheet, realize
from mini.training import ConfigError, PhaseData, Trainer
from tests.adapters.sheets import EVENT_NAMES, ORDER, ORDER_EVENTS, recorder, two_groups

SHEET = Dopesheet.from_text(
    "STEP,PHASE,lr:log,lr-head:log,temperature\n0,warm,1e-4,1e-3,1\n20,main,1e-2,,0.5\n"
    "59,,1e-5,1e-5,0.1\n",
    source="sheet.csv",
)


def run(sched: DopesheetLR, opt: torch.optim.Optimizer, steps: int) -> list[list[float]]:
    """A plain loop: record each group's lr as the optimizer step uses it."""
    lrs = []
    for _ in range(steps):
        lrs.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    return lrs


def test_is_a_torch_scheduler_and_sets_each_groups_lr_exactly():
    _, opt = two_groups()
    sched = DopesheetLR(opt, SHEET)
    assert isinstance(sched, LRScheduler)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "step() before optimizer.step()" or other warnings
        lrs = run(sched, opt, len(SHEET))
    df = realize(SHEET)
    assert [lr[0] for lr in lrs] == df["lr"].tolist()  # unnamed group: lr
    assert [lr[1] for lr in lrs] == df["lr-head"].tolist()  # group "head": lr-head
    assert sched.get_last_lr() == [df["lr"].iloc[-1], df["lr-head"].iloc[-1]]


def test_a_group_no_column_drives_keeps_its_lr():
    _, opt = two_groups(lr=0.5)
    sheet = Dopesheet.from_text("STEP,lr-head\n0,0.1\n9,0.2\n")
    sched = DopesheetLR(opt, sheet)
    lrs = run(sched, opt, 10)
    assert [lr[0] for lr in lrs] == [0.5] * 10
    assert [lr[1] for lr in lrs] == realize(sheet)["lr-head"].tolist()


def test_other_properties_are_readable_and_bindable():
    _, opt = two_groups()
    bound: list[tuple[int, float]] = []
    sched = DopesheetLR(opt, SHEET)
    sched.bind("temperature", lambda v: bound.append((sched.state.step, v)))
    temps = []
    for _ in range(len(SHEET)):
        temps.append(sched.props["temperature"])
        opt.step()
        sched.step()
    expected = realize(SHEET)["temperature"].tolist()
    assert temps == expected
    # bound before the first step(): applied at once, then on every change
    assert bound[0] == (0, 1.0)
    assert [v for _, v in bound] == [
        v for i, v in enumerate(expected) if i == 0 or v != expected[i - 1]
    ]


def test_events_match_our_trainers_names_and_order():
    _, opt = two_groups()
    seen: list[tuple[str, int]] = []
    sched = DopesheetLR(opt, ORDER, handlers={n: recorder(seen, n) for n in EVENT_NAMES})
    run(sched, opt, len(ORDER) + 2)  # two steps past the end: nothing fires again
    assert seen == ORDER_EVENTS

    # ... the same sequence as our Trainer on the same dopesheet
    model, opt = two_groups()
    trainer = Trainer(model, opt, ORDER, PhaseData([torch.zeros(1, 3)]), progress=False,
                      metrics_every=None)  # fmt: skip
    trainer_seen: list[tuple[str, int]] = []
    for name in EVENT_NAMES:
        trainer.on(name, recorder(trainer_seen, name))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 'w' is read by nothing in that run
        trainer.fit()
    assert seen == trainer_seen


def test_handlers_registered_before_the_first_step_see_step_0():
    _, opt = two_groups()
    seen: list[tuple[str, int]] = []
    sched = DopesheetLR(opt, ORDER, handlers={"action": recorder(seen, "action")})
    late: list[tuple[str, int]] = []
    for name in EVENT_NAMES:  # after construction: step 0's events are replayed to them
        sched.on(name, recorder(late, name))
    run(sched, opt, len(ORDER))
    assert seen == [("action", 0), ("action", 3), ("action", 3)]
    assert sorted(late) == sorted(ORDER_EVENTS)
    assert [e for e in late if e[1] > 0] == [e for e in ORDER_EVENTS if e[1] > 0]
    too_late: list[tuple[str, int]] = []
    sched.on("action", recorder(too_late, "action"))  # after a step(): no replay
    assert too_late == []


def test_hook_methods_can_be_overridden():
    class Mine(DopesheetLR):
        def __init__(self, *a, **k):
            self.phases: list[tuple[str | None, int]] = []
            super().__init__(*a, **k)

        def on_phase_start(self, phase, event):
            self.phases.append((phase, event.step))
            super().on_phase_start(phase, event)

    _, opt = two_groups()
    sched = Mine(opt, ORDER)
    run(sched, opt, len(ORDER))
    assert sched.phases == [("A", 0), ("B", 1)]


def test_state_dict_resumes_exactly_through_torch_save_weights_only():
    _, opt = two_groups()
    sched = DopesheetLR(opt, SHEET)
    full = run(sched, opt, len(SHEET))

    _model, opt = two_groups()
    sched = DopesheetLR(opt, SHEET)
    first = run(sched, opt, 25)
    sched.timeline.set("temperature", 3.0, duration=5)  # a runtime override is saved too
    buffer = io.BytesIO()
    torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, buffer)
    expected_temps = [sched.timeline[i].props["temperature"] for i in range(25, len(SHEET))]

    buffer.seek(0)
    ckpt = torch.load(buffer, weights_only=True)
    _model2, opt2 = two_groups()
    seen: list[tuple[str, int]] = []
    sched2 = DopesheetLR(opt2, SHEET)  # as torch advises: scheduler first, then optimizer state
    opt2.load_state_dict(ckpt["optimizer"])
    sched2.load_state_dict(ckpt["scheduler"])
    sched2.on("phase-start", recorder(seen, "phase-start"))  # nothing of step 25 is replayed
    assert sched2.last_epoch == 25 and sched2.state.step == 25
    temps = []
    rest = []
    for _ in range(25, len(SHEET)):
        temps.append(sched2.props["temperature"])
        rest.append([g["lr"] for g in opt2.param_groups])
        opt2.step()
        sched2.step()
    assert first + rest == full
    assert temps == expected_temps  # the override came back with the checkpoint
    assert temps != realize(SHEET)["temperature"].tolist()[25:]
    assert seen == []  # no phase starts after step 25, and none refired


@settings(max_examples=25, deadline=None)
@given(stop=st.integers(0, 59))
def test_resume_at_any_step_continues_the_same_lrs(stop):
    _, opt = two_groups()
    sched = DopesheetLR(opt, SHEET)
    first = run(sched, opt, stop)
    state = sched.state_dict()
    _, opt2 = two_groups()
    sched2 = DopesheetLR(opt2, SHEET)
    sched2.load_state_dict(state)
    rest = run(sched2, opt2, len(SHEET) - stop)
    df = realize(SHEET)
    assert first + rest == [list(p) for p in zip(df["lr"], df["lr-head"], strict=True)]


def test_past_the_end_values_hold_with_one_warning(caplog):
    _, opt = two_groups()
    sched = DopesheetLR(opt, SHEET)
    ends: list[int] = []
    sched.on("train-end", lambda e: ends.append(e.step))
    with caplog.at_level(logging.WARNING, logger="mini.adapters"):
        lrs = run(sched, opt, len(SHEET) + 5)
    assert lrs[len(SHEET) :] == [lrs[len(SHEET) - 1]] * 5
    assert ends == [len(SHEET) - 1]
    past = [r for r in caplog.records if "past the last step" in r.getMessage()]
    assert len(past) == 1 and "sheet.csv" in past[0].getMessage()


def test_reads_a_csv_path(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("STEP,lr\n0,0.1\n4,0.3\n")
    _, opt = two_groups()
    sched = DopesheetLR(opt, path)
    assert [lr[0] for lr in run(sched, opt, 5)] == realize(Dopesheet.from_csv(path))["lr"].tolist()


def test_mistakes_are_clear_errors():
    _, opt = two_groups()
    with pytest.raises(ValueError, match="add an 'lr' column"):
        DopesheetLR(opt, Dopesheet.from_text("STEP,w\n0,1\n3,2\n", source="nolr.csv"))
    sched = DopesheetLR(opt, SHEET)
    with pytest.raises(ConfigError, match=r"sheet\.csv has no column for 'temprature'"):
        sched.bind("temprature", print)
    opt.step()
    sched.step()  # the rejected binding was not kept
    assert sched.state.step == 1
    with pytest.raises(ValueError, match="unknown event 'phase-begin'"):
        sched.on("phase-begin", print)
    with pytest.raises(TypeError, match="Timeline, a Dopesheet or a path"):
        DopesheetLR(opt, 42)  # type: ignore[arg-type]

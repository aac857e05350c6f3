"""The Ignite handler with the real Ignite: per-optimizer-step walk with Ignite's own gradient
accumulation, events, Ignite's Checkpoint, schedule read at STARTED."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from mini.temporal import Dopesheet, realize
from tests.adapters.sheets import EVENT_NAMES, ORDER, ORDER_EVENTS, recorder, two_groups

pytest.importorskip("ignite")
from ignite.engine import Engine, Events, create_supervised_trainer
from ignite.handlers import Checkpoint, DiskSaver

from mini.adapters.ignite import DopesheetHandler

SHEET = Dopesheet.from_text(
    "STEP,PHASE,ACTION,lr:log,lr-head:log,w\n0,warm,,1e-3,1e-2,1\n10,main,mark,1e-1,,0.5\n"
    "39,,,1e-4,1e-4,0\n",
    source="sheet.csv",
)


def data(batches: int, batch: int = 4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batches, batch, 3, generator=g)
    return [(xb, xb[:, :2].sum(1, keepdim=True).repeat(1, 2)) for xb in x]


def expected(sheet: Dopesheet) -> list[list[float]]:
    df = realize(sheet)
    return [[a, b] for a, b in zip(df["lr"], df["lr-head"], strict=True)]


def supervised(sheet, accumulate: int = 1):
    """Ignite's own create_supervised_trainer, our handler, and an lr recorder per opt step."""
    model, opt = two_groups()
    engine = create_supervised_trainer(
        model, opt, F.mse_loss, gradient_accumulation_steps=accumulate
    )
    handler = DopesheetHandler(sheet, opt, accumulation_steps=accumulate).attach(engine)
    lrs: list[list[float]] = []
    steps: list[int] = []

    @engine.on(Events.ITERATION_COMPLETED)
    def _(e):
        steps.append(handler.state.step)
        if e.state.iteration % accumulate == 0:
            lrs.append([g["lr"] for g in opt.param_groups])

    return engine, handler, model, opt, lrs, steps


def test_walks_per_optimizer_step_with_ignites_gradient_accumulation():
    engine, _handler, *_, lrs, steps = supervised(SHEET, accumulate=2)
    engine.run(data(20), max_epochs=4)  # 80 iterations = 40 optimizer steps
    assert lrs == expected(SHEET)
    assert steps == [i // 2 for i in range(80)]


def test_events_match_our_trainers():
    engine, handler, *_ = supervised(ORDER)
    seen: list[tuple[str, int]] = []
    for name in EVENT_NAMES:
        handler.on(name, recorder(seen, name))
    engine.run(data(4), max_epochs=1)
    assert seen == ORDER_EVENTS


def test_step_metrics_carry_the_engines_output_as_losses():
    engine, handler, *_ = supervised(SHEET)
    losses: list[dict[str, float]] = []
    handler.on("step-metrics", lambda e: losses.append(e.losses), every=10)
    engine.run(data(40), max_epochs=1)
    assert len(losses) == 4 and all(set(d) == {"total"} and d["total"] > 0 for d in losses)


def test_ignites_checkpoint_saves_and_restores_the_timeline(tmp_path):
    def make():
        engine, handler, model, opt, lrs, _ = supervised(SHEET)
        handler.on("action:mark", lambda e: handler.timeline.set("w", 2.0, duration=5))
        ws: list[float] = []
        engine.add_event_handler(
            Events.ITERATION_COMPLETED, lambda e: ws.append(handler.props["w"])
        )
        to_save = {"model": model, "optimizer": opt, "engine": engine, "dopesheet": handler}
        return engine, handler, model, lrs, ws, to_save

    engine, _handler, model, lrs, ws, to_save = make()
    saver = Checkpoint(to_save, DiskSaver(tmp_path, require_empty=False), n_saved=None)
    engine.add_event_handler(Events.EPOCH_COMPLETED, saver)
    engine.run(data(10), max_epochs=4)
    assert lrs == expected(SHEET)

    engine2, handler2, model2, lrs2, ws2, to_load = make()
    ckpt = tmp_path / "checkpoint_20.pt"  # after epoch 2
    Checkpoint.load_objects(to_load, torch.load(ckpt, weights_only=True))
    assert handler2.state.step == 19
    engine2.run(data(10), max_epochs=4)
    assert lrs2 == lrs[20:]
    # the override set at step 10 holds w at 2.0 until its next key (39), also after resuming
    assert ws[20:39] == [2.0] * 19 and ws2 == ws[20:]
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), model2.state_dict().values(), strict=True)
    )


def test_a_path_is_read_at_started(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("STEP,lr,lr-head\n0,0.1,0.2\n19,0.001,0.002\n")
    engine, handler, *_, lrs, _ = supervised(path)
    with pytest.raises(RuntimeError, match=r"read when the run.s length is known"):
        handler.timeline  # noqa: B018
    engine.run(data(10), max_epochs=2)
    assert lrs == expected(Dopesheet.from_csv(path))


def test_epoch_steps_are_resolved_with_the_engines_epoch_length(tmp_path):
    path = tmp_path / "epochs.csv"
    path.write_text("STEP,PHASE,lr,lr-head\n0,A,0.1,0.1\n2ep,B,,\n4ep,,0.001,0.001\n")
    engine, handler, *_, lrs, _ = supervised(path, accumulate=2)
    engine.run(data(20), max_epochs=5)  # 10 optimizer steps an epoch
    assert [p.start for p in handler.timeline.dopesheet.phases if p.name == "B"] == [20]
    want = expected(handler.timeline.dopesheet)  # 41 steps (4ep = step 40); 50 steps run
    assert lrs[: len(want)] == want
    assert all(lr == want[-1] for lr in lrs[len(want) :])  # held past the end


def test_optimizer_is_optional_and_bindings_still_apply():
    engine = Engine(lambda e, b: None)
    handler = DopesheetHandler(SHEET).attach(engine)
    got: list[float] = []
    handler.bind("w", got.append)
    engine.run(range(40), max_epochs=1)
    w = realize(SHEET)["w"].tolist()
    assert got == [v for i, v in enumerate(w) if i == 0 or v != w[i - 1]]

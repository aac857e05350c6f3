"""The Lightning callback with the real Lightning: per-optimizer-step walk, accumulation,
events and hooks, logging through Lightning's logger, checkpoints, schedule read at start."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from torch.nn import functional as F

from mini.temporal import Dopesheet, realize
from mini.training import ConfigError
from tests.adapters.sheets import EVENT_NAMES, ORDER, ORDER_EVENTS, recorder

L = pytest.importorskip("lightning")
from mini.adapters.lightning import DopesheetCallback  # noqa: E402

SHEET = Dopesheet.from_text(
    "STEP,PHASE,ACTION,lr:log,lr-head:log,w\n0,warm,,1e-3,1e-2,1\n10,main,mark,1e-1,,0.5\n"
    "39,,,1e-4,1e-4,0\n",
    source="sheet.csv",
)


def data(batches: int, batch: int = 4) -> torch.utils.data.DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batches * batch, 3, generator=g)
    return torch.utils.data.DataLoader(list(zip(x, x.sum(1, keepdim=True), strict=True)), batch)


class Module(L.LightningModule):
    """Two param groups (unnamed → lr, "head" → lr-head); records what each step saw."""

    def __init__(self, cb, accumulate: int = 1):
        super().__init__()
        torch.manual_seed(0)
        self.body, self.head = torch.nn.Linear(3, 8), torch.nn.Linear(8, 1)
        self.cb, self.accumulate = cb, accumulate
        self.lrs: list[list[float]] = []
        self.seen: list[tuple[int, float]] = []  # (schedule step, weight w) per micro-batch

    def training_step(self, batch, batch_idx):
        self.seen.append((self.cb.state.step, self.cb.props["w"]))
        x, y = batch
        return self.cb.props["w"] * F.mse_loss(self.head(self.body(x)), y) / self.accumulate

    def on_before_optimizer_step(self, optimizer):
        self.lrs.append([g["lr"] for g in optimizer.param_groups])

    def configure_optimizers(self):
        return torch.optim.SGD(
            [
                {"params": self.body.parameters()},
                {"params": self.head.parameters(), "name": "head"},
            ],
            lr=0.5,
        )


def fit(cb, module, loader, *, ckpt_path=None, **kw):
    kw.setdefault("max_steps", 40)
    trainer = L.Trainer(
        accelerator="cpu", devices=1, logger=kw.pop("logger", False), callbacks=[cb, *kw.pop("callbacks", [])],
        enable_progress_bar=False, enable_checkpointing=kw.pop("enable_checkpointing", False),
        enable_model_summary=False, max_epochs=kw.pop("max_epochs", -1), **kw,
    )  # fmt: skip
    trainer.fit(module, loader, ckpt_path=ckpt_path, weights_only=True if ckpt_path else None)
    return trainer


def expected(sheet: Dopesheet) -> list[list[float]]:
    df = realize(sheet)
    return [[a, b] for a, b in zip(df["lr"], df["lr-head"], strict=True)]


def test_walks_per_optimizer_step_with_gradient_accumulation():
    cb = DopesheetCallback(SHEET)
    module = Module(cb, accumulate=3)
    fit(cb, module, data(30), accumulate_grad_batches=3)  # 10 optimizer steps an epoch
    assert module.lrs == expected(SHEET)
    steps = [s for s, _ in module.seen]
    assert steps == [i // 3 for i in range(120)]  # three micro-batches per schedule step
    assert [w for _, w in module.seen] == [realize(SHEET)["w"][i // 3] for i in range(120)]


def test_events_match_our_trainers_and_hooks_can_be_overridden():
    phases: list[tuple[str | None, int]] = []

    class Mine(DopesheetCallback):
        def on_phase_start(self, phase, event):
            phases.append((phase, event.step))
            assert event.trainer is not None and event.module is not None
            super().on_phase_start(phase, event)

    cb = Mine(ORDER)
    seen: list[tuple[str, int]] = []
    for name in EVENT_NAMES:
        cb.on(name, recorder(seen, name))
    fit(cb, Module(cb), data(4), max_steps=4)
    assert seen == ORDER_EVENTS
    assert phases == [("A", 0), ("B", 1)]


def test_bindings_apply_on_change_and_missing_columns_are_named():
    cb = DopesheetCallback(SHEET)
    got: list[float] = []
    cb.bind("w", got.append)
    fit(cb, Module(cb), data(40))
    w = realize(SHEET)["w"].tolist()
    assert got == [v for i, v in enumerate(w) if i == 0 or v != w[i - 1]]
    with pytest.raises(ConfigError, match=r"sheet\.csv has no column for 'temperature'"):
        cb.bind("temperature", got.append)


def test_props_are_logged_through_lightnings_logger(tmp_path):
    from lightning.pytorch.loggers import CSVLogger

    cb = DopesheetCallback(SHEET, log_every=5)
    fit(cb, Module(cb), data(40), logger=CSVLogger(tmp_path, name="run"))
    metrics = pd.read_csv(next(tmp_path.glob("run/*/metrics.csv")))
    rows = metrics.dropna(subset=["schedule/lr"])
    assert rows["step"].tolist() == [4, 9, 14, 19, 24, 29, 34, 39]  # Lightning's (step+1) % N
    df = realize(SHEET)
    for name in ("lr", "lr-head", "w"):
        assert rows[f"schedule/{name}"].tolist() == pytest.approx(
            df[name].iloc[rows["step"]].tolist(), rel=1e-15
        )


def test_checkpoint_keeps_the_timeline_and_its_overrides(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    def run(ckpt_path=None, save=None):
        cb = DopesheetCallback(SHEET)
        cb.on("action:mark", lambda e: cb.timeline.set("w", 2.0, duration=5))  # at step 10
        fired: list[int] = []
        cb.on("action", lambda e: fired.append(e.step))
        module = Module(cb)
        callbacks = (
            [ModelCheckpoint(tmp_path, every_n_train_steps=20, save_top_k=-1)] if save else []
        )
        fit(cb, module, data(40), ckpt_path=ckpt_path, callbacks=callbacks,
            enable_checkpointing=bool(save))  # fmt: skip
        return module, fired

    full, fired = run(save=True)
    ckpt = next(tmp_path.glob("*step=20.ckpt"))
    saved = torch.load(ckpt, weights_only=True)["callbacks"]["DopesheetCallback"]
    assert saved["timeline"]["step"] == 19 and saved["finished"] == 19
    resumed, fired_again = run(ckpt_path=ckpt)
    assert resumed.lrs == full.lrs[20:]
    # the override set at step 10 (w held at 2.0 until its next key) came back with the checkpoint
    assert resumed.seen == full.seen[20:] and {w for _, w in resumed.seen[:5]} == {2.0}
    assert fired == [10] and fired_again == []


def test_a_path_is_read_when_training_starts(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("STEP,lr,lr-head,w\n0,0.1,0.2,1\n19,0.001,0.002,1\n")
    cb = DopesheetCallback(path)
    with pytest.raises(RuntimeError, match=r"read when the run.s length is known"):
        cb.timeline  # noqa: B018
    module = Module(cb)
    fit(cb, module, data(20), max_steps=20)
    assert module.lrs == expected(Dopesheet.from_csv(path))


def test_epoch_steps_are_resolved_with_lightnings_steps_per_epoch(tmp_path):
    path = tmp_path / "epochs.csv"
    path.write_text("STEP,PHASE,lr,lr-head,w\n0,A,0.1,0.1,1\n2ep,B,,,\n4ep,,0.001,0.001,1\n")
    cb = DopesheetCallback(path)
    module = Module(cb, accumulate=2)
    fit(cb, module, data(20), accumulate_grad_batches=2, max_epochs=5, max_steps=-1)
    # 20 batches, accumulating 2: 10 optimizer steps an epoch, so B starts at step 20
    assert [p.start for p in cb.timeline.dopesheet.phases if p.name == "B"] == [20]
    want = expected(cb.timeline.dopesheet)  # 41 steps (4ep = step 40); 50 steps run
    assert module.lrs[: len(want)] == want
    assert all(lr == want[-1] for lr in module.lrs[len(want) :])  # held past the end


def test_pytorch_lightning_package_works_too():
    pl = pytest.importorskip("pytorch_lightning")
    from mini.adapters.lightning import DopesheetCallbackPL

    cb = DopesheetCallbackPL(SHEET)
    assert isinstance(cb, pl.Callback)

    class PLModule(pl.LightningModule):
        training_step = Module.training_step
        on_before_optimizer_step = Module.on_before_optimizer_step
        configure_optimizers = Module.configure_optimizers

        def __init__(self, cb):
            super().__init__()
            torch.manual_seed(0)
            self.body, self.head = torch.nn.Linear(3, 8), torch.nn.Linear(8, 1)
            self.cb, self.accumulate, self.lrs, self.seen = cb, 1, [], []

    module = PLModule(cb)
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, callbacks=[cb], max_steps=40,
                         enable_progress_bar=False, enable_checkpointing=False,
                         enable_model_summary=False)  # fmt: skip
    trainer.fit(module, data(40))
    assert module.lrs == expected(SHEET)
    assert DopesheetCallbackPL.of(trainer) is cb


def test_of_finds_the_callback():
    cb = DopesheetCallback(SHEET)
    trainer = fit(cb, Module(cb), data(40))
    assert DopesheetCallback.of(trainer) is cb
    assert math.isclose(cb.props["lr"], 1e-4)

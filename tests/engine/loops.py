"""One tiny problem trained by each of the four loops (our Trainer, a plain loop with
DopesheetLR, Lightning with DopesheetCallback, Ignite with DopesheetHandler), so that the
acceptance tests can say the same thing about every loop.

``train(loop, tmp_path, ...)`` runs a whole schedule, or stops after ``stop`` optimizer steps
(a "kill": the loop's own checkpoint is written there), or resumes from that checkpoint in a
fresh model, optimizer, adapter and loop. Every loop registers the same handlers: a
``freeze-first`` action that freezes the first layer (``replay=True``), a recorder of every
event, of ``train-start``'s step and of ``step-metrics``' total loss.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from mini.temporal import Dopesheet

LOOPS = ("trainer", "loop", "lightning", "ignite")
PER_EPOCH = 4  # micro-batches per epoch
BATCH = 4

SHEET = Dopesheet.from_text(
    "STEP,PHASE,ACTION,lr,w\n0,Warm,,0.1,1\n4,Main,freeze-first,,\n11,,,0.02,0.5\n",
    source="loops.csv",
)


@dataclass
class Outcome:
    model: nn.Module
    schedule: Any = None  # the Trainer or the adapter
    events: list[tuple[str, int]] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)  # train-start's step
    losses: list[tuple[int, float | None]] = field(default_factory=list)  # step-metrics total
    actions: list[tuple[int, str, bool]] = field(default_factory=list)  # step, name, replayed
    lrs: list[float] = field(default_factory=list)  # per optimizer step, from the optimizer
    early: list[float] = field(default_factory=list)  # props["w"] read before the first step


def batches(epochs: int = 1) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(PER_EPOCH, BATCH, 3, generator=g)
    return [(xb, xb.sum(1, keepdim=True).sin()) for xb in x] * epochs


def make_model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))


def make_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.5)


def wire(target: Any, out: Outcome, model: nn.Module, events: tuple[str, ...] = ()) -> None:
    """The same handlers in every loop (``target.on`` is the Trainer's or the adapter's)."""

    def freeze(event) -> None:
        out.actions.append((event.step, event.action, event.replayed))
        for p in model[0].parameters():
            p.requires_grad_(False)

    target.on("action:freeze-first", freeze, replay=True, optional=True)
    target.on("train-start", lambda e: out.starts.append(e.step))
    target.on(
        "step-metrics",
        lambda e: out.losses.append((e.step, e.losses.get("total") if e.losses else None)),
    )
    for name in events:
        target.on(name, lambda e, name=name: out.events.append((name, e.step)))


def train(
    loop: str, tmp_path: Path, *, sheet: Dopesheet | Path = SHEET, epochs: int | None = None,
    stop: int | None = None, resume: bool = False, accumulate: int = 1,
    events: tuple[str, ...] = (), extra: Callable[[Any], None] | None = None, **options: Any,
) -> Outcome:  # fmt: skip
    """Train ``epochs`` epochs (default: enough for the sheet, resolving ``%`` steps from
    the loop's own length), stopping after ``stop`` optimizer steps, or resuming."""
    per_epoch = PER_EPOCH // accumulate
    if epochs is None:
        epochs = math.ceil(len(sheet) / per_epoch)
    if isinstance(sheet, Path):
        sheet = str(sheet)
    tmp_path.mkdir(parents=True, exist_ok=True)
    run = {"trainer": _trainer, "loop": _loop, "lightning": _lightning, "ignite": _ignite}[loop]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice about workers and log intervals
        return run(
            tmp_path, sheet, epochs, stop, resume, accumulate, events, extra or (lambda _: None),
            options,
        )  # fmt: skip


def _trainer(tmp, sheet, epochs, stop, resume, k, events, extra, options) -> Outcome:
    from mini.training import PhaseData, Result, Trainer

    model = make_model()
    opt = make_optimizer(model)
    out = Outcome(model)
    total = epochs * PER_EPOCH // k
    trainer = Trainer(
        model, opt, sheet, PhaseData(batches()), {"w": lambda b, r: F.mse_loss(r.outputs, b[1])},
        forward=lambda m, b: Result(m(b[0])), out_dir=tmp / "trainer", overwrite=not resume,
        progress=False, metrics_every=None, accumulate=k, total_steps=total,
        steps_per_epoch=PER_EPOCH // k, checkpoint_on_phase_end=False, **options,
    )  # fmt: skip
    out.schedule = trainer
    wire(trainer, out, model, events)
    trainer.on("step-metrics", lambda e: out.lrs.append(opt.param_groups[0]["lr"]))
    extra(trainer)
    out.early.append(trainer.props["w"])
    if stop is not None:
        trainer.on("step-metrics", lambda e: trainer.stop("kill") if e.step == stop - 1 else None)
    trainer.fit(resume=tmp / "trainer" if resume else None)
    return out


def _loop(tmp, sheet, epochs, stop, resume, k, events, extra, options) -> Outcome:
    from mini.adapters import DopesheetLR

    model = make_model()
    opt = make_optimizer(model)
    out = Outcome(model)
    total = epochs * PER_EPOCH // k
    ckpt = tmp / "loop.pt"
    saved = torch.load(ckpt, weights_only=True) if resume else None
    if saved is not None:
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
    sched = DopesheetLR(
        opt, sheet, total_steps=total, steps_per_epoch=PER_EPOCH // k,
        resume=saved["scheduler"] if saved is not None else None,
        handlers=_handlers(out, events), replay_handlers={"action:freeze-first": _freezer(out, model)},
        **options,
    )  # fmt: skip
    out.schedule = sched
    extra(sched)
    out.early.append(sched.props["w"])
    step = sched.last_epoch
    data = batches(epochs)
    end = total if stop is None else stop
    while step < end:
        for i in range(k):
            x, y = data[step * k + i]
            loss = sched.props["w"] * F.mse_loss(model(x), y)
            sched.observe(loss)
            (loss / k).backward()
        out.lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        opt.zero_grad(set_to_none=True)
        sched.step()
        step += 1
    if stop is not None:
        state = {"model": model.state_dict(), "optimizer": opt.state_dict()}
        torch.save({**state, "scheduler": sched.state_dict()}, ckpt)
    return out


def _freezer(out: Outcome, model: nn.Module):
    def freeze(event) -> None:
        out.actions.append((event.step, event.action, event.replayed))
        for p in model[0].parameters():
            p.requires_grad_(False)

    return freeze


def _handlers(out: Outcome, events: tuple[str, ...]) -> dict[str, Any]:
    handlers: dict[str, list[Any]] = {
        "train-start": [lambda e: out.starts.append(e.step)],
        "step-metrics": [
            lambda e: out.losses.append((e.step, e.losses.get("total") if e.losses else None))
        ],
    }
    for name in events:
        handlers.setdefault(name, []).append(lambda e, name=name: out.events.append((name, e.step)))
    return handlers


def _lightning(tmp, sheet, epochs, stop, resume, k, events, extra, options) -> Outcome:
    import lightning as L
    from lightning.pytorch.callbacks import Callback, ModelCheckpoint

    from mini.adapters.lightning import DopesheetCallback

    model = make_model()
    out = Outcome(model)
    cb = DopesheetCallback(sheet, log_every=0, **options)
    out.schedule = cb
    wire(cb, out, model, events)
    extra(cb)

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = model

        def training_step(self, batch, batch_idx):
            x, y = batch
            return cb.props["w"] * F.mse_loss(self.model(x), y)

        def on_before_optimizer_step(self, optimizer):
            out.lrs.append(optimizer.param_groups[0]["lr"])

        def validation_step(self, batch, batch_idx):
            if self.trainer.sanity_checking:
                out.early.append(cb.props["w"])  # Lightning's sanity check, before step 0

        def configure_optimizers(self):
            return make_optimizer(self.model)

    class Kill(Callback):
        def on_train_batch_end(self, trainer, *args):
            if stop is not None and trainer.global_step >= stop:
                trainer.should_stop = True

    callbacks: list[Any] = [cb, Kill()]
    if stop is not None:
        callbacks.append(
            ModelCheckpoint(tmp / "lightning", every_n_train_steps=stop, save_top_k=-1)
        )
    trainer = L.Trainer(
        accelerator="cpu", devices=1, logger=False, callbacks=callbacks, max_epochs=epochs,
        enable_progress_bar=False, enable_model_summary=False, accumulate_grad_batches=k,
        enable_checkpointing=stop is not None, num_sanity_val_steps=1, limit_val_batches=1,
    )  # fmt: skip
    loader = torch.utils.data.DataLoader(_flat(), batch_size=BATCH)
    ckpt = next((tmp / "lightning").glob("*.ckpt")) if resume else None
    trainer.fit(Module(), loader, loader, ckpt_path=ckpt, weights_only=False if ckpt else None)
    return out


def _flat() -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(x, y) for xb, yb in batches() for x, y in zip(xb, yb, strict=True)]


def _ignite(tmp, sheet, epochs, stop, resume, k, events, extra, options) -> Outcome:
    from ignite.engine import Events, create_supervised_trainer

    from mini.adapters.ignite import DopesheetHandler

    model = make_model()
    opt = make_optimizer(model)
    out = Outcome(model)
    w = {"value": 1.0}
    engine = create_supervised_trainer(
        model, opt, lambda yp, y: w["value"] * F.mse_loss(yp, y), gradient_accumulation_steps=k
    )
    handler = DopesheetHandler(sheet, opt, accumulation_steps=k, **options)
    handler.bind("w", lambda v: w.__setitem__("value", v))
    out.schedule = handler
    wire(handler, out, model, events)
    extra(handler)
    handler.attach(engine)
    engine.add_event_handler(Events.STARTED, lambda e: out.early.append(handler.props["w"]))

    @engine.on(Events.ITERATION_COMPLETED)
    def _record(e):
        if e.state.iteration % k == 0:
            out.lrs.append(opt.param_groups[0]["lr"])
        if stop is not None and e.state.iteration == stop * k:
            e.terminate()

    ckpt = tmp / "ignite.pt"
    if resume:
        saved = torch.load(ckpt, weights_only=True)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        engine.load_state_dict(saved["engine"])
        handler.load_state_dict(saved["dopesheet"])
    engine.run(batches(), max_epochs=epochs)
    if stop is not None:
        state = {"model": model.state_dict(), "optimizer": opt.state_dict()}
        engine_state = engine.state_dict()
        torch.save({**state, "engine": engine_state, "dopesheet": handler.state_dict()}, ckpt)
    return out

"""One dopesheet, four training loops: a digits classifier trained by our ``Trainer``, a plain
loop with ``DopesheetLR``, Lightning with ``DopesheetCallback`` and Ignite with
``DopesheetHandler``. Each route sets the same learning rate at every step (the body follows
``lr``, the head ``lr-head``), weights the loss terms by ``ce``/``l2`` and binds
``label-smoothing`` to the loss; ``snapshot`` actions record validation accuracy.

    python -m examples.digits_classifier --via lightning [--tensorboard out/tb]

Every route can stop after N steps with a checkpoint and resume from it (``stop_at``,
``checkpoint``, ``resume``); the tests use that to check that resuming continues exactly.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import Tensor, nn
from torch.utils.data import DataLoader, Sampler, TensorDataset

from mini.adapters import DopesheetLR
from mini.temporal import Dopesheet, DopesheetError
from mini.training import PhaseData, Result, Trainer, load_checkpoint, save_checkpoint
from mini.training.modes import eval_mode

SCHEDULE = Path(__file__).resolve().parent.parent / "schedules" / "digits-classifier.csv"
BATCH = 50
Via = Literal["trainer", "loop", "lightning", "ignite"]
ROUTES: tuple[Via, ...] = ("trainer", "loop", "lightning", "ignite")


# -- data, model, loss ------------------------------------------------------------------------------
def digits(seed: int = 0) -> tuple[TensorDataset, tuple[Tensor, Tensor]]:
    """scikit-learn's bundled 8×8 digits: 1,500 training images, 297 held out."""
    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(x))
    x = torch.tensor(x[order] / 16.0, dtype=torch.float32)
    y = torch.tensor(y[order], dtype=torch.long)
    return TensorDataset(x[:1500], y[:1500]), (x[1500:], y[1500:])


class EpochShuffle(Sampler[int]):
    """A fresh permutation per epoch drawn from ``(seed, epoch)`` alone, so a run resumed at an
    epoch sees the same batches (Lightning and our Trainer call ``set_epoch``; the plain loop and
    Ignite do it here)."""

    def __init__(self, n: int, seed: int = 0):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())

    def __len__(self) -> int:
        return self.n


def make_loader(train: TensorDataset, seed: int = 0) -> DataLoader:
    return DataLoader(train, batch_size=BATCH, sampler=EpochShuffle(len(train), seed))


def make_model(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def make_optimizer(model: nn.Sequential) -> torch.optim.Optimizer:
    """Two named param groups: ``body`` follows ``lr``, ``head`` follows ``lr-head``."""
    return torch.optim.Adam(
        [
            {"params": model[0].parameters(), "name": "body"},
            {"params": model[2].parameters(), "name": "head"},
        ],
        lr=1e-3,
    )


class DigitsLoss:
    """Cross-entropy (``label_smoothing`` is bound to the dopesheet) and an L2 penalty."""

    def __init__(self) -> None:
        self.cross_entropy = nn.CrossEntropyLoss()

    def set_label_smoothing(self, value: float) -> None:
        self.cross_entropy.label_smoothing = value

    def __call__(self, model: nn.Module, x: Tensor, y: Tensor, props: dict[str, float]) -> Tensor:
        loss = props["ce"] * self.cross_entropy(model(x), y)
        if props["l2"] > 0:
            loss = loss + props["l2"] * sum(p.pow(2).sum() for p in model.parameters())
        return loss


def accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    with eval_mode(model):
        return float((model(x).argmax(1) == y).float().mean())


@dataclass
class Run:
    """What a route did: per optimizer step the learning rate of each param group."""

    model: nn.Module
    lrs: list[list[float]] = field(default_factory=list)
    snapshots: dict[int, float] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def accuracy(self) -> float:
        return self.snapshots[max(self.snapshots)] if self.snapshots else math.nan


def _setup(seed: int) -> tuple[nn.Sequential, torch.optim.Optimizer, DataLoader, Any, DigitsLoss]:
    train, val = digits(seed)
    model = make_model(seed)
    return model, make_optimizer(model), make_loader(train, seed), val, DigitsLoss()


def _snapshot(run: Run, val: tuple[Tensor, Tensor]):
    def record(event: Any) -> None:
        run.snapshots[event.step] = accuracy(run.model, *val)

    return record


# -- the four routes --------------------------------------------------------------------------------
def train_loop(
    schedule: Dopesheet | None = None,
    *,
    seed: int = 0,
    stop_at: int | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: str | os.PathLike[str] | None = None,
    loggers: tuple[Any, ...] = (),
) -> Run:
    """A plain PyTorch loop; ``DopesheetLR`` is its LR scheduler."""
    schedule = schedule or Dopesheet.from_csv(SCHEDULE)
    model, opt, loader, val, loss_fn = _setup(seed)
    run = Run(model)
    sched = DopesheetLR(opt, schedule, bindings={"label-smoothing": loss_fn.set_label_smoothing})
    sched.on("action:snapshot", _snapshot(run, val))
    for logger in loggers:
        logger.attach(sched)
    n, per_epoch = len(sched.timeline), len(loader)
    if resume is not None:
        ckpt = load_checkpoint(resume)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
    step = sched.last_epoch
    stop = n if stop_at is None else stop_at
    t0 = time.perf_counter()
    while step < stop:
        loader.sampler.set_epoch(step // per_epoch)
        for i, (x, y) in enumerate(loader):
            if i < step % per_epoch:
                continue  # resumed mid-epoch: skip the batches already trained
            loss = loss_fn(model, x, y, sched.props)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            run.lrs.append([g["lr"] for g in opt.param_groups])
            opt.step()
            sched.step()
            step += 1
            if step >= stop:
                break
    run.seconds = time.perf_counter() - t0
    if checkpoint is not None:
        state = {"model": model.state_dict(), "optimizer": opt.state_dict()}
        save_checkpoint(checkpoint, {**state, "scheduler": sched.state_dict()})
    return run


def train_trainer(
    schedule: Dopesheet | None = None, *, seed: int = 0, loggers: tuple[Any, ...] = ()
) -> Run:
    """Our own :class:`mini.training.Trainer` (it checkpoints and resumes by itself)."""
    schedule = schedule or Dopesheet.from_csv(SCHEDULE)
    model, opt, loader, val, loss_fn = _setup(seed)
    run = Run(model)
    criteria = {
        "ce": lambda batch, result: loss_fn.cross_entropy(result.outputs, batch[1]),
        "l2": lambda batch, result: sum(p.pow(2).sum() for p in model.parameters()),
    }
    trainer = Trainer(
        model, opt, schedule, PhaseData(loader, val=val), criteria, progress=False, metrics_every=None,
        forward=lambda m, batch: Result(m(batch[0])),
    )  # fmt: skip
    trainer.bind("label-smoothing", loss_fn.set_label_smoothing)
    trainer.on("action:snapshot", _snapshot(run, val))
    trainer.on("step-metrics", lambda e: run.lrs.append([g["lr"] for g in opt.param_groups]))
    for logger in loggers:
        trainer.add(logger)
    t0 = time.perf_counter()
    trainer.fit()
    run.seconds = time.perf_counter() - t0
    return run


def train_lightning(
    schedule: Dopesheet | None = None,
    *,
    seed: int = 0,
    stop_at: int | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: str | os.PathLike[str] | None = None,
    accumulate: int = 1,
    logger: Any = False,
) -> Run:
    """Lightning with ``DopesheetCallback``: the module reads the loss weights from it."""
    schedule = schedule or Dopesheet.from_csv(SCHEDULE)
    import lightning as L

    from mini.adapters.lightning import DopesheetCallback

    model, _, loader, val, loss_fn = _setup(seed)
    run = Run(model)
    schedule_cb = DopesheetCallback(schedule)
    schedule_cb.bind("label-smoothing", loss_fn.set_label_smoothing)
    schedule_cb.on("action:snapshot", _snapshot(run, val))

    class Digits(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def training_step(self, batch: Any, batch_idx: int) -> Tensor:
            return loss_fn(self.model, *batch, schedule_cb.props) / accumulate

        def on_before_optimizer_step(self, optimizer: Any) -> None:
            run.lrs.append([g["lr"] for g in optimizer.param_groups])

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return make_optimizer(self.model)

    per_epoch = math.ceil(len(loader) / accumulate)  # optimizer steps
    if stop_at is not None and stop_at % per_epoch == 0:
        # Lightning resumes a checkpoint exactly only at an epoch's end (or with a stateful
        # loader); stopping by max_steps leaves the epoch open, and its rest is skipped on resume.
        limits = {"max_epochs": stop_at // per_epoch}
    else:
        limits = {"max_steps": stop_at or len(schedule_cb.timeline), "max_epochs": -1}
    trainer = L.Trainer(
        **limits, accelerator="cpu", devices=1, logger=logger, callbacks=[schedule_cb],
        accumulate_grad_batches=accumulate, enable_progress_bar=False,
        enable_checkpointing=False, enable_model_summary=False, num_sanity_val_steps=0,
    )  # fmt: skip
    t0 = time.perf_counter()
    trainer.fit(Digits(), loader, ckpt_path=resume, weights_only=True if resume else None)
    run.seconds = time.perf_counter() - t0
    if checkpoint is not None:
        trainer.save_checkpoint(checkpoint, weights_only=False)
    return run


def train_ignite(
    schedule: Dopesheet | None = None,
    *,
    seed: int = 0,
    stop_at: int | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: str | os.PathLike[str] | None = None,
    loggers: tuple[Any, ...] = (),
) -> Run:
    """Ignite with ``DopesheetHandler``; checkpoints through Ignite's ``Checkpoint``."""
    schedule = schedule or Dopesheet.from_csv(SCHEDULE)
    from ignite.engine import Engine, Events
    from ignite.handlers import Checkpoint

    from mini.adapters.ignite import DopesheetHandler

    model, opt, loader, val, loss_fn = _setup(seed)
    run = Run(model)
    handler = DopesheetHandler(schedule, opt)
    handler.bind("label-smoothing", loss_fn.set_label_smoothing)
    handler.on("action:snapshot", _snapshot(run, val))
    for logger in loggers:
        logger.attach(handler)

    def update(engine: Engine, batch: Any) -> float:
        model.train()
        loss = loss_fn(model, *batch, handler.props)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        run.lrs.append([g["lr"] for g in opt.param_groups])
        opt.step()
        return loss.item()

    engine = Engine(update)
    handler.attach(engine)
    engine.add_event_handler(
        Events.EPOCH_STARTED, lambda e: loader.sampler.set_epoch(e.state.epoch - 1)
    )
    to_save = {"model": model, "optimizer": opt, "engine": engine, "dopesheet": handler}
    if resume is not None:
        Checkpoint.load_objects(to_save, torch.load(resume, weights_only=True))
    if stop_at is not None:
        engine.add_event_handler(
            Events.ITERATION_COMPLETED(once=stop_at), lambda e: e.terminate()
        )  # fmt: skip
    t0 = time.perf_counter()
    engine.run(loader, max_epochs=math.ceil(len(handler.timeline) / len(loader)))
    run.seconds = time.perf_counter() - t0
    if checkpoint is not None:
        save_checkpoint(checkpoint, {k: obj.state_dict() for k, obj in to_save.items()})
    return run


def train(via: Via, schedule: Dopesheet | None = None, **kwargs: Any) -> Run:
    return {
        "trainer": train_trainer,
        "loop": train_loop,
        "lightning": train_lightning,
        "ignite": train_ignite,
    }[via](schedule, **kwargs)


def main(argv: list[str] | None = None) -> Run:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--via", choices=ROUTES, default="trainer", help="which training loop")
    p.add_argument("--schedule", type=Path, default=SCHEDULE, help="dopesheet CSV")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tensorboard", type=Path, default=None, help="write TensorBoard logs here")
    args = p.parse_args(argv)
    if not args.schedule.is_file():
        p.error(f"--schedule: no such file: {args.schedule}")
    torch.set_num_threads(1)
    kwargs: dict[str, Any] = {"seed": args.seed}
    if args.tensorboard is not None:
        if args.via == "lightning":
            from lightning.pytorch.loggers import TensorBoardLogger as LightningTB

            kwargs["logger"] = LightningTB(str(args.tensorboard), name="digits")
        else:
            from mini.loggers import TensorBoardLogger

            kwargs["loggers"] = (TensorBoardLogger(args.tensorboard),)
    try:
        schedule = Dopesheet.from_csv(args.schedule)
    except DopesheetError as e:
        p.exit(2, f"{e}\n")
    run = train(args.via, schedule, **kwargs)
    for logger in kwargs.get("loggers", ()):
        logger.close()
    print(
        f"{args.via}: {len(run.lrs)} steps in {run.seconds:.2f} s, validation accuracy "
        + ", ".join(f"{acc:.3f} (step {step})" for step, acc in sorted(run.snapshots.items()))
    )
    return run


if __name__ == "__main__":
    main()

"""What the adapters add per training step (issue 14: ≤ 2% over the plain loop).

The digits classifier of ``examples.digits_classifier`` (64→64→10 MLP, batch 50, Adam with two
param groups) trained for the same steps three ways, each with and without our adapter:

- plain loop: a torch ``LambdaLR`` over the realized learning rates vs ``DopesheetLR``;
- Lightning: no callback (weights and lr from precomputed lists) vs ``DopesheetCallback``;
- Ignite: no handler (the same lists) vs ``DopesheetHandler``.

Both sides do the same maths (same lr and loss weights every step, label smoothing set when it
changes). The plain-loop and Ignite sides live side by side in one process and alternate in
chunks of 30 steps (one epoch); the ratio is the median of the chunk ratios, which the load of
other processes moves far less than whole runs. Lightning cannot be paused mid-fit, so whole
runs alternate and the best of each is kept; it is timed from ``on_train_start`` to
``on_train_end`` (its setup is the same with or without the callback).

Run: ``flock /tmp/bench.lock python -m benchmarks.adapter_overhead [--steps N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import math
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data import DataLoader

from examples.digits_classifier import SCHEDULE, DigitsLoss, digits, make_model, make_optimizer
from mini.adapters import DopesheetLR
from mini.temporal import Dopesheet, realize


class Lists:
    """The realized schedule as Python lists, for the baselines."""

    def __init__(self, ds: Dopesheet):
        df = realize(ds)
        self.lr, self.lr_head = df["lr"].tolist(), df["lr-head"].tolist()
        self.props = [
            dict(zip(("ce", "l2"), v, strict=True))
            for v in zip(df["ce"].tolist(), df["l2"].tolist(), strict=True)
        ]
        self.smoothing = df["label-smoothing"].tolist()


def setup() -> tuple[torch.nn.Module, torch.optim.Optimizer, DataLoader, DigitsLoss]:
    train, _ = digits(0)
    model = make_model(0)
    return model, make_optimizer(model), DataLoader(train, batch_size=50), DigitsLoss()


def batches(loader: DataLoader, steps: int):
    while True:
        for batch in loader:
            yield batch
            steps -= 1
            if steps == 0:
                return


# -- plain loop ------------------------------------------------------------------------------------
def loop_torch_scheduler(ds: Dopesheet, lists: Lists) -> Callable[[int], float]:
    """A loop with a torch ``LambdaLR``; returns ``run(k)``: the next k steps, timed."""
    model, opt, loader, loss_fn = setup()
    lrs = (lists.lr, lists.lr_head)
    base = [g["lr"] for g in opt.param_groups]
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, [lambda s, i=i: lrs[i][min(s, len(ds) - 1)] / base[i] for i in range(2)]
    )
    data = batches(loader, len(ds))
    state = {"step": 0, "last": None}

    def run(k: int) -> float:
        t = time.perf_counter()
        for _ in range(k):
            x, y = next(data)
            step = state["step"]
            if lists.smoothing[step] != state["last"]:
                state["last"] = lists.smoothing[step]
                loss_fn.set_label_smoothing(state["last"])
            loss = loss_fn(model, x, y, lists.props[step])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            state["step"] = step + 1
        return time.perf_counter() - t

    return run


def loop_dopesheet_lr(ds: Dopesheet, lists: Lists) -> Callable[[int], float]:
    """The same loop with ``DopesheetLR``; returns ``run(k)``."""
    model, opt, loader, loss_fn = setup()
    sched = DopesheetLR(opt, ds, bindings={"label-smoothing": loss_fn.set_label_smoothing})
    data = batches(loader, len(ds))

    def run(k: int) -> float:
        t = time.perf_counter()
        for _ in range(k):
            x, y = next(data)
            loss = loss_fn(model, x, y, sched.props)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        return time.perf_counter() - t

    return run


# -- Lightning -------------------------------------------------------------------------------------
def lightning_run(ds: Dopesheet, lists: Lists, with_callback: bool) -> float:
    import lightning as L

    from mini.adapters.lightning import DopesheetCallback

    model, _, loader, loss_fn = setup()
    callbacks: list[Any] = []
    if with_callback:
        cb = DopesheetCallback(ds, log_every=0)
        cb.bind("label-smoothing", loss_fn.set_label_smoothing)
        callbacks.append(cb)
    times: list[float] = []

    class Timer(L.Callback):
        def on_train_start(self, trainer, pl_module):
            times.append(time.perf_counter())

        def on_train_end(self, trainer, pl_module):
            times.append(time.perf_counter())

    callbacks.append(Timer())

    class Module(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.last: float | None = None

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            if with_callback:
                return loss_fn(self.model, *batch, cb.props)
            step = self.global_step
            opt = self.trainer.optimizers[0]
            opt.param_groups[0]["lr"] = lists.lr[step]
            opt.param_groups[1]["lr"] = lists.lr_head[step]
            if lists.smoothing[step] != self.last:
                self.last = lists.smoothing[step]
                loss_fn.set_label_smoothing(self.last)
            return loss_fn(self.model, *batch, lists.props[step])

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return make_optimizer(self.model)

    trainer = L.Trainer(
        max_steps=len(ds), max_epochs=-1, accelerator="cpu", devices=1, logger=False,
        callbacks=callbacks, enable_progress_bar=False, enable_checkpointing=False,
        enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(Module(), loader)
    return times[1] - times[0]


# -- Ignite ----------------------------------------------------------------------------------------
def ignite_run(ds: Dopesheet, lists: Lists, with_handler: bool) -> Callable[[int], float]:
    """An Ignite engine; returns ``run(epochs)``: the next epochs, timed."""
    from ignite.engine import Engine

    from mini.adapters.ignite import DopesheetHandler

    model, opt, loader, loss_fn = setup()
    last: list[float | None] = [None]
    groups = opt.param_groups
    handler = DopesheetHandler(ds, opt)
    handler.bind("label-smoothing", loss_fn.set_label_smoothing)

    def with_ours(engine: Engine, batch: Any) -> float:
        loss = loss_fn(model, *batch, handler.props)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return 0.0

    def without(engine: Engine, batch: Any) -> float:
        step = engine.state.iteration - 1
        groups[0]["lr"], groups[1]["lr"] = lists.lr[step], lists.lr_head[step]
        if lists.smoothing[step] != last[0]:
            last[0] = lists.smoothing[step]
            loss_fn.set_label_smoothing(last[0])
        loss = loss_fn(model, *batch, lists.props[step])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return 0.0

    engine = Engine(with_ours if with_handler else without)
    if with_handler:
        handler.attach(engine)
    epochs = [0]

    def run(k: int) -> float:
        epochs[0] += k
        t = time.perf_counter()
        engine.run(loader, max_epochs=epochs[0])  # continues where the last call stopped
        return time.perf_counter() - t

    return run


def interleaved(
    name: str,
    base: Callable[[int], float],
    ours: Callable[[int], float],
    chunks: int,
    k: int,
    steps_per_chunk: int,
) -> float:
    """Alternate chunks of ``k`` steps (epochs) of each side; the median of the per-chunk
    ratios is robust to load changes that a whole-run comparison is not."""
    ratios, t_base, t_ours = [], 0.0, 0.0
    for i in range(chunks):
        if i % 2:  # alternate which side goes first
            b, o = base(k), ours(k)
        else:
            o, b = ours(k), base(k)
        ratios.append(o / b)
        t_base, t_ours = t_base + b, t_ours + o
    ratio = statistics.median(ratios)
    print(
        f"{name:<36} baseline {t_base / chunks / steps_per_chunk * 1e6:7.1f} µs/step   adapter "
        f"{t_ours / chunks / steps_per_chunk * 1e6:7.1f} µs/step   ratio {ratio:.3f} "
        f"(median of {chunks} interleaved chunks)"
    )
    return ratio


def compare(
    name: str, base: Callable[[], float], ours: Callable[[], float], rounds: int, steps: int
) -> float:
    best_base, best_ours = math.inf, math.inf
    for _ in range(rounds):
        best_base = min(best_base, base())
        best_ours = min(best_ours, ours())
    ratio = best_ours / best_base
    print(
        f"{name:<36} baseline {best_base / steps * 1e6:7.1f} µs/step   adapter "
        f"{best_ours / steps * 1e6:7.1f} µs/step   ratio {ratio:.3f} (best of {rounds} runs each)"
    )
    return ratio


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1800, help="steps per run (a multiple of 30)")
    p.add_argument("--rounds", type=int, default=7, help="Lightning runs of each")
    p.add_argument("--only", choices=("loop", "lightning", "ignite"), default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    ds = Dopesheet.from_csv(SCHEDULE).scaled(args.steps)
    lists = Lists(ds)
    n = len(ds)
    print(f"digits MLP, batch 50, {n} steps per side, one torch thread")
    ratios: dict[str, float] = {}
    quiet = logging.getLogger("lightning.pytorch")
    quiet.setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        if args.only in (None, "loop"):
            ratios["loop"] = interleaved(
                "plain loop: LambdaLR vs DopesheetLR",
                loop_torch_scheduler(ds, lists), loop_dopesheet_lr(ds, lists), n // 30, 30, 30,
            )  # fmt: skip
        if args.only in (None, "lightning"):
            ratios["lightning"] = compare(
                "Lightning: without vs with callback",
                lambda: lightning_run(ds, lists, False), lambda: lightning_run(ds, lists, True),
                args.rounds, n,
            )  # fmt: skip
        if args.only in (None, "ignite"):
            ratios["ignite"] = interleaved(
                "Ignite: without vs with handler",
                ignite_run(ds, lists, False), ignite_run(ds, lists, True), n // 30, 1, 30,
            )  # fmt: skip
    print("target: ratio ≤ 1.02 each")
    return ratios


if __name__ == "__main__":
    main()

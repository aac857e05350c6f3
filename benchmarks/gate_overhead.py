"""What following gates costs per step, against the colour example's training step.

In one process, interleaved rounds (medians):

1. the colour curriculum's training step: ``exp.trainer(...)`` on ``color-curriculum.csv``
   scaled to ``--train-steps`` steps, progress and metrics off (seconds per step);
2. gate evaluation: stepping a :class:`GatedTimeline` of ``color-curriculum-gated.csv`` and
   feeding it each step's metrics the way :class:`GateHandler` does (``step_metrics`` of the
   event, ``observe``, the schedule-step record), minus stepping a plain :class:`Timeline` of the
   same sheet. The stream holds the gate's row for its whole ``max`` (2,000 steps), so its
   condition, a comparison and a 50-step ``stable`` window, is evaluated every step.

The ratio (2) / (1) is the overhead of gates; the target is ≤ 2%.

Run: ``python -m benchmarks.gate_overhead [--rounds 5] [--train-steps 400]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from pathlib import Path

import torch

from ex_color.experiment import build, make_optimizer
from mini.temporal import Dopesheet, DopesheetWarning, GatedTimeline, Timeline
from mini.training.events import Event
from mini.training.gate_handler import step_metrics

SCHEDULES = Path(__file__).resolve().parent.parent / "schedules"


def colour_step_seconds(steps: int) -> float:
    """Seconds per training step of the colour example (trainer, fixed schedule)."""
    exp = build(seed=0)
    ds = Dopesheet.from_csv(SCHEDULES / "color-curriculum.csv").scaled(steps)
    trainer = exp.trainer(ds, make_optimizer(exp.model), progress=False, metrics_every=None)
    t = time.perf_counter()
    trainer.fit()
    return (time.perf_counter() - t) / steps


def gate_seconds(ds: Dopesheet, steps: int) -> float:
    """Seconds per step that following the gates adds to stepping the schedule."""
    losses = {"total": 0.01, "loss-recon": 0.005, "reg-norm": 0.002, "reg-planar": 0.001}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DopesheetWarning)
        plain = Timeline(ds)
    t = time.perf_counter()
    for _ in range(steps):
        plain.step()
    base = time.perf_counter() - t
    gated = GatedTimeline(ds)
    record: dict[str, object] = {}
    t = time.perf_counter()
    state = gated.state
    for _ in range(steps):
        record["schedule-step"] = state.schedule_step  # GateHandler's pre-step record
        event = Event("step-metrics", None, state, losses=losses, extras=record)  # type: ignore[arg-type]
        gated.observe(state.step, step_metrics(event))
        state = gated.step()
    return max(0.0, (time.perf_counter() - t - base) / steps)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--train-steps", type=int, default=400)
    p.add_argument("--gate-steps", type=int, default=6000)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    ds = Dopesheet.from_csv(SCHEDULES / "color-curriculum-gated.csv")
    step_s, gate_s = [], []
    for r in range(args.rounds):
        step_s.append(colour_step_seconds(args.train_steps))
        gate_s.append(gate_seconds(ds, args.gate_steps))
        print(f"round {r + 1}: step {step_s[-1] * 1e6:8.1f} µs, gates {gate_s[-1] * 1e6:6.2f} µs")
    step, gate = statistics.median(step_s), statistics.median(gate_s)
    print(f"colour training step (median): {step * 1e6:.1f} µs")
    print(f"gate evaluation per step (median): {gate * 1e6:.2f} µs")
    print(f"ratio: {gate / step:.4f} ({100 * gate / step:.2f}% of a step; target <= 2%)")


if __name__ == "__main__":
    main()

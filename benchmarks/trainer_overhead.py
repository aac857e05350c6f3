"""Trainer overhead vs a bare hand-written PyTorch loop (issue: generic trainer).

Same colour MLP, same batches, same weighted criteria, same schedule, same number of steps; the
trainer runs with its metrics recorder on (writing metrics.jsonl). The bare loop reads lr and
weights from precomputed arrays and logs nothing. Prints seconds per step of each, the ratio,
and what the trainer's extra time per step is made of.

Run: ``python -m benchmarks.trainer_overhead [--steps N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import torch

from ex_color.model import ColorMLP
from ex_color.regularizers import planarity, reconstruction, unitarity
from mini.temporal import Dopesheet, Timeline, realize
from mini.training import PhaseData, Trainer

SCHEDULE = Path(__file__).resolve().parent.parent / "schedules" / "color-curriculum.csv"
CRITERIA = {"loss-recon": reconstruction, "reg-norm": unitarity, "reg-planar": planarity}


def schedule(steps: int) -> Dopesheet:
    ds = Dopesheet.from_csv(SCHEDULE)
    df = ds.as_df()[["STEP", "ACTION", "lr", "loss-recon", "reg-norm", "reg-planar"]]
    return Dopesheet.from_df(df, source=SCHEDULE.name).scaled(steps)  # one phase, all batches alike


def batches(n: int = 64, size: int = 256) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [torch.rand(size, 3, generator=g) for _ in range(n)]


def fresh_model() -> tuple[ColorMLP, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = ColorMLP()
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def bare_loop(ds: Dopesheet, data: list[torch.Tensor]) -> float:
    model, opt = fresh_model()
    table = realize(ds)
    lrs = table["lr"].tolist()
    weights = {name: table[name].tolist() for name in CRITERIA}
    t = time.perf_counter()
    for step in range(len(ds)):
        for group in opt.param_groups:
            group["lr"] = lrs[step]
        batch = data[step % len(data)]
        result = model(batch)
        loss = None
        for name, crit in CRITERIA.items():
            w = weights[name][step]
            if w:
                term = w * crit(batch, result)
                loss = term if loss is None else loss + term
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - t


def trainer_loop(ds: Dopesheet, data: list[torch.Tensor], out: Path) -> float:
    model, opt = fresh_model()
    trainer = Trainer(
        model, opt, ds, PhaseData(data), CRITERIA, out_dir=out, progress=False,
        checkpoint_on_phase_end=False,
    )  # fmt: skip
    t = time.perf_counter()
    trainer.fit()
    return time.perf_counter() - t


def component_costs(ds: Dopesheet, steps: int) -> dict[str, float]:
    """Microseconds per step of the trainer's own work, measured in isolation."""
    tl = Timeline(ds)
    t = time.perf_counter()
    for _ in range(steps - 1):
        tl.step()
    timeline_us = (time.perf_counter() - t) / (steps - 1) * 1e6
    x = torch.rand(()) * 1.0
    t = time.perf_counter()
    for _ in range(steps):
        for _ in range(4):  # total + 3 terms
            x.item()
    item_us = (time.perf_counter() - t) / steps * 1e6
    record = {
        "step": 1,
        "phase": "p",
        "props": tl.state.props,
        "losses": dict.fromkeys("abcd", 0.1),
    }
    t = time.perf_counter()
    for _ in range(steps):
        json.dumps(record)
    json_us = (time.perf_counter() - t) / steps * 1e6
    return {"timeline.step": timeline_us, "loss .item() x4": item_us, "metrics json": json_us}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # tiny model: threads only add noise; same for both sides
    ds = schedule(args.steps)
    data = batches()
    bare, ours = math.inf, math.inf
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):  # alternate, keep the best of each (least disturbed)
            bare = min(bare, bare_loop(ds, data))
            ours = min(ours, trainer_loop(ds, data, Path(tmp) / f"run{r}"))
    n = len(ds)
    print(f"colour MLP, batch 256, {n:,} steps, best of {args.rounds} rounds")
    print(f"bare loop: {bare / n * 1e6:8.1f} µs/step")
    print(f"trainer:   {ours / n * 1e6:8.1f} µs/step  (metrics.jsonl on)")
    print(f"  ratio trainer/bare = {ours / bare:.3f}   (target <= 1.10)")
    print(f"  overhead {(ours - bare) / n * 1e6:.1f} µs/step; its parts, measured alone:")
    for name, us in component_costs(ds, n).items():
        print(f"    {name:18s} {us:6.2f} µs")
    return {"bare_us": bare / n * 1e6, "trainer_us": ours / n * 1e6, "ratio": ours / bare}


if __name__ == "__main__":
    main()

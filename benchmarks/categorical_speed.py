"""The categorical tokenizer's learnable run: the trainer vs a bare hand-written PyTorch loop.

Same model (built from the same seed), same table, batches, schedule, steps and threads. The
bare loop does by hand what the dopesheet does for the trainer: per-group learning rates and
gradient clips, the assignment temperature and noise, the weighted criteria, the ``harden`` and
``refresh`` actions, and the same held-out evaluation every ``--eval-every`` steps. The trainer
writes ``metrics.jsonl`` and its final checkpoint, as in ``benchmarks/trainer_overhead.py``;
phase-end and best checkpoints (a few fsync'd files per run, which a short run on a busy disk
feels) are off, and so are the progress bar and the video. Rounds alternate between the two and the best round of each counts, so load on
a shared machine disturbs both alike. Also prints steps/s of a static run under the trainer.

Run: ``flock /tmp/bench.lock python -m benchmarks.categorical_speed [--steps N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import torch

from mini.temporal import Dopesheet, Timeline, realize
from vq.tokenizer.metrics import CRITERIA
from vq.tokenizer.run import CategoricalRun, build, make_optimizer, refresh_codes
from vq.tokenizer.synthetic import synthetic_table

SCHEDULE = Path(__file__).resolve().parent.parent / "schedules" / "categorical-vq.csv"


def fresh_run(mode: str, eval_every: int) -> CategoricalRun:
    torch.manual_seed(0)
    return build(synthetic_table(seed=0), mode, eval_every=eval_every, seed=0)  # type: ignore[arg-type]


def bare_loop(ds: Dopesheet, eval_every: int) -> float:
    run = fresh_run("learnable", eval_every)
    model = run.model
    opt = make_optimizer(model, run.weight_decay)
    model_group, assign_group = opt.param_groups
    table = realize(Timeline(ds))
    col = {
        name: table[name].tolist()
        for name in table.columns
        if name not in ("STEP", "PHASE", "ACTION")
    }
    actions: dict[int, list[str]] = {}
    for step, action in ds.actions:
        actions.setdefault(step, []).append(action)
    batches = iter(run.batches)
    n = len(table)
    t = time.perf_counter()
    for step in range(n):
        for action in actions.get(step, []):
            if action == "harden":
                model.assignment.hard = True
            elif action == "refresh":
                refresh_codes(model)
        model_group["lr"], assign_group["lr"] = col["lr"][step], col["lr-assign"][step]
        model.assignment.temperature = col["assign-temperature"][step]
        model.leak_noise = col["assign-noise"][step]
        x, _ = next(batches)
        result = model(x)
        loss = None
        for name, crit in CRITERIA.items():
            w = col[name][step]
            if w:
                term = w * crit(x, result)
                loss = term if loss is None else loss + term
        for p in model.parameters():
            p.grad = None
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model_group["params"], col["grad-clip"][step])
        torch.nn.utils.clip_grad_norm_(assign_group["params"], col["grad-clip-assign"][step])
        opt.step()
        if step % eval_every == 0 or step + 1 == n:
            run.evaluator.report()
        if step % run.frames.every == 0:
            run.frames.frames.append(model.assignment.soft().detach().clone())
    return time.perf_counter() - t


def trainer_loop(ds: Dopesheet, eval_every: int, out: Path, mode: str = "learnable") -> float:
    run = fresh_run(mode, eval_every)
    trainer = run.trainer(
        Timeline(ds), out_dir=out, progress=False, checkpoint_on_phase_end=False, keep_best=None
    )
    t = time.perf_counter()
    trainer.fit()
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--eval-every", type=int, default=100)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.backends.mkldnn.enabled = False  # as the examples run
    ds = Dopesheet.from_csv(SCHEDULE).scaled(args.steps)
    bare, ours, static = math.inf, math.inf, math.inf
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            bare = min(bare, bare_loop(ds, args.eval_every))
            ours = min(ours, trainer_loop(ds, args.eval_every, Path(tmp) / f"l{r}"))
        for r in range(args.rounds):
            static = min(static, trainer_loop(ds, args.eval_every, Path(tmp) / f"s{r}", "static"))
    n = len(ds)
    print(f"categorical VQ (synthetic, 32 features), {n:,} steps, best of {args.rounds} rounds")
    print(f"bare loop, learnable: {n / bare:7.1f} steps/s")
    print(f"trainer,   learnable: {n / ours:7.1f} steps/s")
    print(f"  ratio trainer/bare = {ours / bare:.3f}   (target <= 1.10)")
    print(f"trainer,   static:    {n / static:7.1f} steps/s")
    return {
        "bare_sps": n / bare,
        "trainer_sps": n / ours,
        "static_sps": n / static,
        "ratio": ours / bare,
    }


if __name__ == "__main__":
    main()

"""The colour curriculum: our trainer vs a notebook-style loop, and the whole default run.

1. Training speed, in one process: the same curriculum (model, data, criteria, schedule) run by
   ``exp.trainer(...)`` and by a straightforward notebook-style loop — plain Adam, anchors in
   their own forward pass, sampler weights recomputed from ``levels`` each step, one
   ``deepcopy(model.state_dict())`` per step kept for the video, ``.item()`` logging.
2. The whole default run (``python -m examples.color_curriculum``, video included) as a
   subprocess: wall time, training steps/s and rendering frames/s from its summary.json, and
   peak memory (resident set of the process tree: Python plus the ffmpeg encoder), sampled
   from /proc.

Run: ``python -m benchmarks.color_run [--steps N] [--skip-full-run]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from ex_color.data import levels
from ex_color.experiment import build, make_optimizer
from ex_color.handlers import fraction_levels
from ex_color.regularizers import Anchor
from mini.temporal import Dopesheet, Timeline

SCHEDULE = Path(__file__).resolve().parent.parent / "schedules" / "color-curriculum.csv"


def notebook_loop(ds: Dopesheet, seed: int = 0) -> tuple[float, int]:
    """Seconds for the run, and the number of state dicts kept."""
    exp = build(seed=seed)
    model = exp.model
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    focus = exp.bindings["data-fraction"].focus  # per-cell vibrancy of the HSV cube
    history, losses = [], []
    iters: dict[int, object] = {}
    t = time.perf_counter()
    for state in Timeline(ds):
        props = state.props
        if "anchor" in state.actions:
            exp.anchor.capture(model, state.step)
        in_low, out_low = fraction_levels(props["data-fraction"])
        exp.sampler.weights = levels(focus, in_low, 1.0, out_low, 1.0)
        train = exp.data[state.phase].train
        it = iters.get(id(train))
        try:
            batch = next(it)  # type: ignore[arg-type]
        except (StopIteration, TypeError):
            it = iters[id(train)] = iter(train)
            batch = next(it)
        for g in opt.param_groups:
            g["lr"] = props["lr"]
        result = model(batch)
        loss = 0.0
        for name, crit in exp.criteria.items():
            if props[name] == 0:
                continue
            term = crit(model, None) if isinstance(crit, Anchor) else crit(batch, result)
            loss = loss + props[name] * term
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        history.append(copy.deepcopy(model.state_dict()))
    return time.perf_counter() - t, len(history)


def trainer_run(ds: Dopesheet, seed: int = 0) -> float:
    exp = build(seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = exp.trainer(ds, make_optimizer(exp.model), out_dir=tmp, progress=False)
        t = time.perf_counter()
        trainer.fit()
        return time.perf_counter() - t


def _tree_rss_kb(pid: int) -> int:
    """Resident set (kB) of ``pid`` and all its descendants, from /proc. A child that is still
    a fork of its parent (between fork and exec) shares the parent's pages and is skipped."""
    total, stack = 0, [pid]
    root_cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    while stack:
        p = stack.pop()
        try:
            if p != pid and Path(f"/proc/{p}/cmdline").read_bytes() == root_cmd:
                continue
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            with open(f"/proc/{p}/task/{p}/children") as f:
                stack += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def full_run() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "examples.color_curriculum", "--out", tmp]
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, _tree_rss_kb(proc.pid))
            time.sleep(0.05)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed with {proc.returncode}")
        summary = json.loads((Path(tmp) / "summary.json").read_text())
    return {
        "wall_s": wall,
        "peak_rss_mb": peak / 1024,
        "train_steps_per_second": summary["train_steps_per_second"],
        "render_frames_per_second": summary["render_frames_per_second"],
        "recon_mse": summary["recon_mse"],
    }


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="rescale the schedule")
    parser.add_argument("--skip-full-run", action="store_true")
    args = parser.parse_args(argv)
    ds = Dopesheet.from_csv(SCHEDULE)
    if args.steps:
        ds = ds.scaled(args.steps)
    n = len(ds)
    default_threads = torch.get_num_threads()
    nb_default, kept = notebook_loop(ds)  # as a notebook runs it: torch's defaults
    # What examples.color_curriculum does for its tiny model: one thread, no oneDNN kernels.
    torch.set_num_threads(1)
    torch.backends.mkldnn.enabled = False
    nb_tuned, _ = notebook_loop(ds)
    ours_s = trainer_run(ds)
    print(f"colour curriculum, {n:,} steps")
    print(f"notebook-style loop, torch defaults ({default_threads} threads, oneDNN): "
          f"{n / nb_default:6.0f} steps/s  ({kept:,} state dicts kept)")  # fmt: skip
    print(f"notebook-style loop, 1 thread, no oneDNN:           {n / nb_tuned:6.0f} steps/s")
    print(f"dopesheet trainer = the default run (1 thread, no oneDNN): {n / ours_s:6.0f} steps/s")
    print(f"  ratio vs the notebook as written = {nb_default / ours_s:.2f}x   (target >= 2x)")
    print(f"  ratio vs the notebook given the same settings = {nb_tuned / ours_s:.2f}x")
    out = {
        "notebook_steps_per_second": n / nb_default,
        "notebook_tuned_steps_per_second": n / nb_tuned,
        "trainer_steps_per_second": n / ours_s,
    }
    if not args.skip_full_run:
        full = full_run()
        print("whole default run (python -m examples.color_curriculum, video included):")
        print(f"  wall {full['wall_s']:.1f} s, training {full['train_steps_per_second']:.0f} steps/s, "
              f"rendering {full['render_frames_per_second']:.1f} frames/s")  # fmt: skip
        print(f"  peak memory (python + ffmpeg) {full['peak_rss_mb']:.0f} MB   (target < 600 MB)")
        out.update(full)
    return out


if __name__ == "__main__":
    main()

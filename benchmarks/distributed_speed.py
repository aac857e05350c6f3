"""The VQ example on 1 process vs ``torchrun --nproc_per_node=2`` (gloo, CPU): steps/s and wall.

Both runs train the same global batches (each of the 2 processes trains its half of every batch,
see ``mini.training.distributed``), one torch thread per process, no video. Runs alternate
``--rounds`` times; the best of each is reported with the ratio.

    python -m benchmarks.distributed_speed [--steps 3001] [--rounds 2] [--batch-size 256]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(procs: int, steps: int, batch: int, out: Path) -> tuple[float, float]:
    """``(wall seconds, training steps/s)`` of one run of the VQ example."""
    args = ["-m", "examples.vq_curriculum", "--steps", str(steps), "--no-video",
            "--batch-size", str(batch), "--out", str(out)]  # fmt: skip
    if procs == 1:
        cmd = [sys.executable, *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={procs}", *args]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{procs}-process run failed:\n{proc.stderr[-2000:]}")
    summary = json.loads((out / "summary.json").read_text())
    return wall, summary["train_steps_per_second"]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3001)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=256)
    args = p.parse_args(argv)
    best: dict[int, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for procs in (1, 2):
                wall, sps = run(procs, args.steps, args.batch_size, Path(tmp) / f"{procs}-{r}")
                old = best.get(procs)
                best[procs] = (min(wall, old[0]), max(sps, old[1])) if old else (wall, sps)
                print(f"round {r}: {procs} process(es): {wall:.1f} s wall, {sps:,.0f} steps/s")
    (w1, s1), (w2, s2) = best[1], best[2]
    print(
        f"VQ example, {args.steps:,} steps, global batch {args.batch_size}, best of {args.rounds}"
    )
    print(f"1 process : {w1:6.1f} s wall, {s1:6,.0f} steps/s")
    print(f"2 processes: {w2:6.1f} s wall, {s2:6,.0f} steps/s  ({s2 / s1:.2f}x steps/s)")


if __name__ == "__main__":
    main()

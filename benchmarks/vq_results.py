"""The VQ example's results table (docs/results.md), measured: each row is the example run as a
user would run it (a subprocess, `--no-video`), and its held-out numbers read from summary.json.

    python -m benchmarks.vq_results [--steps 3001] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIDE = ["--latent-dim", "16", "--codes", "256"]
HARD = [*WIDE, "--schedule", "schedules/vq-hard-codes.csv"]
ROWS = {
    "default: 2-D latent, 2 levels × 16 codes": [],
    "default, `--relaxation gumbel`": ["--relaxation", "gumbel"],
    "`--latent-dim 16 --codes 256`": WIDE,
    "`--latent-dim 16 --codes 256 --schedule schedules/vq-hard-codes.csv`": HARD,
    "the same, `--no-refresh`": [*HARD, "--no-refresh"],
    "the same, `--no-refresh --refresh-every 500`": [*HARD, "--no-refresh", "--refresh-every", "500"],
}  # fmt: skip


def run(flags: list[str], steps: int, seed: int, out: Path) -> dict:
    cmd = [sys.executable, "-m", "examples.vq_curriculum", "--no-video", "--steps", str(steps)]
    cmd += ["--seed", str(seed), "--out", str(out), *flags]
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return json.loads((out / "summary.json").read_text())


def row(name: str, s: dict) -> str:
    active = ", ".join(f"{lv['active']}/{lv['codes']}" for lv in s["levels"])
    orth = ", ".join(f"{lv['orthogonality']:.2f}" for lv in s["levels"])
    train = ", ".join(f"{lv['active']}/{lv['codes']}" for lv in s["train_levels"])
    return (
        f"| {name} | {active} | {s['utilization']:.3f} | {s['recon_quality']:.3f} | "
        f"{s['topographic_correlation']:.3f} | {orth} | {train} ({s['train_utilization']:.3f}) |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3001)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(
        f"| run (seed {args.seed}, {args.steps:,} steps) | active codes per level, held-out | "
        "utilization | recon quality | topographic corr. | orthogonality per level | "
        "training window: active (utilization) |"
    )
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, flags) in enumerate(ROWS.items()):
            print(row(name, run(flags, args.steps, args.seed, Path(tmp) / f"r{k}")), flush=True)


if __name__ == "__main__":
    main()

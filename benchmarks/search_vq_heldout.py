"""The searched VQ curriculum against the default one, on held-out test digits.

Trains ``python -m examples.vq_curriculum --test-split --steps N`` with each schedule and each
seed (in this process, one after another) and prints the test figures of each run and their
means. The search itself validated on the other half of the validation digits and never saw
the test digits (``--test-split``).

    python benchmarks/search_vq_heldout.py out/vq-search/search/best.csv --steps 300 --seeds 0 1 2 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

KEYS = ("recon_quality", "utilization", "topographic_correlation", "orthogonality")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("best", type=Path, help="the search's best.csv")
    p.add_argument("--default", type=Path, default=REPO / "schedules" / "vq-curriculum.csv")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args()
    from examples import vq_curriculum

    figures: dict[str, list[dict[str, float]]] = {"default": [], "searched": []}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for name, sheet in (("default", args.default), ("searched", args.best)):
                out = Path(tmp) / f"{name}-{seed}"
                s = vq_curriculum.main(
                    ["--schedule", str(sheet), "--steps", str(args.steps), "--seed", str(seed),
                     "--test-split", "--no-video", "--out", str(out)]
                )  # fmt: skip
                row = {k: float(s["test"][k]) for k in KEYS} | {"seed": seed}
                row["val_recon_quality"] = float(s["recon_quality"])
                figures[name].append(row)
    print(f"test digits, {args.steps} steps, seeds {args.seeds}")
    print(f"{'schedule':<10} {'seed':>4} " + " ".join(f"{k:>24}" for k in KEYS))
    for name, rows in figures.items():
        for r in rows:
            print(f"{name:<10} {r['seed']:>4} " + " ".join(f"{r[k]:>24.4f}" for k in KEYS))
    for name, rows in figures.items():
        means = [statistics.mean(r[k] for r in rows) for k in KEYS]
        print(f"{name + ' mean':<15} " + " ".join(f"{m:>24.4f}" for m in means))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Import cost of our entry points against the library each one needs, in fresh interpreters.

Each pair runs in fresh subprocesses side by side (the order alternating every round, so machine
load hits both alike); each subprocess times its own import statement with
``time.perf_counter`` (interpreter start-up excluded) and prints it. Medians over the rounds and
their ratio close each row, and a third series times our statement in fresh interpreters that
imported the baseline first (untimed): the milliseconds our own modules add, which the ratio's
two noisy medians of the whole import hide on a loaded machine (``1 + added/baseline`` is the
steadier ratio). Bytecode caches are warm, as after an install's first import: the
subprocesses write and read ``.pyc`` files under a temporary ``PYTHONPYCACHEPREFIX`` (so nothing
is written into the checkout, and an environment's ``PYTHONDONTWRITEBYTECODE`` does not turn our
side into a compile benchmark while numpy's and torch's installed caches are used), after one
untimed warm-up import of each statement:

- ``from vq import VectorQuantizer`` against ``import torch`` (the quantizer needs torch);
- ``from vq import VQAutoencoder`` against ``import torch``;
- ``from mini.temporal import Timeline`` against ``import numpy`` (the timeline needs numpy).

    python -m benchmarks.import_time [--rounds 9] [--only timeline]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PAIRS: list[tuple[str, str]] = [
    ("from vq import VectorQuantizer", "import torch"),
    ("from vq import VQAutoencoder", "import torch"),
    ("from mini.temporal import Timeline", "import numpy"),
]
_TIMER = (
    "{before}import time; t, c = time.perf_counter(), time.process_time(); {stmt}; "
    "print(time.perf_counter() - t, time.process_time() - c)"
)


def import_seconds(statement: str, pycache: str, clock: str = "wall", before: str = "") -> float:
    """Seconds (``clock``: ``"wall"`` or the process's ``"cpu"`` time) a fresh interpreter (run
    in this checkout) takes to execute ``statement``, with its bytecode cached under
    ``pycache``, after running ``before`` untimed."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONPYCACHEPREFIX": pycache}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _TIMER.format(stmt=statement, before=f"{before}; " if before else ""),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=True,
    )
    wall, cpu = proc.stdout.strip().splitlines()[-1].split()
    return float(cpu if clock == "cpu" else wall)


def measure(
    ours: str, baseline: str, rounds: int, pycache: str, clock: str = "wall"
) -> tuple[float, float, float]:
    """Median import seconds of ``ours`` and ``baseline`` over interleaved rounds (after one
    untimed warm-up import each, which writes the bytecode caches), and of ``ours`` in
    interpreters that imported ``baseline`` first (what our modules add to it)."""
    times: dict[str, list[float]] = {ours: [], baseline: [], "added": []}
    for stmt in (ours, baseline):
        import_seconds(stmt, pycache, clock)
    for r in range(rounds):
        order = (ours, baseline, "added") if r % 2 == 0 else ("added", baseline, ours)
        for stmt in order:
            if stmt == "added":
                times[stmt].append(import_seconds(ours, pycache, clock, before=baseline))
            else:
                times[stmt].append(import_seconds(stmt, pycache, clock))
    med = {k: statistics.median(v) for k, v in times.items()}
    return med[ours], med[baseline], med["added"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=9, help="fresh subprocesses per statement")
    p.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall-clock seconds, or the subprocess's CPU seconds (steadier on a loaded machine)",
    )
    p.add_argument(
        "--only",
        choices=("vq", "timeline"),
        help="only the vq rows (torch) or only the timeline row (numpy)",
    )
    args = p.parse_args(argv)
    pairs = [(o, b) for o, b in PAIRS if args.only is None or (args.only == "vq") == ("vq" in o)]
    print(f"median of {args.rounds} fresh interpreters each, interleaved, {args.clock} clock")
    print(
        f"{'import':36s} {'s':>7s}  {'baseline':14s} {'s':>7s} {'ratio':>6s} "
        f"{'added ms':>8s} {'1 + added/baseline':>18s}"
    )
    with tempfile.TemporaryDirectory(prefix="import-time-pyc-") as pycache:
        for ours, baseline in pairs:
            mine, base, added = measure(ours, baseline, args.rounds, pycache, args.clock)
            print(
                f"{ours:36s} {mine:7.3f}  {baseline:14s} {base:7.3f} {mine / base:6.3f} "
                f"{added * 1e3:8.1f} {1 + added / base:18.3f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

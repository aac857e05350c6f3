"""``python -m mini.temporal check`` on large inputs: wall time, peak RSS and output size.

Two generated files (written to a temp folder, nothing downloaded):

- a *valid* sheet of about 50 MB: ~1M rows, absolute anchors with relative rows between them,
  phases, actions and six property columns;
- 2 MB of *garbage* in CSV shape, which yields hundreds of thousands of problems (the CLI
  prints only the first ones, but counts all).

Each check runs in its own child process (so its peak RSS is its own, from ``os.wait4``). With
``--baseline DIR`` (a checkout of another version, e.g. ``git worktree add /tmp/base main``) the
two versions run interleaved, ``--repeat`` times each, and the ratio of the best times is printed.

Run: ``flock /tmp/bench.lock python -m benchmarks.check_large [--baseline DIR]``
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_valid_sheet(path: Path, target_bytes: int = 50_000_000) -> int:
    """A valid dopesheet of about ``target_bytes``; returns the number of data rows."""
    rng = random.Random(0)
    header = "STEP,PHASE,ACTION,lr:log,loss-recon,reg-anchor,temperature:log,mix,z::step-end\n"
    rows = 0
    size = len(header)
    step = 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(header)
        block = 0
        while size < target_bytes:
            # one absolute anchor, then relative rows between it and the next anchor
            lines = [
                f"{step},{'Phase' + str(block // 1000) if block % 1000 == 0 else ''},"
                f"{'refresh' if block % 97 == 0 else ''},{rng.uniform(1e-5, 1e-2):.6g},"
                f"{rng.random():.6g},{rng.random():.4g},{rng.uniform(0.1, 2):.5g},"
                f"{rng.random():.5g},{block % 7}\n",
                f"+0.25,,,,{rng.random():.6g},,,{rng.random():.5g},\n",
                f"+10,,snapshot,,,{rng.random():.4g},,,\n",
                f"-0.25,,,{rng.uniform(1e-5, 1e-2):.6g},,,{rng.uniform(0.1, 2):.5g},,\n",
            ]
            text = "".join(lines)
            f.write(text)
            size += len(text)
            rows += len(lines)
            step += 100
            block += 1
        f.write(f"{step},,,1e-5,0,0,0.1,0,0\n")
    return rows + 1


def write_garbage(path: Path, target_bytes: int = 2_000_000) -> None:
    """CSV-shaped junk: every row has an unreadable step and unreadable numbers."""
    rng = random.Random(1)
    alphabet = "abcdefghijklmnopqrstuvwxyz.+-e"
    size = 0
    with open(path, "w", encoding="utf-8") as f:
        f.write("STEP,a,b,c,d\n")
        while size < target_bytes:
            cells = ["".join(rng.choices(alphabet, k=rng.randint(1, 4))) for _ in range(5)]
            line = ",".join(cells) + "\n"
            f.write(line)
            size += len(line)


def run_check(pythonpath: Path, file: Path) -> tuple[float, float, int, int, str]:
    """(wall seconds, peak RSS MiB, exit code, stdout bytes, last stdout line) of one check.

    The output is streamed and only its tail kept: on Linux a child's peak RSS (from
    ``wait4``) also counts the parent's memory at the moment it starts the child, so the
    parent must stay small."""
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    cmd = [sys.executable, "-m", "mini.temporal", "check", str(file)]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=pythonpath, env=env, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    size, tail = 0, b""
    while chunk := proc.stdout.read(1 << 16):
        size += len(chunk)
        tail = (tail + chunk)[-400:]
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    last = tail.decode(errors="replace").strip().splitlines()[-1:] or [""]
    return wall, usage.ru_maxrss / 1024, proc.returncode, size, last[0][:100]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        valid, garbage = Path(tmp) / "valid.csv", Path(tmp) / "garbage.csv"
        n = write_valid_sheet(valid)
        write_garbage(garbage)
        print(f"valid sheet: {valid.stat().st_size / 1e6:.1f} MB, {n:,} rows")
        print(f"garbage: {garbage.stat().st_size / 1e6:.1f} MB")
        versions = {"ours": ROOT} | ({"baseline": args.baseline} if args.baseline else {})
        best: dict[tuple[str, str], float] = {}
        for _ in range(args.repeat):
            for label, file in (("valid 50 MB", valid), ("garbage 2 MB", garbage)):
                for version, path in versions.items():
                    wall, rss, rc, nbytes, last = run_check(path, file)
                    key = (label, version)
                    best[key] = min(best.get(key, wall), wall)
                    print(
                        f"{label:13} {version:8} {wall:7.2f} s  peak RSS {rss:7.0f} MiB  "
                        f"exit {rc}  stdout {nbytes / 1e6:.2f} MB  last: {last}"
                    )
        if args.baseline:
            for label in ("valid 50 MB", "garbage 2 MB"):
                ratio = best[(label, "baseline")] / best[(label, "ours")]
                print(f"{label}: baseline/ours best time = {ratio:.1f}x")


if __name__ == "__main__":
    main()

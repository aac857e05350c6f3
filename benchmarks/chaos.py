"""Chaos test: break the examples' runs on purpose and check that nothing is lost.

For the colour and the VQ example (short schedules), against an uninterrupted reference run:

- ``kill -9`` at random moments (training, checkpoint writing, video rendering), then
  ``--resume`` (or a fresh start with ``--overwrite`` when no checkpoint was written yet);
- corrupt the newest checkpoint after a kill (truncated), then ``--resume`` (it must fall back
  to the previous intact checkpoint);
- a full disk: the run folder on a small tmpfs (``mount -t tmpfs``, needs root), the run must
  exit with a clear "no space left" message; then the folder is moved to a roomy disk and the
  run resumed;
- a broken ffmpeg (``IMAGEIO_FFMPEG_EXE=/bin/false``): exit code 4, ``summary.json`` written
  and saying the video failed, every other output present.

And the run-safety faults of :mod:`benchmarks.chaos_safety`: a second writer (a fresh run and
a ``--resume`` into a folder a run is writing), ``--overwrite`` of a folder of someone else's
files (and of a run folder holding a user's file), a ``--watch`` edit that shortens the run, a
stalled torchrun rank (SIGSTOP), and eight threads clicking an explorer's controls at once.

After each scenario the final ``summary.json`` (without timings and paths) and
``metrics.jsonl`` must equal the reference's. Prints faults injected / survived / data lost.

    python -m benchmarks.chaos [--kills N] [--seed S] [--examples color vq] [--faults ...]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import chaos_safety

REPO = Path(__file__).resolve().parent.parent
VOLATILE = {"train_steps_per_second", "render_frames_per_second", "wall_seconds", "outputs",
            "video"}  # fmt: skip
EXAMPLES = {
    "color": ["examples.color_curriculum", "--steps", "3000", "--frames", "60",
              "--checkpoint-every", "400"],
    "vq": ["examples.vq_curriculum", "--steps", "900", "--frames", "40",
           "--checkpoint-every", "150", "--health-every", "50"],
}  # fmt: skip


@dataclass
class Tally:
    injected: int = 0
    survived: int = 0
    lost: int = 0
    notes: list[str] = field(default_factory=list)


def run(
    args: list[str], out: Path, env: dict[str, str] | None = None, kill_after: float | None = None
):
    """Run an example; with ``kill_after``, SIGKILL it after that many seconds. Returns
    ``(returncode, stderr)``; ``None`` as returncode when it was killed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", *args, "--out", str(out)], cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    if kill_after is None:
        _, err = proc.communicate()
        return proc.returncode, err
    try:
        _, err = proc.communicate(timeout=kill_after)
        return proc.returncode, err  # it finished first
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        return None, ""


def outcome(out: Path) -> tuple[dict, list[str]] | None:
    try:
        summary = json.loads((out / "summary.json").read_text())
        metrics = (out / "metrics.jsonl").read_text().splitlines()
    except (OSError, ValueError):
        return None
    return {k: v for k, v in summary.items() if k not in VOLATILE}, metrics


def finish(args: list[str], out: Path) -> tuple[int, str]:
    """Resume a broken run until it completes (fresh start if nothing was checkpointed)."""
    has_ckpt = any((out / "checkpoints").glob("*.pt")) if (out / "checkpoints").is_dir() else False
    if has_ckpt:
        return run([*args, "--resume", str(out)], out)
    return run([*args, "--overwrite"], out)


def compare(tally: Tally, what: str, ref, out: Path) -> None:
    got = outcome(out)
    if got == ref:
        tally.survived += 1
    else:
        tally.lost += 1
        tally.notes.append(f"{what}: final outputs differ from the reference")


FAULTS = ("kill", "ffmpeg", "disk", "writer", "overwrite", "watch", "stall", "explorer")


def chaos(
    name: str, kills: int, rng: random.Random, root: Path, tally: Tally,
    faults: tuple[str, ...] = FAULTS,
) -> None:  # fmt: skip
    args = EXAMPLES[name]
    t0 = time.perf_counter()
    code, err = run(args, root / f"{name}-ref")
    wall = time.perf_counter() - t0
    ref = outcome(root / f"{name}-ref")
    if code != 0 or ref is None:
        raise SystemExit(f"reference run of {name} failed ({code}):\n{err}")
    print(f"{name}: reference run {wall:.1f} s")
    if "writer" in faults:
        chaos_safety.second_writer(name, args, ref, root, tally, run, compare)
    if "overwrite" in faults:
        chaos_safety.foreign_overwrite(name, args, ref, root, tally, run, compare)
    if "watch" in faults:
        chaos_safety.watch_length(name, args, root, tally, run, rng)
    if "stall" in faults:
        chaos_safety.stalled_rank(name, args, root, tally, run)
    for i in range(
        kills if "kill" in faults else 0
    ):  # kill -9 at a random moment (training, checkpoint, video)
        out = root / f"{name}-kill{i}"
        when = rng.uniform(0.1, 1.0) * wall
        tally.injected += 1
        code, err = run(args, out, kill_after=when)
        corrupt = i % 3 == 2 and (out / "checkpoints").is_dir()
        if corrupt:  # and the newest checkpoint is truncated
            files = sorted((out / "checkpoints").glob("step-*.pt"))
            if files:
                files[-1].write_bytes(files[-1].read_bytes()[:64])
                tally.injected += 1
        if code is None:
            code, err = finish(args, out)
        if code != 0:
            tally.lost += 1 + corrupt
            tally.notes.append(f"{name} kill at {when:.1f}s: resume failed ({code}): {err[-300:]}")
            continue
        compare(tally, f"{name} kill at {when:.1f}s", ref, out)
        tally.survived += corrupt
    if "ffmpeg" in faults:
        broken_ffmpeg(name, args, ref, root, tally)
    if "disk" in faults:
        disk_full(name, args, ref, root, tally)


def broken_ffmpeg(name: str, args: list[str], ref, root: Path, tally: Tally) -> None:
    """A broken ffmpeg: the video fails, everything else is written, exit 4."""
    out = root / f"{name}-ffmpeg"
    tally.injected += 1
    code, _ = run(args, out, env={"IMAGEIO_FFMPEG_EXE": "/bin/false"})
    summary = (
        json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}
    )
    if code == 4 and summary.get("video", {}).get("ok") is False:
        compare(tally, f"{name} broken ffmpeg", ref, out)
    else:
        tally.lost += 1
        tally.notes.append(f"{name} broken ffmpeg: exit {code}, summary {summary.get('video')}")


def disk_full(name: str, args: list[str], ref, root: Path, tally: Tally) -> None:
    mnt = root / f"{name}-tmpfs"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:  # fmt: skip
        tally.notes.append(f"{name} disk full: skipped (cannot mount a tmpfs here)")
        return
    tally.injected += 1
    try:
        code, err = run(args, mnt / "run")
        clear = code == 2 and "no space left on device" in err
        moved = root / f"{name}-disk"
        shutil.copytree(mnt / "run", moved)
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)
    if not clear:
        tally.lost += 1
        tally.notes.append(f"{name} disk full: exit {code}, no clear message: {err[-300:]}")
        return
    code, err = finish(args, moved)
    if code != 0:
        tally.lost += 1
        tally.notes.append(f"{name} disk full: resume failed ({code}): {err[-300:]}")
        return
    compare(tally, f"{name} disk full", ref, moved)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=6, help="kill -9 runs per example")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--examples", nargs="+", default=list(EXAMPLES), choices=list(EXAMPLES))
    p.add_argument("--faults", nargs="+", default=list(FAULTS), choices=list(FAULTS))
    args = p.parse_args(argv)
    rng = random.Random(args.seed)
    tally = Tally()
    faults = tuple(args.faults)
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        for name in args.examples:
            chaos(name, args.kills, rng, Path(tmp), tally, faults)
        if "explorer" in faults:
            chaos_safety.explorer_clicks(Path(tmp), tally, rng)
    print(f"faults injected: {tally.injected}, survived: {tally.survived}, data lost: {tally.lost}")
    for note in tally.notes:
        print("  -", note)
    return 0 if tally.lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

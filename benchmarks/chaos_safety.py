"""Run-safety faults for ``benchmarks/chaos.py``: a second writer, ``--overwrite`` of a foreign
folder, a length-changing ``--watch`` edit, a stalled torchrun rank, concurrent explorer clicks.

Each fault counts as survived when the run that was attacked loses nothing (its final outputs
equal the uninterrupted reference, or it can be resumed to the end) and the attacker is refused
with a message instead of a traceback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _popen(args: list[str], out: Path, env: dict[str, str] | None = None, launcher=None):
    cmd = [*(launcher or [sys.executable, "-m"]), *args, "--out", str(out)]
    return subprocess.Popen(
        cmd, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip


def _wait_for(cond, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def second_writer(name, args, ref, root: Path, tally, run, compare) -> None:
    """While a run trains in its folder, a fresh run and a --resume into it are refused naming
    the holder; the first run's outputs equal the reference."""
    out = root / f"{name}-writer"
    first = _popen(args, out)
    ok = _wait_for(lambda: any((out / "checkpoints").glob("step-*.pt")) or first.poll() is not None)
    attacks = {}
    for extra in ([], ["--resume", str(out)]):  # both at once, while the first run trains
        if ok and first.poll() is None:
            attacks[tuple(extra)] = _popen([*args, *extra], out)
    for extra in ([], ["--resume", str(out)]):
        tally.injected += 1
        attacker = attacks.get(tuple(extra))
        if attacker is None:
            tally.notes.append(f"{name} second writer: the first run ended before the attack")
            tally.lost += 1
            continue
        _, err = attacker.communicate()
        flat = " ".join(err.split())
        if (
            attacker.returncode == 2
            and "in use by another run" in flat
            and (f"process {first.pid}" in flat)
        ):
            tally.survived += 1
        else:
            tally.lost += 1
            tally.notes.append(
                f"{name} second writer {extra}: exit {attacker.returncode}: {err[-300:]}"
            )
    _, err = first.communicate()
    if first.returncode != 0:
        tally.notes.append(f"{name} second writer: the first run failed: {err[-300:]}")
    compare(tally, f"{name} second writer (first run)", ref, out)
    tally.injected += 1


def foreign_overwrite(name, args, ref, root: Path, tally, run, compare) -> None:
    """``--overwrite`` on a folder of someone else's files: refused, nothing deleted; on a run
    folder holding a user's file: the run replaced, the user's file kept."""
    out = root / f"{name}-foreign"
    (out / "data").mkdir(parents=True)
    (out / "thesis.txt").write_text("x")
    (out / "data" / "important.csv").write_text("1")
    tally.injected += 1
    code, err = run([*args, "--overwrite"], out)
    intact = (out / "thesis.txt").read_text() == "x" and (out / "data" / "important.csv").exists()
    if code == 2 and intact and "--overwrite to" not in err:
        tally.survived += 1
    else:
        tally.lost += 1
        tally.notes.append(f"{name} foreign overwrite: exit {code}, intact {intact}: {err[-300:]}")
    run_folder = root / f"{name}-ref-copy"
    code, err = run(args, run_folder)
    (run_folder / "notes.md").write_text("mine")
    tally.injected += 1
    code, err = run([*args, "--overwrite"], run_folder)
    if code == 0 and (run_folder / "notes.md").read_text() == "mine":
        compare(tally, f"{name} overwrite of a run folder with a user's file", ref, run_folder)
    else:
        tally.lost += 1
        tally.notes.append(f"{name} overwrite of a run folder: exit {code}: {err[-300:]}")


def watch_length(name, args, root: Path, tally, run, rng: random.Random) -> None:
    """A --watch edit that shortens the run by a third while it trains: exit 0, summary and
    metrics follow the new length, every frame recorded; then --resume of it finishes."""
    import json

    from mini.temporal import Dopesheet

    steps = int(args[args.index("--steps") + 1])
    base = [a for i, a in enumerate(args) if a != "--steps" and args[i - 1] != "--steps"]
    src = Dopesheet.from_csv(_schedule(name))
    sheet = root / f"{name}-watch.csv"
    sheet.write_text(src.scaled(steps).as_df().to_csv(index=False, lineterminator="\n"))
    out = root / f"{name}-watch"
    proc = _popen([*base, "--schedule", str(sheet), "--watch"], out)
    new_len = steps * 2 // 3
    time.sleep(rng.uniform(4.0, 8.0))  # imports take ~3 s: an early or a mid-run edit
    shorter = src.scaled(new_len).as_df().to_csv(index=False, lineterminator="\n")
    sheet.write_text(shorter)
    _, err = proc.communicate()
    tally.injected += 1
    try:
        summary = json.loads((out / "summary.json").read_text())
        lines = (out / "metrics.jsonl").read_text().splitlines()
    except (OSError, ValueError):
        summary, lines = {}, []
    got = summary.get("steps")
    ordered = [json.loads(x)["step"] for x in lines] == list(range(len(lines)))
    rejected = "already at step" in err  # the run was past the new end: refused, full length
    if (
        proc.returncode == 0
        and ordered
        and got == len(lines)
        and got in (new_len, steps)
        and (got == new_len or rejected)
    ):
        code, err2 = run([*base, "--schedule", str(sheet), "--resume", str(out)], out)
        if code in (0, 2) and "Traceback" not in err2:
            tally.survived += 1
            return
        err = err2
    tally.lost += 1
    tally.notes.append(f"{name} watch edit: exit {proc.returncode}, steps {got}: {err[-300:]}")


def _schedule(name: str) -> Path:
    return REPO / "schedules" / {"color": "color-curriculum.csv", "vq": "vq-curriculum.csv"}[name]


def stalled_rank(name, args, root: Path, tally, run) -> None:
    """Under torchrun, rank 1 is stopped (SIGSTOP) mid-run: rank 0 must end with a message and
    exit 2 after the collective timeout (no traceback); the folder then resumes to the end."""
    out = root / f"{name}-stall"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc_per_node=2", "-m"]  # fmt: skip
    proc = _popen(args, out, env={"DOPESHEET_DIST_TIMEOUT": "8", "OMP_NUM_THREADS": "1"},
                  launcher=launcher)  # fmt: skip
    tally.injected += 1
    _wait_for(lambda: any((out / "checkpoints").glob("*.pt")) or proc.poll() is not None, 180)
    ranks = _children(proc.pid)
    if proc.poll() is not None or len(ranks) < 2:
        tally.lost += 1
        tally.notes.append(f"{name} stalled rank: no ranks to stop ({proc.poll()})")
        return
    stalled, main = _rank_pid(ranks, 1), _rank_pid(ranks, 0)
    if stalled is None or main is None:
        tally.lost += 1
        tally.notes.append(f"{name} stalled rank: cannot tell the ranks apart")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return
    os.kill(stalled, signal.SIGSTOP)
    _wait_for(lambda: not _alive(main), 120)  # rank 0 times out and ends
    with contextlib.suppress(ProcessLookupError):
        os.kill(stalled, signal.SIGCONT)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
    ours = [ln for ln in err.splitlines() if "error:" in ln and "rank 0" in ln]
    clean = "[rank0]: Traceback" not in err
    code, err2 = run([*args, "--resume", str(out)], out)
    if ours and clean and code == 0:
        tally.survived += 1
    else:
        tally.lost += 1
        tally.notes.append(
            f"{name} stalled rank: message {bool(ours)}, traceback {not clean}, resume {code}: "
            f"{(err2 or err)[-300:]}"
        )


def _rank_pid(pids: list[int], rank: int) -> int | None:
    for pid in pids:
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in env:
            return pid
    return None


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _children(pid: int) -> list[int]:
    try:
        text = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    except OSError:
        return []
    return [int(x) for x in text.split()]


def explorer_clicks(root: Path, tally, rng: random.Random) -> None:
    """Eight threads click Reset/Start/Pause/Save on one explorer controller (the colour
    experiment): at most one training thread, the page shows the run being trained."""
    import torch

    from ex_color.experiment import build, make_optimizer
    from mini.explore import Controller
    from mini.temporal import Dopesheet

    torch.set_num_threads(1)
    logging.getLogger("mini.training").setLevel(logging.ERROR)  # each Reset logs a stop
    ds = Dopesheet.from_csv(_schedule("color")).scaled(100_000)
    runs: list[Any] = []

    def make():
        exp = build(seed=0)
        runs.append(exp)
        return exp.trainer(ds, make_optimizer(exp.model), out_dir=root / f"explore-{len(runs)}",
                           progress=False, checkpoint_every=0)  # fmt: skip

    c = Controller(make, save_dir=root / "explore-saves")
    ops = [c.reset, c.start, c.start, c.pause, lambda: c.save_dopesheet().result(timeout=120)]
    worst = 0

    def tab(seed: int) -> None:
        r = random.Random(seed)
        for _ in range(10):
            r.choice(ops)()

    tally.injected += 1
    for _ in range(3):
        tabs = [threading.Thread(target=tab, args=(rng.random(),)) for _ in range(8)]
        for t in tabs:
            t.start()
        for t in tabs:
            t.join()
        alive = [t for t in threading.enumerate() if t.name == "explorer-training"]
        worst = max(worst, len(alive))
        if c.snapshot().run != c.run_number:
            worst = 99
    c.close()
    if worst <= 1:
        tally.survived += 1
    else:
        tally.lost += 1
        tally.notes.append(f"explorer clicks: {worst} training threads at once")

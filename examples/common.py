"""What both runnable examples share: arguments, loading the dopesheet, running, summary.json."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from rich.console import Console
from rich.logging import RichHandler

from mini.temporal import Dopesheet, DopesheetError, Timeline
from mini.training import FitResult, Trainer

REPO = Path(__file__).resolve().parent.parent
console = Console(stderr=True)


def int_at_least(low: int, meaning: str = "") -> Callable[[str], int]:
    """An argparse ``type``: a whole number ``>= low``; anything else is a usage error naming
    the flag and the valid range (argparse adds the flag)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            what = f" ({meaning})" if meaning else ""
            raise argparse.ArgumentTypeError(
                f"{value} is out of range: use a number >= {low}{what}"
            )
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def parser(description: str, schedule: str, out: str, frames: int) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--schedule", type=Path, default=REPO / "schedules" / schedule, help="dopesheet CSV"
    )
    p.add_argument(
        "--steps",
        type=int_at_least(2),
        default=None,
        help="rescale the schedule to N steps (quick look)",
    )
    p.add_argument("--out", type=Path, default=Path("out") / out, help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-video", action="store_true", help="skip the MP4")
    p.add_argument(
        "--frames",
        type=int_at_least(2),
        default=frames,
        help="video frames (dense early, sparse late)",
    )
    p.add_argument("--resume", type=Path, default=None, help="checkpoint file or folder to resume")
    p.add_argument(
        "--checkpoint-every", type=int_at_least(0), default=2000,
        help="checkpoint every N steps (0: only at phase ends and the end of the run)",
    )  # fmt: skip
    p.add_argument(
        "--threads", type=int_at_least(1), default=1,
        help="torch threads (tiny models run fastest on one; more only adds sync)",
    )  # fmt: skip
    p.add_argument(
        "--onednn", action="store_true",
        help="use oneDNN (mkldnn) kernels; off by default: on these tiny models its per-call "
        "setup costs more than it saves (~20%% more steps/s without it)",
    )  # fmt: skip
    return p


def setup(args: argparse.Namespace) -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    torch.set_num_threads(args.threads)
    torch.backends.mkldnn.enabled = args.onednn
    args.out.mkdir(parents=True, exist_ok=True)


def load_schedule(path: Path, steps: int | None) -> Timeline:
    """The dopesheet, validated before anything trains (exit 2 listing every problem)."""
    try:
        ds = Dopesheet.from_csv(path)
        if steps:
            ds = ds.scaled(steps)
    except DopesheetError as e:
        console.print(f"[red]{path}: the dopesheet has problems; nothing was trained[/red]")
        for p in e.problems:
            console.print(f"  {p}", markup=False, highlight=False)
        sys.exit(2)
    except OSError as e:
        console.print(f"[red]cannot read {path}: {e}[/red]")
        sys.exit(2)
    return Timeline(ds)


def fit(trainer: Trainer, resume: Path | None) -> FitResult:
    """Train; on Ctrl-C say where the checkpoint is and exit 130."""
    result = trainer.fit(resume=resume)
    if result.interrupted or result.stopped:
        why = "interrupted" if result.interrupted else f"stopped ({result.stopped})"
        console.print(
            f"{why} after step {result.last_step}; continue with --resume {result.checkpoint}"
        )
        sys.exit(130 if result.interrupted else 1)
    return result


def release_memory() -> None:
    """Hand memory freed by training back to the OS before rendering (glibc keeps freed heap
    pages otherwise), so the run's peak is not training's leftovers plus the video's needs."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def smoothed_losses(history: pd.DataFrame, window: int) -> pd.DataFrame:
    """Loss columns of a metrics history, rolling-mean smoothed (per-step losses are noisy)."""
    cols = [c for c in history.columns if c.startswith("losses.")]
    out = history[["step"]].copy()
    for c in cols:
        out[c.removeprefix("losses.")] = history[c].rolling(window, min_periods=1).mean()
    return out


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    """``summary.json``, written atomically (numbers only; numpy scalars converted)."""

    def plain(v: Any) -> Any:
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [plain(x) for x in v]
        return v

    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(plain(summary), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def save_figure(fig: Any, path: Path, dpi: int = 110) -> Path:
    """Save a matplotlib figure atomically."""
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    try:
        fig.savefig(tmp, dpi=dpi)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path

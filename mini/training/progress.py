"""A rich progress bar for training: steps/s, phase, lr, total and per-term losses.

Quiet when stdout is not a terminal or ``CI`` is set (then a log line per phase instead).
Updates are throttled by wall time, so the per-step cost is a clock read.
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mini.training.events import PHASE_END, STEP_METRICS, TRAIN_END, TRAIN_START, Event

if TYPE_CHECKING:
    from mini.training.trainer import Trainer

log = logging.getLogger(__name__)


def interactive(console: Console | None = None) -> bool:
    """Whether to draw live progress: a terminal, and not CI."""
    if os.environ.get("CI"):
        return False
    return (console or Console()).is_terminal


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"


class TrainingProgress:
    """Subscribe with ``attach(trainer)``; the trainer does this when ``progress=True``."""

    def __init__(self, console: Console | None = None, refresh_s: float = 0.1, max_terms: int = 4):
        self.console = console or Console(stderr=True)
        self.enabled = interactive(self.console)
        self.refresh_s = refresh_s
        self.max_terms = max_terms
        self._progress: Progress | None = None
        self._task: Any = None
        self._next = 0.0
        self._t0 = 0.0

    def attach(self, trainer: Trainer) -> None:
        trainer.on(TRAIN_START, self.start)
        trainer.on(STEP_METRICS, self.update)
        trainer.on(PHASE_END, self.phase_end)
        trainer.on(TRAIN_END, self.stop)

    def start(self, event: Event) -> None:
        self._t0 = time.perf_counter()
        total = len(event.trainer.timeline)
        if not self.enabled:
            return
        self._progress = Progress(
            TextColumn("[bold magenta]{task.fields[phase]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[speed]}"),
            TimeElapsedColumn(),
            TextColumn("<"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            console=self.console,
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            "train", total=total, completed=event.step, phase="", speed="", info=""
        )

    def update(self, event: Event) -> None:
        if self._progress is None:
            return
        now = time.perf_counter()
        if now < self._next and event.step + 1 < len(event.trainer.timeline):
            return
        self._next = now + self.refresh_s
        losses = event.losses or {}
        terms = [k for k in losses if k != "total"][: self.max_terms]
        info = " ".join(
            [f"lr {_fmt(event.state.props['lr'])}" if "lr" in event.state.props else ""]
            + [f"loss {_fmt(losses['total'])}" if "total" in losses else ""]
            + [f"{k} {_fmt(losses[k])}" for k in terms]
        )
        self._progress.update(
            self._task,
            completed=event.step + 1,
            phase=event.phase or "",
            speed=f"{event.trainer.steps_per_second:,.0f} it/s",
            info=info,
        )

    def phase_end(self, event: Event) -> None:
        if self._progress is None:
            total = (event.losses or {}).get("total")
            log.info(
                "step %d: phase %r done%s (%.1f s)",
                event.step, event.phase, f", loss {total:.4g}" if total is not None else "",
                time.perf_counter() - self._t0,
            )  # fmt: skip

    def stop(self, event: Event) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

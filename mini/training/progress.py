"""Training progress: a rich live bar on a terminal, plain periodic lines everywhere else.

On a terminal: phase, bar, steps, steps/s, elapsed/remaining, lr, total and per-term losses.
Without one (a pipe, a log file, ``CI`` set): one plain line every ``line_every_s`` seconds and
at each phase end (``step 1,200/20,001 (6%) | Main | 1,150 steps/s | lr 3e-3 | loss 0.0123``).
Updates are throttled by wall time, so the per-step cost is a clock read. While the live bar is
shown, ``print()`` and ``trainer.console.print()`` write above it without breaking it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
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

    def __init__(
        self,
        console: Console | None = None,
        refresh_s: float = 0.1,
        max_terms: int = 4,
        line_every_s: float = 10.0,
        extras: Sequence[tuple[str, str]] = (),
    ):
        """``extras``: ``(name, format)`` pairs of recorded extras to show too, e.g.
        ``("assign_temperature", "T {:.3g}")``; each shows its latest recorded value (metrics
        recorded every N steps stay visible in between).

        Args:
            console: where to draw (default: standard error).
            refresh_s: seconds between redraws of the bar.
            max_terms: loss terms shown (the largest).
            line_every_s: without a terminal: seconds between plain progress lines.
            extras: ``(name, format)`` pairs of recorded extras to show.
        """
        self.console = console or Console(stderr=True)
        self.enabled = interactive(self.console)
        self.refresh_s = refresh_s
        self.max_terms = max_terms
        self.line_every_s = line_every_s
        self.extras = tuple(extras)
        self.latest: dict[str, Any] = {}
        self._previous: dict[str, Any] = {}
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
        """Start the bar (``train-start``).

        Args:
            event: the event.
        """
        self._t0 = time.perf_counter()
        self._next = self._t0 + (self.refresh_s if self.enabled else self.line_every_s)
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

    def _info(self, event: Event) -> list[str]:
        losses = event.losses or {}
        terms = [k for k in losses if k != "total"][: self.max_terms]
        props = event.state.props
        out = [f"lr {_fmt(props['lr'])}"] if "lr" in props else []
        if "total" in losses:
            out.append(f"loss {_fmt(losses['total'])}")
        out += [f"{k} {_fmt(losses[k])}" for k in terms]
        return out + [fmt.format(self.latest[k]) for k, fmt in self.extras if k in self.latest]

    def line(self, event: Event) -> str:
        """The plain progress line for ``event``'s step.

        Args:
            event: a ``step-metrics`` event.
        """
        n = len(event.trainer.timeline)
        done = event.step + 1
        sched = event.state.schedule_step  # differs from the step under gates
        clock = [] if sched is None or sched == event.step else [f"schedule step {sched:,}"]
        return " | ".join(
            [f"step {done:,}/{n:,} ({100 * done / n:.0f}%)", *clock, event.phase or "-",
             f"{event.trainer.steps_per_second:,.0f} steps/s", *self._info(event)]
        )  # fmt: skip

    def update(self, event: Event) -> None:
        """Advance the bar, or print a line now and then without a terminal (``step-metrics``).

        Args:
            event: the event.
        """
        if self.extras:
            # Handlers attached after this one record into a step's extras after it ran; the
            # previous step's dict is complete now, so take both (the dicts are the records).
            for extras in (self._previous, event.extras):
                self.latest.update({k: extras[k] for k, _ in self.extras if k in extras})
            self._previous = event.extras
        now = time.perf_counter()
        last = event.step + 1 >= len(event.trainer.timeline)
        if now < self._next and not last:
            return
        if self._progress is None:
            self._next = now + self.line_every_s
            self.console.print(self.line(event), markup=False, highlight=False)
            return
        self._next = now + self.refresh_s
        info = " ".join(self._info(event))
        self._progress.update(
            self._task,
            completed=event.step + 1,
            phase=event.phase or "",
            speed=f"{event.trainer.steps_per_second:,.0f} it/s",
            info=info,
        )

    def phase_end(self, event: Event) -> None:
        """Without a bar: say the phase is done, with its validation loss (``phase-end``).

        Args:
            event: the event.
        """
        if self._progress is None:
            total = (event.losses or {}).get("total")
            val = f", validation loss {total:.4g}" if total is not None else ""
            self.console.print(
                f"step {event.step:,}: phase {event.phase!r} done{val} "
                f"({time.perf_counter() - self._t0:.1f} s)",
                markup=False, highlight=False,
            )  # fmt: skip

    def stop(self, event: Event) -> None:
        """Close the bar (``train-end``).

        Args:
            event: the event.
        """
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

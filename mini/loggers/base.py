"""What every logger does with a run's events; subclasses only write.

A logger attaches to anything with ``on(event, handler, every=N)`` and a ``timeline``: our
:class:`mini.training.Trainer` or an adapter (:class:`mini.adapters.DopesheetLR`, the Lightning
callback, the Ignite handler). It logs each N-th step's properties (``props/<name>``), losses
(``losses/<name>``) and numeric extras such as validation losses (``extras/<name>``), the
schedule plot at ``train-start``, and each phase's name when it starts.
"""

from __future__ import annotations

import errno
import logging
import os
from numbers import Real
from pathlib import Path
from typing import Any

from mini.atomic import OutputError, describe_os_error
from mini.training.events import PHASE_END, PHASE_START, STEP_METRICS, TRAIN_END, TRAIN_START

log = logging.getLogger(__name__)

SECTIONS = ("props", "losses", "extras")


def unwritable_folder(folder: str | os.PathLike[str], who: str, error: OSError | None = None):
    """The :class:`~mini.atomic.OutputError` for a log folder that cannot be written."""
    cause = describe_os_error(error, folder) if error is not None else f"cannot write {folder}"
    return OutputError(
        error.errno if error is not None and error.errno else errno.EACCES,
        f"{who}: {cause} — pass a folder you can write to",
    )


def check_folder(folder: str | os.PathLike[str], who: str) -> None:
    """Raise :class:`~mini.atomic.OutputError` naming ``folder`` when it cannot be created or
    written (its nearest existing ancestor is a file or not writable). Creates nothing."""
    path = Path(folder).resolve()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise unwritable_folder(
            folder, who, NotADirectoryError(errno.ENOTDIR, f"{existing} is a file", str(existing))
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise unwritable_folder(folder, who, PermissionError(errno.EACCES, "permission denied"))


class ScheduleLogger:
    """Base class: event wiring and naming. ``every``: log every N-th step (``step % N == 0``,
    as ``Trainer.on(..., every=N)``) and every step with extras (the trainer's validation
    losses at a phase's end); ``plot``: log the schedule plot at ``train-start``.

    Args:
        every: log every N-th step (and every step with extras).
        plot: log the schedule plot at ``train-start``.
    """

    def __init__(self, *, every: int = 1, plot: bool = True):
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.every = every
        self.plot = plot
        self._source: Any = None
        self._names: dict[tuple[str, str], str] = {}
        self.last_step = -1  # the last step logged

    def attach(self, source: Any) -> None:
        """Subscribe to ``source``'s events (a Trainer or an adapter)."""
        self._source = source
        source.on(TRAIN_START, self.on_train_start)
        source.on(STEP_METRICS, self.on_step)
        source.on(PHASE_START, self.on_phase_start)
        source.on(PHASE_END, self.on_phase_end)
        source.on(TRAIN_END, self.on_train_end)

    # -- event handlers -------------------------------------------------------------------------
    def on_train_start(self, event: Any) -> None:
        """Log the schedule plot (``plot=True``).

        Args:
            event: the ``train-start`` event.
        """
        if self.plot and self._source is not None:
            from mini.temporal import plot_timeline

            self.write_figure("schedule", plot_timeline(self._source.timeline), event.step)

    def on_step(self, event: Any) -> None:
        """Log the step's scalars, every ``every``-th step and on steps with extras, never twice.

        Args:
            event: the ``step-metrics`` event.
        """
        step = event.step
        if step <= self.last_step:
            return  # logged already (before a resume): never twice
        if step % self.every and not event.extras:
            return  # steps with extras (validation at a phase's end) are always logged
        self.last_step = step
        self.write_scalars(step, self.scalars(event), event.phase)

    def on_phase_start(self, event: Any) -> None:
        """Log the phase's name as text.

        Args:
            event: the ``phase-start`` event.
        """
        if event.phase is not None:
            self.write_text("phase", f"step {event.step}: {event.phase}", event.step)

    def on_phase_end(self, event: Any) -> None:
        """Flush what is buffered.

        Args:
            event: the ``phase-end`` event.
        """
        self.flush()

    def on_train_end(self, event: Any) -> None:
        """Flush what is buffered.

        Args:
            event: the ``train-end`` event.
        """
        self.flush()

    # -- naming ---------------------------------------------------------------------------------
    def scalars(self, event: Any) -> dict[str, float]:
        """``{"props/lr": ..., "losses/total": ..., "extras/val-total": ...}`` for a step
        (non-numeric extras are left out).

        Args:
            event: a ``step-metrics`` event.
        """
        out: dict[str, float] = {}
        names = self._names
        for section, values in (
            ("props", event.state.props),
            ("losses", event.losses),
            ("extras", event.extras),
        ):
            if not values:
                continue
            for key, value in values.items():
                if section == "extras" and (not isinstance(value, Real) or isinstance(value, bool)):
                    continue
                name = names.get((section, key))
                if name is None:
                    name = names[section, key] = self.name(section, key)
                out[name] = float(value)
        return out

    def name(self, section: str, key: str) -> str:
        """The logged name of ``key`` in ``section`` (``props/lr``); override to rename.

        Args:
            section: ``props``, ``losses`` or ``extras``.
            key: the property, loss or extra.
        """
        return f"{section}/{key}"

    # -- writing (subclasses) -------------------------------------------------------------------
    def write_scalars(self, step: int, scalars: dict[str, float], phase: str | None) -> None:
        """Write a step's scalars (each backend implements it).

        Args:
            step: the step.
            scalars: name -> value.
            phase: the step's phase.
        """
        raise NotImplementedError

    def write_text(self, tag: str, text: str, step: int) -> None:
        """Write a text (each backend implements it).

        Args:
            tag: the text's name.
            text: the text.
            step: the step.
        """
        raise NotImplementedError

    def write_figure(self, tag: str, figure: Any, step: int) -> None:
        """Write a figure (each backend implements it).

        Args:
            tag: the figure's name.
            figure: a matplotlib figure.
            step: the step.
        """
        raise NotImplementedError

    def flush(self) -> None:
        """Make everything logged so far durable."""

    def close(self) -> None:
        self.flush()

    # -- checkpoints: what was logged up to the checkpoint ---------------------------------------
    def state_dict(self) -> dict[str, Any]:
        self.flush()
        return {"last_step": self.last_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.last_step = int(state["last_step"])

"""TensorBoard logging with ``torch.utils.tensorboard.SummaryWriter`` (needs ``tensorboard``).

Scalars go under ``props/``, ``losses/`` and ``extras/``; the schedule plot is the image
``schedule``; each phase start is a ``phase`` text entry. A resumed run reopens the writer with
``purge_step`` just after the checkpoint, so TensorBoard drops what the interrupted run logged
past it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mini.loggers.base import ScheduleLogger, check_folder, unwritable_folder


def _summary_writer() -> type:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:  # torch raises this when the tensorboard package is missing
        raise ImportError(
            "TensorBoardLogger needs the tensorboard package: pip install 'dopesheet[tensorboard]'"
        ) from e
    return SummaryWriter


class TensorBoardLogger(ScheduleLogger):
    """``TensorBoardLogger("out/run/tb", every=10).attach(trainer)``; ``tensorboard --logdir``
    shows it. ``max_queue``/``flush_secs`` are passed to the ``SummaryWriter``.

    Args:
        log_dir: the event files' folder.
        every: log every N-th step (and every step with extras).
        plot: log the schedule plot at ``train-start``.
        max_queue: passed to the ``SummaryWriter``.
        flush_secs: passed to the ``SummaryWriter``.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str],
        *,
        every: int = 1,
        plot: bool = True,
        max_queue: int = 100,
        flush_secs: int = 30,
    ):
        super().__init__(every=every, plot=plot)
        self._writer_class = _summary_writer()
        self.log_dir = Path(log_dir)
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self._writer: Any = None
        self._purge_step: int | None = None

    @property
    def writer(self) -> Any:
        """The ``SummaryWriter`` (opened on first use)."""
        if self._writer is None:
            try:
                self._writer = self._writer_class(
                    str(self.log_dir), purge_step=self._purge_step, max_queue=self.max_queue,
                    flush_secs=self.flush_secs,
                )  # fmt: skip
            except OSError as e:
                raise unwritable_folder(self.log_dir, "TensorBoardLogger", e) from e
            self._purge_step = None
        return self._writer

    def attach(self, source: Any) -> None:
        """Subscribe to ``source``'s events; an unwritable ``log_dir`` is an
        :class:`~mini.atomic.OutputError` now, before training starts."""
        check_folder(self.log_dir, "TensorBoardLogger")
        super().attach(source)

    def write_scalars(self, step: int, scalars: dict[str, float], phase: str | None) -> None:
        """Add the step's scalars.

        Args:
            step: the step.
            scalars: name -> value.
            phase: the step's phase.
        """
        add = self.writer.add_scalar
        for tag, value in scalars.items():
            add(tag, value, step)

    def write_text(self, tag: str, text: str, step: int) -> None:
        """Add the text.

        Args:
            tag: the text's name.
            text: the text.
            step: the step.
        """
        self.writer.add_text(tag, text, step)

    def write_figure(self, tag: str, figure: Any, step: int) -> None:
        """Add the figure.

        Args:
            tag: the figure's name.
            figure: a matplotlib figure.
            step: the step.
        """
        self.writer.add_figure(tag, figure, step, close=True)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def on_train_end(self, event: Any) -> None:
        """Close the writer (its files are complete).

        Args:
            event: the ``train-end`` event.
        """
        self.close()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.close()
        self._purge_step = self.last_step + 1

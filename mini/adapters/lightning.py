"""A PyTorch Lightning ``Callback`` that walks a dopesheet per optimizer step.

One dopesheet step is one optimizer step (``trainer.global_step``), so with gradient
accumulation the schedule advances on the micro-batch that begins a new optimizer step and
every micro-batch of that step sees the same values. Before that first micro-batch the
callback fires ``phase-start[:<p>]``/``action[:<a>]``/``pre-step`` (hook methods
:meth:`on_phase_start`, :meth:`on_action`, and handlers registered with :meth:`on`), sets the
learning rate of every param group that ``lr``/``lr-<group>`` drives and calls the bound
setters; after the optimizer step it fires ``step-metrics`` and, at a phase's last step,
``phase-end[:<p>]``, and logs the properties to the trainer's loggers. Its ``state_dict`` (the
timeline's cursor, dopesheet and runtime overrides) goes into Lightning's checkpoints.

``DopesheetCallback`` subclasses ``lightning.pytorch.Callback`` (or ``pytorch_lightning``'s
when only that is installed); ``DopesheetCallbackPL`` is the same for ``pytorch_lightning``.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any

from mini.adapters._schedule import ScheduleSource
from mini.adapters.driver import ScheduleDriver, scalar_losses
from mini.training.events import TRAIN_END, TRAIN_START

STATE_KEY = "DopesheetCallback"


def _import_callback(packages: tuple[str, ...]) -> type:
    for package in packages:
        try:
            return importlib.import_module(package).Callback
        except ImportError:
            continue
    raise ImportError(
        f"the Lightning adapter needs {' or '.join(packages)}: pip install 'dopesheet[lightning]'"
    )


class LightningSchedule(ScheduleDriver):
    """The callback's behaviour, independent of which Lightning package provides ``Callback``.

    ``schedule``: a Timeline, a Dopesheet or a CSV path (read at ``on_train_start``, when the
    steps per epoch and the total number of optimizer steps are known). ``log_every``: log the
    properties every N optimizer steps (default: the trainer's ``log_every_n_steps``; 0 turns
    logging off) under ``prefix + name``. ``state_key``: set it when a trainer has two of these
    callbacks.
    """

    def __init__(
        self,
        schedule: ScheduleSource,
        *,
        log_every: int | None = None,
        prefix: str = "schedule/",
        state_key: str | None = None,
    ):
        super().__init__()
        self._init_schedule(schedule)
        if log_every is not None and log_every < 0:
            raise ValueError(f"log_every must be >= 0, got {log_every}")
        self.log_every = log_every
        self.prefix = prefix
        self._state_key = state_key or STATE_KEY
        self._every = 0
        self._log_names: dict[str, str] = {}

    @property
    def state_key(self) -> str:
        return self._state_key

    @classmethod
    def of(cls, trainer: Any) -> LightningSchedule:
        """The trainer's dopesheet callback (e.g. ``DopesheetCallback.of(self.trainer)`` in a
        ``training_step`` reading ``.props["loss-recon"]``)."""
        for cb in trainer.callbacks:
            if isinstance(cb, LightningSchedule):
                return cb
        raise LookupError("this trainer has no DopesheetCallback among its callbacks")

    # -- Lightning hooks ------------------------------------------------------------------------
    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        batches = trainer.num_training_batches
        accumulate = trainer.accumulate_grad_batches
        per_epoch = math.ceil(batches / accumulate) if math.isfinite(batches) else None
        timeline = self._build_timeline(
            steps_per_epoch=per_epoch, total_steps=trainer.estimated_stepping_batches
        )
        self._drive_optimizers(trainer.optimizers)
        self._set_context(trainer, pl_module)
        self._every = trainer.log_every_n_steps if self.log_every is None else self.log_every
        self._log_names = {name: self.prefix + name for name in timeline.names}
        self._sd_last_bound = {}  # every fit starts by applying every binding
        self._emit_train(TRAIN_START)

    def on_train_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int
    ) -> None:
        step = trainer.global_step
        if step != self._sd_current:
            self._enter(step)

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        step = self._sd_current
        if trainer.global_step <= step or step <= self._sd_finished:
            return  # accumulating: the optimizer has not stepped yet
        self._finish(step, losses=lambda: scalar_losses(outputs))
        every = self._every
        if every and (step + 1) % every == 0 and trainer.loggers:
            # (step + 1) % every: Lightning's own rule, so these points line up with self.log's
            names = self._log_names
            values = {names[k]: v for k, v in self.timeline.state.props.items()}
            for logger in trainer.loggers:
                logger.log_metrics(values, step=step)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self._emit_train(TRAIN_END)

    def state_dict(self) -> dict[str, Any]:
        return self._schedule_state()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._load_schedule_state(state_dict)


def _make(base: type) -> type:
    class DopesheetCallback(LightningSchedule, base):  # type: ignore[misc, valid-type]
        __doc__ = LightningSchedule.__doc__

    return DopesheetCallback


DopesheetCallback: type = _make(_import_callback(("lightning.pytorch", "pytorch_lightning")))

_FLAVOURS: dict[str, Callable[[], type]] = {
    "DopesheetCallbackPL": lambda: _make(_import_callback(("pytorch_lightning",)))
}
_made: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    if name in _FLAVOURS:
        if name not in _made:
            _made[name] = _FLAVOURS[name]()
        return _made[name]
    raise AttributeError(f"module 'mini.adapters.lightning' has no attribute {name!r}")

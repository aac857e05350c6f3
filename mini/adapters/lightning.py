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
from mini.adapters.base import ScheduleAdapter, scalar_losses
from mini.training.events import STEP_METRICS, TRAIN_END, TRAIN_START

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


class LightningSchedule(ScheduleAdapter):
    """The callback's behaviour, independent of which Lightning package provides ``Callback``.

    ``schedule``: a Timeline, a Dopesheet or a CSV path (read at ``on_fit_start``, from the
    trainer's own estimate of the run: ``num_training_batches`` and
    ``estimated_stepping_batches``; names are checked then and step 0's values applied, so the
    sanity-check validation reads them). ``log_every``: log the properties every N optimizer
    steps (default: the trainer's ``log_every_n_steps``; 0 turns logging off) under
    ``prefix + name``. ``state_key``: set it when a trainer has two of these callbacks.
    ``on_length_change``: see :class:`~mini.adapters.DopesheetLR`.

    Args:
        schedule: a :class:`~mini.temporal.Timeline`, a ``Dopesheet`` or a CSV path.
        log_every: log the properties every N steps (``None``: never).
        prefix: the logged names' prefix.
        state_key: the callback's key in Lightning checkpoints.
        on_length_change: resuming with another schedule: ``"adopt"`` it after the saved step or
            ``"keep"`` the checkpoint's.
    """

    def __init__(
        self,
        schedule: ScheduleSource,
        *,
        log_every: int | None = None,
        prefix: str = "schedule/",
        state_key: str | None = None,
        on_length_change: str = "adopt",
    ):
        super().__init__()
        self._init_schedule(schedule, on_length_change)
        if log_every is not None and log_every < 0:
            raise ValueError(f"log_every must be >= 0, got {log_every}")
        self.log_every = log_every
        self.prefix = prefix
        self._state_key = state_key or STATE_KEY
        self._every = 0
        self._log_names: dict[str, str] = {}
        self._losses: list[float] = []
        self._scale = 1

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
    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        """The run's length is known (and a checkpoint's state restored): read the schedule,
        check every name, apply the first step's values (the sanity check reads them)."""
        total = trainer.estimated_stepping_batches  # (loads the train dataloader)
        batches = trainer.num_training_batches
        accumulate = trainer.accumulate_grad_batches
        per_epoch = None
        if isinstance(batches, int | float) and math.isfinite(batches) and batches > 0:
            per_epoch = math.ceil(batches / accumulate)
        timeline = self._build_timeline(steps_per_epoch=per_epoch, total_steps=total)
        schedulers = [c.scheduler for c in getattr(trainer, "lr_scheduler_configs", ())]
        self._preflight(trainer.optimizers, schedulers)
        engine = self.engine
        engine.trainer, engine.module = trainer, pl_module
        self._replay()
        self._every = trainer.log_every_n_steps if self.log_every is None else self.log_every
        self._log_names = {name: self.prefix + name for name in timeline.names}
        step = trainer.global_step
        if engine.entered < 0 and step < len(timeline):
            engine.apply(
                timeline[step].props if step != timeline.state.step else timeline.state.props
            )
        self._losses = []
        automatic = getattr(pl_module, "automatic_optimization", True)
        self._scale = accumulate if automatic else 1  # what Lightning divided the loss by

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if not self._checked:  # a Lightning without on_fit_start
            self.on_fit_start(trainer, pl_module)
        self._emit_train(TRAIN_START, trainer.global_step)

    def on_train_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int
    ) -> None:
        step = trainer.global_step
        engine = self.engine
        if step != engine.entered:
            tl = engine.timeline
            if tl is not None and step == tl.state.step + 1 and step < len(tl):
                engine.enter(tl.step())  # the usual case, without _enter's checks
            else:
                self._enter(step)
            if self._losses:
                self._losses = []

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        engine = self.engine
        listened = STEP_METRICS in engine.bus._handlers
        if listened and self._scale > 1:  # the step's loss: the mean over its micro-batches
            loss = _loss_of(outputs)
            if loss is not None:
                self._losses.append(loss * self._scale)  # Lightning divided it
        step = engine.entered
        if trainer.global_step <= step or step <= engine.finished:
            return  # accumulating: the optimizer has not stepped yet
        if listened or engine.timeline.state.is_phase_end:  # type: ignore[union-attr]
            self._finish(step, losses=lambda: self._step_losses(outputs))
        else:
            engine.finished = step
        every = self._every
        if every and (step + 1) % every == 0 and trainer.loggers:
            # (step + 1) % every: Lightning's own rule, so these points line up with self.log's
            names = self._log_names
            values = {names[k]: v for k, v in self.timeline.state.props.items()}
            for logger in trainer.loggers:
                logger.log_metrics(values, step=step)

    def _step_losses(self, outputs: Any) -> dict[str, float] | None:
        """The optimizer step's losses: the mean over its micro-batches of the loss
        ``training_step`` returned, unscaled (Lightning divides it by
        ``accumulate_grad_batches`` in ``outputs``)."""
        out = scalar_losses(outputs)
        if out is not None and self._losses:
            out["total"] = sum(self._losses) / len(self._losses)
        return out

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self._emit_train(TRAIN_END)

    def state_dict(self) -> dict[str, Any]:
        return self._schedule_state()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._load_schedule_state(state_dict)


def _loss_of(outputs: Any) -> float | None:
    """The micro-batch's loss as ``training_step`` returned it (before Lightning scales it by
    ``1 / accumulate_grad_batches``), or ``None``."""
    if isinstance(outputs, dict):
        outputs = outputs.get("loss")
    if hasattr(outputs, "detach") and getattr(outputs, "numel", lambda: 0)() == 1:
        return float(outputs.detach())
    return None


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

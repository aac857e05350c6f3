"""An Ignite handler that walks a dopesheet per optimizer step of an ``Engine``.

``DopesheetHandler(schedule, optimizer).attach(trainer)``: at ``ITERATION_STARTED`` of the
iteration that begins optimizer step k (``(iteration - 1) // accumulation_steps``), it fires
``phase-start[:<p>]``/``action[:<a>]``/``pre-step``, sets the learning rate of every param
group that ``lr``/``lr-<group>`` drives and calls the bound setters; at ``ITERATION_COMPLETED``
of the iteration that steps the optimizer it fires ``step-metrics`` (losses from
``engine.state.output``) and, at a phase's last step, ``phase-end[:<p>]``. ``STARTED`` and
``COMPLETED`` fire ``train-start``/``train-end``. Its ``state_dict`` goes into Ignite's
``Checkpoint`` beside the engine's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from ignite.engine import Engine, Events

from mini.adapters._schedule import ScheduleSource
from mini.adapters.base import ScheduleAdapter, scalar_losses
from mini.training.events import STEP_METRICS, TRAIN_END, TRAIN_START


class DopesheetHandler(ScheduleAdapter):
    """Drive ``optimizer`` (one or several, or ``None`` for no learning rates) from
    ``schedule``: a Timeline, a Dopesheet or a CSV path (read at ``STARTED``, when
    ``epoch_length`` and ``max_epochs`` give the run's length). ``accumulation_steps``: as in
    ``create_supervised_trainer(gradient_accumulation_steps=...)``. At ``STARTED`` the names
    are checked and the first step's values applied (so code run before the first iteration
    reads them). ``on_length_change``: see :class:`~mini.adapters.DopesheetLR`.

    Args:
        schedule: a :class:`~mini.temporal.Timeline`, a ``Dopesheet`` or a CSV path.
        optimizer: the optimizer(s) whose learning rates follow the schedule (``None``: none).
        accumulation_steps: iterations per optimizer step.
        on_length_change: resuming with another schedule: ``"adopt"`` it after the saved step or
            ``"keep"`` the checkpoint's.
    """

    def __init__(
        self,
        schedule: ScheduleSource,
        optimizer: torch.optim.Optimizer | Sequence[torch.optim.Optimizer] | None = None,
        *,
        accumulation_steps: int = 1,
        on_length_change: str = "adopt",
    ):
        if accumulation_steps < 1:
            raise ValueError(f"accumulation_steps must be >= 1, got {accumulation_steps}")
        self._init_schedule(schedule, on_length_change)
        if optimizer is None:
            optimizer = []
        self.optimizers = (
            [optimizer] if isinstance(optimizer, torch.optim.Optimizer) else list(optimizer)
        )
        self.accumulation_steps = accumulation_steps
        self._outputs: list[dict[str, float] | None] = []

    def attach(self, engine: Engine) -> DopesheetHandler:
        engine.add_event_handler(Events.STARTED, self._started)
        engine.add_event_handler(Events.ITERATION_STARTED, self._iteration_started)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._iteration_completed)
        engine.add_event_handler(Events.COMPLETED, self._completed)
        return self

    def _started(self, engine: Engine) -> None:
        k = self.accumulation_steps
        epoch_length = engine.state.epoch_length
        per_epoch = math.ceil(epoch_length / k) if epoch_length else None
        total = None
        if per_epoch is not None and engine.state.max_epochs:
            total = per_epoch * engine.state.max_epochs
        if engine.state.max_iters:
            total = math.ceil(engine.state.max_iters / k)
        self._build_timeline(steps_per_epoch=per_epoch, total_steps=total)
        self._preflight(self.optimizers)
        self.engine.trainer = engine
        self._replay()
        step = engine.state.iteration // k
        tl = self.timeline
        if self.engine.entered < 0 and step < len(tl):  # values before the first iteration
            self.engine.apply(tl[step].props if step != tl.state.step else tl.state.props)
        self._emit_train(TRAIN_START, step)

    def _iteration_started(self, engine: Engine) -> None:
        step = (engine.state.iteration - 1) // self.accumulation_steps
        schedule = self.engine
        if step != schedule.entered:
            tl = schedule.timeline
            if step == tl.state.step + 1 and step < len(tl):  # type: ignore[union-attr]  # usual
                schedule.enter(tl.step())  # type: ignore[union-attr]
            else:
                self._enter(step)

    def _iteration_completed(self, engine: Engine) -> None:
        k = self.accumulation_steps
        if k == 1:
            schedule = self.engine
            state = schedule.timeline.state  # type: ignore[union-attr]
            if STEP_METRICS in schedule.bus._handlers or state.is_phase_end:
                self._finish(schedule.entered, lambda: scalar_losses(engine.state.output))
            else:
                schedule.finished = schedule.entered
            return
        if STEP_METRICS in self.engine.bus._handlers:  # the step's losses: micro-batches' mean
            self._outputs.append(scalar_losses(engine.state.output))
        if engine.state.iteration % k == 0:
            outputs, self._outputs = self._outputs, []
            self._finish(self.engine.entered, losses=lambda: _mean(outputs))

    def _completed(self, engine: Engine) -> None:
        self._emit_train(TRAIN_END)

    def state_dict(self) -> dict[str, Any]:
        return self._schedule_state()

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self._load_schedule_state(dict(state_dict))


def _mean(outputs: list[dict[str, float] | None]) -> dict[str, float] | None:
    """Each loss averaged over the optimizer step's micro-batches (Ignite's output is the
    unscaled loss of each)."""
    known = [o for o in outputs if o]
    if not known:
        return None
    return {
        k: sum(o[k] for o in known if k in o) / sum(1 for o in known if k in o) for k in known[0]
    }

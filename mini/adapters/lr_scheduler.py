"""A ``torch.optim.lr_scheduler`` whose learning rates come from a dopesheet.

It drops into any loop that already calls ``scheduler.step()`` after ``optimizer.step()``:
after construction the optimizer holds step 0's learning rates, after the k-th ``step()``
step k's. A param group named ``g`` follows ``lr-<g>`` when the dopesheet has that column, else
``lr`` (:mod:`mini.training.bindings`, the rule our trainer uses); a group with neither keeps
its learning rate. The other properties are at hand as ``scheduler.props`` or through
``scheduler.bind(prop, setter)``, and phases/actions fire the same events as in our trainer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor
from torch.optim.lr_scheduler import LRScheduler

from mini.adapters._schedule import ScheduleSource, to_timeline
from mini.adapters.base import ScheduleAdapter
from mini.temporal import Timeline
from mini.training.engine import Setter
from mini.training.events import TRAIN_END, TRAIN_START, Handler

log = logging.getLogger(__name__)


class DopesheetLR(ScheduleAdapter, LRScheduler):
    """``DopesheetLR(optimizer, "curriculum.csv")``: the dopesheet's ``lr`` / ``lr-<group>``
    columns as a PyTorch LR scheduler.

    ``steps_per_epoch``/``total_steps`` resolve steps written in epochs or percent when the
    schedule is a path. ``bindings`` and ``handlers`` ({event: handler}) are in force from step
    0; handlers and bindings added later with :meth:`on`/:meth:`bind` before the first
    ``step()`` still see step 0 (its events are replayed to them). Stepping past the last step
    holds its values (``train-end`` fires once, when the last step is done).

    To resume, pass the saved ``state_dict()`` as ``resume=``: the scheduler then starts at the
    saved step without firing step 0's events again (``load_state_dict`` on a scheduler that
    already entered step 0 works too, but step 0's actions have fired by then). Handlers given
    as ``replay_handlers`` ({event: handler}, action events) run again on resume for every
    time their action fired (``event.replayed`` is true): e.g. re-freezing a layer.
    ``on_length_change``: when the dopesheet or the run's length differs from the checkpoint's,
    ``"adopt"`` (default) takes the new schedule after the saved step (a smooth blend within the
    keys' range; fired actions do not fire again), ``"keep"`` continues the checkpoint's one.

    Args:
        optimizer: the optimizer whose learning rates follow ``lr``/``lr-<group>``.
        schedule: a :class:`~mini.temporal.Timeline`, a ``Dopesheet`` or a CSV path.
        steps_per_epoch: what ``ep`` means in a CSV's steps.
        total_steps: what ``%`` means in a CSV's steps.
        bindings: property -> setter, in force from step 0.
        handlers: event -> handler(s), in force from step 0.
        replay_handlers: like ``handlers``, called again on resume for actions that fired before.
        last_epoch: as in PyTorch's schedulers (-1: a fresh run).
        resume: a ``state_dict()`` to continue from.
        on_length_change: resuming with another schedule: ``"adopt"`` it after the saved step or
            ``"keep"`` the checkpoint's.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: ScheduleSource,
        *,
        steps_per_epoch: int | None = None,
        total_steps: int | None = None,
        bindings: Mapping[str, Setter] | None = None,
        handlers: Mapping[str, Handler | Iterable[Handler]] | None = None,
        replay_handlers: Mapping[str, Handler | Iterable[Handler]] | None = None,
        last_epoch: int = -1,
        resume: Mapping[str, Any] | None = None,
        on_length_change: str = "adopt",
    ):
        self._init_schedule(
            to_timeline(schedule, steps_per_epoch=steps_per_epoch, total_steps=total_steps),
            on_length_change,
        )
        self._own_timeline = not isinstance(schedule, Timeline)
        for prop, setter in (bindings or {}).items():
            self.bind(prop, setter)
        for replay, given in ((False, handlers), (True, replay_handlers)):
            for event, hs in (given or {}).items():
                for h in [hs] if callable(hs) else hs:
                    self.on(event, h, replay=replay)
        if not self._preflight([optimizer]):
            raise ValueError(
                f"{self.timeline.dopesheet.source} drives no param group of this optimizer: add "
                "an 'lr' column (or 'lr-<name>' for a param group with \"name\": <name>)"
            )
        self._train_ended = False
        self._observed: list[float] = []
        if resume is not None:
            self._resume_init = dict(resume)
            last_epoch = int(resume["last_epoch"]) - 1
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            self._resume_init = None
            self.engine.replay_log = []  # step 0 is entered inside LRScheduler.__init__
            self._emit_train(TRAIN_START)
        super().__init__(optimizer, last_epoch)
        if self._resume_init is not None:
            self.load_state_dict(self._resume_init)
            self._resume_init = None

    def get_lr(self) -> list[Any]:
        """Enter step ``last_epoch`` (events, bindings, learning rates) and return the groups'
        learning rates; call ``get_last_lr()`` to read them."""
        if self._resume_init is not None:  # resuming: the saved state is loaded next
            return [group["lr"] for group in self.optimizer.param_groups]
        step = self.last_epoch
        if step == self.engine.entered + 1 == len(self.timeline):
            step -= 1  # the step() after the last optimizer step: hold quietly
        self._enter(step)
        return [group["lr"] for group in self.optimizer.param_groups]

    def observe(self, loss: float | Tensor) -> None:
        """Report a micro-batch's loss (as computed, before any division for accumulation):
        the step's ``step-metrics`` carries the mean of those reported since the last
        ``step()`` as ``losses["total"]``, as our trainer and the other adapters log it.

        Args:
            loss: the micro-batch's loss.
        """
        self._observed.append(float(loss.detach()) if isinstance(loss, Tensor) else float(loss))

    def step(self, epoch: int | None = None) -> None:
        """The current step's optimizer step has run: finish it and enter the next one.

        Args:
            epoch: PyTorch's deprecated argument, ignored (the schedule knows its step).
        """
        current = self.engine.entered
        if current >= 0:
            self.engine.replay_log = None
            observed, self._observed = self._observed, []
            self._finish(
                current,
                losses=(lambda: {"total": sum(observed) / len(observed)}) if observed else None,
            )
            if not self._train_ended and current == len(self.timeline) - 1:
                self._train_ended = True
                self._emit_train(TRAIN_END)
        super().step(epoch)

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's counters and the timeline (cursor, dopesheet, runtime overrides);
        loadable with ``torch.load(..., weights_only=True)``."""
        return {
            "last_epoch": self.last_epoch,
            "_step_count": self._step_count,
            "base_lrs": list(self.base_lrs),
            "_last_lr": list(self._last_lr),
            "train_ended": self._train_ended,
            "schedule": self._schedule_state(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue where the saved scheduler was: its step's learning rates and bound values
        are applied again (its events are not fired twice)."""
        self.last_epoch = int(state_dict["last_epoch"])
        self._step_count = int(state_dict["_step_count"])
        self.base_lrs = list(state_dict["base_lrs"])
        self._last_lr = list(state_dict["_last_lr"])
        self._train_ended = bool(state_dict.get("train_ended", False))
        self.engine.replay_log = None
        self._load_schedule_state(state_dict["schedule"])
        self._replay()
        if self._resume_init is not None:  # resume=: the run's train-start, at the saved step
            self._emit_train(TRAIN_START)

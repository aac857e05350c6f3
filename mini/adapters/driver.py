"""What every adapter does with the Timeline, whatever loop calls it.

A framework tells an adapter two things: "optimizer step ``k`` is about to run" (:meth:`enter`)
and "optimizer step ``k`` has run" (:meth:`finish`). On entering a step the adapter fires
``phase-start[:<p>]``, ``action[:<a>]`` and ``pre-step``, then sets every driven param group's
learning rate and calls the bound setters, in the same order and with the same names as
:class:`mini.training.Trainer`; on finishing it fires ``step-metrics`` and, at a phase's last
step, ``phase-end[:<p>]``. Steps past the dopesheet's end hold its last values.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from mini.adapters._schedule import ScheduleSource, to_timeline
from mini.temporal import State, Timeline
from mini.training.bindings import lr_targets
from mini.training.checks import ConfigError
from mini.training.events import (
    ACTION,
    EVENTS,
    PHASE_END,
    PHASE_START,
    PRE_STEP,
    STEP_METRICS,
    TRAIN_END,
    TRAIN_START,
    base_name,
)

log = logging.getLogger(__name__)

Setter = Callable[[float], Any]


@dataclass
class ScheduleEvent:
    """What an adapter's handlers receive; the same fields as :class:`mini.training.Event`
    so that one handler serves our trainer and the adapters.

    ``trainer`` is the framework's trainer or engine (``None`` in a plain loop), ``module`` the
    LightningModule (Lightning only), ``source`` the adapter that fired the event.
    """

    name: str
    state: State
    source: Any
    trainer: Any = None
    module: Any = None
    action: str | None = None
    losses: dict[str, float] | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def step(self) -> int:
        return self.state.step

    @property
    def phase(self) -> str | None:
        return self.state.phase


Handler = Callable[[ScheduleEvent], Any]


def scalar_losses(output: Any) -> dict[str, float] | None:
    """A training step's output as floats: a number or one-element tensor is ``total``; a
    mapping's ``loss`` is ``total`` and its other scalar entries keep their names."""
    if isinstance(output, Tensor):
        return {"total": float(output.detach())} if output.numel() == 1 else None
    if isinstance(output, int | float) and not isinstance(output, bool):
        return {"total": float(output)}
    if isinstance(output, Mapping):
        out: dict[str, float] = {}
        for key, value in output.items():
            scalar = scalar_losses(value) if not isinstance(value, Mapping) else None
            if scalar is not None:
                out["total" if key == "loss" else str(key)] = scalar["total"]
        return out
    return None


class ScheduleDriver:
    """Mixin: the Timeline walk, event handlers, bindings and learning rates of an adapter.

    Subclasses call :meth:`_init_schedule` in ``__init__`` and :meth:`_build_timeline`,
    :meth:`_enter`, :meth:`_finish` and :meth:`_emit` from their framework's hooks. Override
    :meth:`on_phase_start`, :meth:`on_action` or :meth:`on_phase_end` to react to the schedule
    directly (call ``super()`` to keep the registered handlers).
    """

    def _init_schedule(self, schedule: ScheduleSource) -> None:
        self._sd_source = schedule
        self._sd_timeline: Timeline | None = None
        if not isinstance(schedule, str) and not hasattr(schedule, "__fspath__"):
            self._sd_timeline = to_timeline(schedule)  # Timeline/Dopesheet: known length
        self._sd_pending: dict[str, Any] | None = None  # saved state waiting for the timeline
        self._sd_handlers: dict[str, list[tuple[Handler, int | None]]] = {}
        self._sd_bindings: dict[str, list[Setter]] = {}
        self._sd_reads: set[str] = set()
        self._sd_last_bound: dict[str, float] = {}
        self._sd_lr: list[tuple[torch.optim.Optimizer, list[tuple[int, str]]]] = []
        self._sd_current = -1  # the step entered last (its events have fired)
        self._sd_finished = -1  # the last step whose step-metrics/phase-end fired
        self._sd_past_end_warned = False
        self._sd_context: tuple[Any, Any] = (None, None)  # (trainer, module) for events
        # Events fired before the user could register handlers (a plain-loop scheduler enters
        # step 0 in its constructor); handlers registered while this is a list get them too.
        self._sd_replay: list[ScheduleEvent] | None = None

    # -- public API -----------------------------------------------------------------------------
    @property
    def timeline(self) -> Timeline:
        """The Timeline this adapter walks (built when training starts if given a path)."""
        if self._sd_timeline is None:
            raise RuntimeError(
                f"the schedule {self._sd_source!s} is read when training starts (the number of "
                "steps per epoch is known only then); pass a Dopesheet or Timeline to have it now"
            )
        return self._sd_timeline

    @property
    def state(self) -> State:
        """The current step's schedule state (``state.props["loss-recon"]`` etc.)."""
        return self.timeline.state

    @property
    def props(self) -> dict[str, float]:
        """The current step's property values."""
        return self.timeline.state.props

    def on(
        self, event: str, handler: Handler, every: int | None = None, reads: Iterable[str] = ()
    ) -> Handler:
        """Call ``handler(event)`` on ``event`` (names as in our trainer: ``phase-start``,
        ``phase-start:<phase>``, ``action``, ``action:<name>``, ``pre-step``, ``step-metrics``,
        ``phase-end[:<phase>]``, ``train-start``, ``train-end``); step events only on steps
        divisible by ``every``. ``reads`` names properties the handler reads (checked at the
        start)."""
        if base_name(event) not in EVENTS:
            raise ValueError(
                f"unknown event {event!r}; events are: {', '.join(EVENTS)} "
                "(phase-start/phase-end/action also as '<event>:<name>')"
            )
        if every is not None and every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        reads = set(reads)
        if self._sd_timeline is not None:
            self._check_props(reads)
        self._sd_handlers.setdefault(event, []).append((handler, every))
        self._sd_reads.update(reads)
        for past in self._sd_replay or ():
            if past.name == event and (every is None or past.step % every == 0):
                handler(past)
        return handler

    def bind(self, prop: str, setter: Setter) -> None:
        """Call ``setter(value)`` before each step whose ``prop`` value changed (and at the
        first step of every run)."""
        if self._sd_timeline is not None:
            self._check_props({prop})
        self._sd_bindings.setdefault(prop, []).append(setter)
        if self._sd_timeline is not None and self._sd_current >= 0:  # running: apply at once
            value = self._sd_timeline.state.props[prop]
            setter(value)
            self._sd_last_bound[prop] = value

    # -- hooks (override to react; call super() to keep the registered handlers) ---------------
    def on_phase_start(self, phase: str | None, event: ScheduleEvent) -> None:
        self._dispatch_named(PHASE_START, phase, event)

    def on_action(self, action: str, event: ScheduleEvent) -> None:
        self._dispatch_named(ACTION, action, event)

    def on_phase_end(self, phase: str | None, event: ScheduleEvent) -> None:
        self._dispatch_named(PHASE_END, phase, event)

    # -- for subclasses -------------------------------------------------------------------------
    def _build_timeline(
        self,
        *,
        steps_per_epoch: int | float | None = None,
        total_steps: int | float | None = None,
    ) -> Timeline:
        """Read the dopesheet (once) now that the run's length is known; restore saved state."""
        if self._sd_timeline is None:
            self._sd_timeline = to_timeline(
                self._sd_source, steps_per_epoch=steps_per_epoch, total_steps=total_steps
            )
        if self._sd_pending is not None:
            pending, self._sd_pending = self._sd_pending, None
            self._restore(pending)
        self._check_props()
        return self._sd_timeline

    def _drive_optimizers(self, optimizers: Sequence[torch.optim.Optimizer]) -> int:
        """Precompute which param groups follow ``lr``/``lr-<group>``; returns how many."""
        props = set(self.timeline.dopesheet.specs)
        self._sd_lr = []
        for opt in optimizers:
            index = {id(group): i for i, group in enumerate(opt.param_groups)}
            targets = [(index[id(group)], prop) for group, prop in lr_targets(opt, props)]
            if targets:
                self._sd_lr.append((opt, targets))
        return sum(len(targets) for _, targets in self._sd_lr)

    def _set_context(self, trainer: Any = None, module: Any = None) -> None:
        self._sd_context = (trainer, module)

    def _enter(self, step: int) -> State:
        """Optimizer step ``step`` is about to run: move there, fire its events, apply it."""
        tl = self._sd_timeline
        if tl is None:
            tl = self.timeline  # raises: not built yet
        if step == self._sd_current:
            return tl.state
        n = len(tl)
        if step >= n:
            if not self._sd_past_end_warned:
                self._sd_past_end_warned = True
                log.warning(
                    "training runs past the last step of %s (%d); its last values hold",
                    tl.dopesheet.source, n - 1,
                )  # fmt: skip
            step = n - 1
            if step == self._sd_current:
                return tl.state
        state = tl.state
        if step == state.step + 1:
            state = tl.step()
        elif step != state.step:
            state = tl.seek(step)
        self._sd_current = step
        if state.is_phase_start:
            self.on_phase_start(state.phase, self._event(PHASE_START, state))
        if state.actions:
            for action in state.actions:
                self.on_action(action, self._event(ACTION, state, action=action))
        if self._sd_replay is not None or PRE_STEP in self._sd_handlers:
            self._emit(PRE_STEP, state)
        self._apply(state)
        return state

    def _finish(
        self,
        step: int,
        losses: Callable[[], dict[str, float] | None] | None = None,
        extras: dict[str, Any] | None = None,
    ) -> None:
        """Optimizer step ``step`` has run: ``step-metrics``, then ``phase-end`` at a phase's
        last step. ``losses`` is called only if someone listens (it may sync with a device)."""
        if step <= self._sd_finished or step != self._sd_current:
            return
        self._sd_finished = step
        state = self._sd_timeline.state  # type: ignore[union-attr]  # entered, so built
        if STEP_METRICS in self._sd_handlers:
            self._emit(
                STEP_METRICS, state, losses=losses() if losses else None, extras=extras or {}
            )
        if state.is_phase_end:
            self.on_phase_end(state.phase, self._event(PHASE_END, state))

    def _emit(self, name: str, state: State, **fields: Any) -> None:
        handlers = self._sd_handlers.get(name)
        replay = self._sd_replay
        if not handlers and replay is None:
            return
        event = self._event(name, state, **fields)
        if replay is not None:
            replay.append(event)
        for handler, every in handlers or ():
            if every is None or state.step % every == 0:
                handler(event)

    def _schedule_state(self) -> dict[str, Any]:
        """The timeline (cursor, dopesheet(s), overrides) and walk position, JSON-able."""
        if self._sd_timeline is None:
            return dict(self._sd_pending) if self._sd_pending is not None else {}
        return {
            "timeline": self._sd_timeline.state_dict(),
            "current": self._sd_current,
            "finished": self._sd_finished,
        }

    def _load_schedule_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`_schedule_state` now, or when the timeline is built."""
        if not state:
            return
        if self._sd_timeline is None:
            self._sd_pending = dict(state)
        else:
            self._restore(state)

    # -- internals ------------------------------------------------------------------------------
    def _restore(self, state: dict[str, Any]) -> None:
        tl = self.timeline
        changed = tl.load_state_dict(state["timeline"])
        if changed:
            log.warning(
                "%s differs from the checkpoint's dopesheet; changed after step %d: %s",
                tl.dopesheet.source, tl.state.step, ", ".join(changed),
            )  # fmt: skip
        self._sd_current = int(state["current"])
        self._sd_finished = int(state["finished"])
        self._sd_last_bound = {}
        if self._sd_current >= 0:  # the restored step is in effect: apply it again
            self._apply(tl.state)

    def _apply(self, state: State) -> None:
        props = state.props
        for opt, targets in self._sd_lr:
            groups = opt.param_groups  # looked up each time: load_state_dict replaces the dicts
            for i, prop in targets:
                group = groups[i]
                if isinstance(group["lr"], Tensor):
                    group["lr"].fill_(props[prop])
                else:
                    group["lr"] = props[prop]
        if self._sd_bindings:
            last = self._sd_last_bound
            for prop, setters in self._sd_bindings.items():
                value = props[prop]
                if last.get(prop) != value:
                    for setter in setters:
                        setter(value)
                    last[prop] = value

    def _check_props(self, names: Iterable[str] | None = None) -> None:
        """Every bound or read property (or just ``names``) must be a column of the dopesheet."""
        ds = self.timeline.dopesheet
        wanted = set(self._sd_bindings) | self._sd_reads if names is None else set(names)
        missing = sorted(wanted - set(ds.specs))
        if missing:
            raise ConfigError(
                f"{ds.source} has no column for "
                + ", ".join(repr(m) for m in missing)
                + f" (bound or read by {type(self).__name__}); add the column(s) or remove the "
                "binding(s)"
            )

    def _event(self, name: str, state: State, **fields: Any) -> ScheduleEvent:
        trainer, module = self._sd_context
        return ScheduleEvent(name, state, self, trainer, module, **fields)

    def _dispatch_named(self, base: str, name: str | None, event: ScheduleEvent) -> None:
        self._emit(base, event.state, action=event.action)
        if name is not None:
            self._emit(f"{base}:{name}", event.state, action=event.action)

    def _emit_train(self, name: str) -> None:
        """``train-start`` / ``train-end`` with the current state."""
        if name not in (TRAIN_START, TRAIN_END):
            raise ValueError(name)
        self._emit(name, self.timeline.state)

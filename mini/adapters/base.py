"""What every adapter does with the schedule, whatever loop calls it: a thin layer over the
schedule engine of :mod:`mini.training.engine` (the one our Trainer uses).

A framework tells an adapter two things: "optimizer step ``k`` is about to run"
(:meth:`ScheduleAdapter._enter`) and "optimizer step ``k`` has run" (:meth:`_finish`). The
engine fires ``phase-start[:<p>]``, ``action[:<a>]`` and ``pre-step``, sets the driven learning
rates and calls the bound setters, then ``step-metrics`` and ``phase-end[:<p>]`` — the same
events, names and order as :class:`mini.training.Trainer`. Steps past the dopesheet's end hold
its last values.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from mini.adapters._schedule import ScheduleSource, to_timeline
from mini.temporal import State, Timeline
from mini.training.checks import ConfigError, did_you_mean, schedule_problems
from mini.training.engine import Props, ScheduleEngine, Setter
from mini.training.events import (
    ACTION,
    PHASE_END,
    PHASE_START,
    TRAIN_END,
    TRAIN_START,
    Event,
    Handler,
)
from mini.training.length_change import check_policy

log = logging.getLogger(__name__)


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


class ScheduleAdapter:
    """Mixin: an adapter's public schedule API (``timeline``, ``state``, ``props``, ``on``,
    ``bind``, ``track``) and its hooks, on a :class:`~mini.training.engine.ScheduleEngine`.

    Override :meth:`on_phase_start`, :meth:`on_action` or :meth:`on_phase_end` to react to the
    schedule directly (call ``super()`` to keep the registered handlers).
    """

    def _init_schedule(self, schedule: ScheduleSource, on_length_change: str = "adopt") -> None:
        self.on_length_change = check_policy(on_length_change)
        self._source = schedule
        self._own_timeline = not isinstance(schedule, Timeline)  # "keep" may rebuild it
        timeline = None
        if not isinstance(schedule, str) and not hasattr(schedule, "__fspath__"):
            timeline = to_timeline(schedule)  # Timeline/Dopesheet: known length
        self.engine = ScheduleEngine(timeline, source=self)
        self.engine.emit_named = self._named  # type: ignore[method-assign]  # the hook methods
        self._pending: dict[str, Any] | None = None  # saved state waiting for the timeline
        self._past_end_warned = False
        self._checked = False

    # -- public API -----------------------------------------------------------------------------
    @property
    def timeline(self) -> Timeline:
        """The Timeline this adapter walks (``timeline.dopesheet`` is the dopesheet in force)."""
        if self.engine.timeline is None:
            raise RuntimeError(
                f"the schedule {self._source!s} is read when the run's length is known (at "
                "Lightning's fit start, Ignite's STARTED); pass a Dopesheet or Timeline to "
                "have it now"
            )
        return self.engine.timeline

    @property
    def state(self) -> State:
        """The current step's schedule state (``state["loss-recon"]`` etc.)."""
        return self.timeline.state

    @property
    def props(self) -> Props:
        """The current step's property values (a missing name says "did you mean")."""
        return Props(self.timeline.state.props)

    @property
    def fired(self) -> list[tuple[int, str]]:
        """Every action fired so far, ``(step, name)`` (kept in checkpoints)."""
        return list(self.engine.history)

    def on(
        self, event: str, handler: Handler, every: int | None = None, reads: Iterable[str] = (),
        optional: bool = False, replay: bool = False,
    ) -> Handler:  # fmt: skip
        """Call ``handler(event)`` on ``event`` (names as in our trainer: ``phase-start``,
        ``phase-start:<phase>``, ``action``, ``action:<name>``, ``pre-step``, ``step-metrics``,
        ``phase-end[:<phase>]``, ``train-start``, ``train-end``); step events only on steps
        divisible by ``every``. ``reads`` names properties the handler reads. Names are checked
        against the dopesheet before the first step. ``replay=True`` (action events): on resume
        the handler runs again for every time its action fired before the checkpoint.

        Args:
            event: the event's name.
            handler: called with the :class:`~mini.training.Event`.
            every: step events only: call it on steps divisible by this.
            reads: dopesheet properties the handler reads.
            optional: the ``<event>:<name>`` may be absent from the dopesheet.
            replay: action events: call it again on resume for each time its action fired.
        """
        reads = set(reads)
        engine = self.engine
        if engine.timeline is not None:
            self._check_props(reads)
        sub = engine.on(event, handler, every, reads, optional, replay)
        if engine.timeline is not None and self._checked:  # after the start's checks: now
            problems = schedule_problems(
                engine.timeline.dopesheet, (), (), [sub], engine.runtime_actions
            )
            if problems:
                sub.remove()
                raise ConfigError("\n  ".join(problems))
        return handler

    def bind(self, prop: str, setter: Setter) -> None:
        """Call ``setter(value)`` before each step whose ``prop`` value changed (and at the
        first step of every run).

        Args:
            prop: the dopesheet property.
            setter: called with its value.
        """
        if self.engine.timeline is not None:
            self._check_props({prop})
        self.engine.bind(prop, setter)

    def track(self, key: str, obj: Any) -> None:
        """Keep ``obj``'s ``state_dict()`` in this adapter's checkpoint state under ``key``
        (as ``Trainer.track`` does in ours).

        Args:
            key: the name in the adapter's state.
            obj: anything with ``state_dict``/``load_state_dict``.
        """
        self.engine.track(key, obj)

    # -- hooks (override to react; call super() to keep the registered handlers) ---------------
    def on_phase_start(self, phase: str | None, event: Event) -> None:
        """A phase starts: override to react (call ``super()`` to keep the registered handlers).

        Args:
            phase: its name (``None`` before the first named phase).
            event: the ``phase-start`` event.
        """
        self._dispatch(PHASE_START, phase, event)

    def on_action(self, action: str, event: Event) -> None:
        """An action fires: override to react (call ``super()`` to keep the registered handlers).

        Args:
            action: its name.
            event: the ``action`` event.
        """
        self._dispatch(ACTION, action, event)

    def on_phase_end(self, phase: str | None, event: Event) -> None:
        """A phase's last step ran: override to react (call ``super()`` to keep the registered
        handlers).

        Args:
            phase: its name.
            event: the ``phase-end`` event.
        """
        self._dispatch(PHASE_END, phase, event)

    # -- for subclasses -------------------------------------------------------------------------
    def _build_timeline(
        self,
        *,
        steps_per_epoch: int | float | None = None,
        total_steps: int | float | None = None,
    ) -> Timeline:
        """Read the dopesheet (once) now that the run's length is known; restore saved state."""
        engine = self.engine
        if engine.timeline is None:
            engine.timeline = to_timeline(
                self._source, steps_per_epoch=steps_per_epoch, total_steps=total_steps
            )
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._restore(pending)
        return engine.timeline

    def _preflight(
        self, optimizers: Sequence[torch.optim.Optimizer], schedulers: Iterable[Any] = ()
    ) -> int:
        """Before the first step: every name checked (one :class:`ConfigError` listing every
        problem), a framework LR scheduler on a driven optimizer warned about; drive the
        learning rates. Returns how many param groups follow the dopesheet."""
        engine = self.engine
        ds = self.timeline.dopesheet
        problems = schedule_problems(
            ds, engine.bindings, engine.reads, engine.bus.subscriptions(),
            engine.runtime_actions, optimizers if "lr" in ds.specs or any(
                c.startswith("lr-") for c in ds.specs) else (),
        )  # fmt: skip
        if problems:
            raise ConfigError(f"{type(self).__name__} cannot start:\n  " + "\n  ".join(problems))
        driven = engine.drive(optimizers)
        if driven:
            ids = {id(o) for o, _ in engine._lr}
            for sched in schedulers:
                if id(getattr(sched, "optimizer", None)) in ids and sched is not self:
                    warnings.warn(
                        f"{type(sched).__name__} also sets the learning rate of an optimizer "
                        f"that {ds.source} drives; the dopesheet overrides it at every step "
                        "(remove the scheduler, or drop the lr column)",
                        stacklevel=2,
                    )
        self._checked = True
        return driven

    def _enter(self, step: int) -> State:
        """Optimizer step ``step`` is about to run: move there, fire its events, apply it."""
        engine = self.engine
        tl = engine.timeline
        if tl is None:
            tl = self.timeline  # raises: not built yet
        if step == engine.entered:
            return tl.state
        n = len(tl)
        if step >= n:
            if not self._past_end_warned:
                self._past_end_warned = True
                log.warning(
                    "training runs past the last step of %s (%d); its last values hold",
                    tl.dopesheet.source, n - 1,
                )  # fmt: skip
            step = n - 1
            if step == engine.entered:
                return tl.state
        state = tl.state
        if step == state.step + 1:
            state = tl.step()
        elif step != state.step:
            state = tl.seek(step)
        engine.enter(state)
        return state

    def _finish(
        self,
        step: int,
        losses: Callable[[], dict[str, float] | None] | None = None,
        extras: dict[str, Any] | None = None,
    ) -> None:
        """Optimizer step ``step`` has run: ``step-metrics``, then ``phase-end`` at a phase's
        last step. ``losses`` is called only if someone listens (it may sync with a device)."""
        engine = self.engine
        if step != engine.entered:
            return
        engine.finish(engine.timeline.state, losses, extras=extras or {})  # type: ignore[union-attr]

    def _emit_train(self, name: str, step: int | None = None) -> None:
        """``train-start`` / ``train-end`` (``step``: the step the run continues from)."""
        if name not in (TRAIN_START, TRAIN_END):
            raise ValueError(name)
        if name not in self.engine.bus._handlers and self.engine.replay_log is None:
            return  # nobody listens: no state to look up
        tl = self.timeline
        state = tl.state
        if step is not None and step != state.step and 0 <= step < len(tl):
            state = tl[step]
        self.engine.emit(name, state)

    def _schedule_state(self) -> dict[str, Any]:
        """The timeline (cursor, dopesheet(s), overrides), walk position, fired actions and
        tracked handlers' state; ``torch.load(weights_only=True)``-able."""
        engine = self.engine
        if engine.timeline is None:
            return dict(self._pending) if self._pending is not None else {}
        return {
            "timeline": engine.timeline.state_dict(),
            "current": engine.entered,
            "finished": engine.finished,
            **engine.record_state(),
            "handlers": engine.handler_states(),
        }

    def _load_schedule_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`_schedule_state` now, or when the timeline is built."""
        if not state:
            return
        if self.engine.timeline is None:
            self._pending = dict(state)
        else:
            self._restore(state)

    # -- internals ------------------------------------------------------------------------------
    def _restore(self, state: dict[str, Any]) -> None:
        engine = self.engine
        engine.load_record(state)
        _, changed = engine.resume_timeline(
            state["timeline"], self.on_length_change, self._own_timeline
        )
        tl = self.timeline
        if changed:
            log.warning(
                "%s differs from the checkpoint's dopesheet; changed after step %d: %s",
                tl.dopesheet.source, tl.state.step, ", ".join(changed),
            )  # fmt: skip
        engine.entered = int(state["current"])
        engine.finished = int(state["finished"])
        engine.load_handler_states(state.get("handlers", {}))
        engine._last_bound = {}
        if engine.entered >= 0:  # the restored step is in effect: apply it again
            engine.apply(tl.state.props)
        self._resumed = True

    def _replay(self) -> None:
        """On resume: the ``replay=True`` handlers restore the fired actions' effects."""
        if getattr(self, "_resumed", False):
            self._resumed = False
            self.engine.replay_actions()

    def _check_props(self, names: Iterable[str]) -> None:
        """Every bound or read property must be a column of the dopesheet."""
        ds = self.timeline.dopesheet
        missing = sorted(set(names) - set(ds.specs))
        if missing:
            raise ConfigError(
                f"{ds.source} has no column for "
                + ", ".join(repr(m) + did_you_mean(m, ds.specs) for m in missing)
                + f" (bound or read by {type(self).__name__}); add the column(s) or remove the "
                "binding(s)"
            )

    def _named(self, base: str, name: str | None, state: State, **fields: Any) -> None:
        event = self.engine.event(base, state, **fields)
        if base == PHASE_START:
            self.on_phase_start(name, event)
        elif base == ACTION:
            self.on_action(name or "", event)
        elif base == PHASE_END:
            self.on_phase_end(name, event)
        else:
            self._dispatch(base, name, event)

    def _dispatch(self, base: str, name: str | None, event: Event) -> None:
        emit = self.engine.emit
        fields = {"action": event.action} if event.action is not None else {}
        emit(base, event.state, **fields)
        if name is not None:
            emit(f"{base}:{name}", event.state, **fields)

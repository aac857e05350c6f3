"""Event names and the small bus that routes them to handlers.

Names are the API (Ignite-style): ``train-start``, ``phase-start`` / ``phase-start:<phase>``,
``action`` / ``action:<name>``, ``pre-step``, ``step-metrics``, ``phase-end`` /
``phase-end:<phase>`` (carries validation inference), ``train-end``; ``gate`` / ``gate:<name>``
when a dopesheet gate opens (see ``docs/gates.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mini.suggest import closest

if TYPE_CHECKING:
    from mini.temporal import State
    from mini.training.result import Result
    from mini.training.trainer import Trainer

TRAIN_START = "train-start"
PHASE_START = "phase-start"
ACTION = "action"
PRE_STEP = "pre-step"
STEP_METRICS = "step-metrics"
PHASE_END = "phase-end"
TRAIN_END = "train-end"
GATE = "gate"  # a dopesheet gate opened (emitted by mini.training.gate_handler.GateHandler)
EVENTS = (TRAIN_START, PHASE_START, ACTION, PRE_STEP, STEP_METRICS, PHASE_END, TRAIN_END, GATE)


@dataclass
class Event:
    """What a handler receives.

    ``state`` is the timeline state of the step (``state.props`` holds every property's value).
    ``action`` is set for action events; ``batch``/``result``/``losses`` for ``step-metrics``
    (losses are floats: ``total`` and one per computed criterion); for ``phase-end``,
    ``validation`` is the detached :class:`Result` of validation inference on ``batch`` (the
    phase's validation batch) and ``losses`` the criteria on it.

    ``trainer`` is the loop: our :class:`Trainer`, Lightning's ``Trainer``, Ignite's ``Engine``
    (``None`` in a plain loop with :class:`~mini.adapters.DopesheetLR`); ``module`` the
    LightningModule (Lightning only); ``source`` the trainer or adapter that fired the event.
    ``replayed`` is true when an action is replayed on resume (``on(..., replay=True)``).

    Attributes:
        name: the event's name (``step-metrics``, ``action:refresh``, ...).
        trainer: the loop that emitted it (an adapter fills in its framework's trainer).
        state: the timeline state of the step.
        action: the action's name, on action events.
        batch: the step's batch (``step-metrics``) or the validation batch (``phase-end``).
        result: the model's output on ``batch`` (``step-metrics``).
        losses: ``total`` and each computed criterion, as floats (``step-metrics``).
        validation: the detached validation result (``phase-end``).
        extras: what handlers ``record()``-ed this step.
        module: the Lightning module (Lightning only).
        source: the engine's owner (the trainer or adapter).
        replayed: ``True`` when a resume calls the handler again for an action that fired before the
            checkpoint.
    """

    name: str
    trainer: Trainer | Any
    state: State
    action: str | None = None
    batch: Any = None
    result: Result | None = None
    losses: dict[str, float] | None = None
    validation: Result | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    module: Any = None
    source: Any = None
    replayed: bool = False

    @property
    def step(self) -> int:
        return self.state.step

    @property
    def phase(self) -> str | None:
        return self.state.phase


Handler = Callable[[Event], Any]


def base_name(event: str) -> str:
    """``phase-end:Warm-up`` → ``phase-end``."""
    return event.split(":", 1)[0]


NAMED_EVENTS = (PHASE_START, PHASE_END, ACTION, GATE)  # also as '<event>:<name>'


@dataclass(eq=False)
class Subscription:
    """What :meth:`EventBus.on` returns: ``remove()`` unsubscribes the handler.

    Attributes:
        bus: the bus it is on.
        event: the event's name.
        handler: the subscribed callable.
        every: call it only on steps divisible by this (``None``: every step).
        optional: the ``<event>:<name>`` may be absent from the dopesheet.
        replay: call it again on resume for actions that fired before the checkpoint.
    """

    bus: EventBus
    event: str
    handler: Handler
    every: int | None
    optional: bool = False
    replay: bool = False

    def remove(self) -> None:
        """Stop calling the handler (idempotent)."""
        self.bus.remove(self)

    @property
    def active(self) -> bool:
        return any(s is self for s in self.bus._handlers.get(self.event, ()))


class EventBus:
    """Handlers by event name, each optionally limited to every N-th step."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Subscription]] = {}

    def on(
        self, event: str, handler: Handler, every: int | None = None, optional: bool = False
    ) -> Subscription:
        """Subscribe ``handler``; ``optional`` marks a ``<event>:<name>`` subscription whose
        name may legitimately be absent from the dopesheet (e.g. an action fired at runtime).

        Args:
            event: the event's name.
            handler: called with the :class:`Event`.
            every: step events only: call it on steps divisible by this (``None``: every step).
            optional: the ``<event>:<name>`` may be absent from the dopesheet.
        """
        base, _, name = event.partition(":")
        if base not in EVENTS:
            close = closest(base, EVENTS)
            hint = f"did you mean {close!r}? " if close else ""
            raise ValueError(
                f"unknown event {event!r}: {hint}events are: {', '.join(EVENTS)} "
                "(phase-start/phase-end/action also as '<event>:<name>')"
            )
        if name and base not in NAMED_EVENTS:
            raise ValueError(
                f"event {base!r} has no named form: use {base!r} (only "
                f"{', '.join(NAMED_EVENTS)} take ':<name>')"
            )
        if every is not None and every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        sub = Subscription(self, event, handler, every, optional)
        self._handlers.setdefault(event, []).append(sub)
        return sub

    def remove(self, sub: Subscription) -> None:
        """Unsubscribe ``sub`` (idempotent).

        Args:
            sub: what :meth:`on` returned.
        """
        subs = self._handlers.get(sub.event)
        if subs is None:
            return
        subs[:] = [s for s in subs if s is not sub]
        if not subs:
            del self._handlers[sub.event]

    def has(self, event: str) -> bool:
        """Whether anyone listens to ``event``.

        Args:
            event: the event's name.
        """
        return event in self._handlers

    def subscriptions(self) -> list[Subscription]:
        return [s for subs in self._handlers.values() for s in subs]

    def handlers(self) -> list[Handler]:
        return [s.handler for s in self.subscriptions()]

    def emit(self, event: Event) -> None:
        """Call ``event.name``'s handlers (those with ``every`` on the steps it divides).

        Args:
            event: the event to deliver.
        """
        handlers = self._handlers.get(event.name)
        if not handlers:
            return
        step = event.state.step
        for sub in tuple(handlers):  # a handler may unsubscribe itself
            every = sub.every
            if every is None or step % every == 0:
                sub.handler(event)

"""Event names and the small bus that routes them to handlers.

Names are the API (Ignite-style): ``train-start``, ``phase-start`` / ``phase-start:<phase>``,
``action`` / ``action:<name>``, ``pre-step``, ``step-metrics``, ``phase-end`` /
``phase-end:<phase>`` (carries validation inference), ``train-end``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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
EVENTS = (TRAIN_START, PHASE_START, ACTION, PRE_STEP, STEP_METRICS, PHASE_END, TRAIN_END)


@dataclass
class Event:
    """What a handler receives.

    ``state`` is the timeline state of the step (``state.props`` holds every property's value).
    ``action`` is set for action events; ``batch``/``result``/``losses`` for ``step-metrics``
    (losses are floats: ``total`` and one per computed criterion); for ``phase-end``,
    ``validation`` is the detached :class:`Result` of validation inference on ``batch`` (the
    phase's validation batch) and ``losses`` the criteria on it.
    """

    name: str
    trainer: Trainer
    state: State
    action: str | None = None
    batch: Any = None
    result: Result | None = None
    losses: dict[str, float] | None = None
    validation: Result | None = None
    extras: dict[str, Any] = field(default_factory=dict)

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


class EventBus:
    """Handlers by event name, each optionally limited to every N-th step."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[tuple[Handler, int | None]]] = {}

    def on(self, event: str, handler: Handler, every: int | None = None) -> Handler:
        if base_name(event) not in EVENTS:
            raise ValueError(
                f"unknown event {event!r}; events are: {', '.join(EVENTS)} "
                "(phase-start/phase-end/action also as '<event>:<name>')"
            )
        if every is not None and every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self._handlers.setdefault(event, []).append((handler, every))
        return handler

    def has(self, event: str) -> bool:
        return event in self._handlers

    def handlers(self) -> list[Handler]:
        return [h for hs in self._handlers.values() for h, _ in hs]

    def emit(self, event: Event) -> None:
        handlers = self._handlers.get(event.name)
        if not handlers:
            return
        step = event.state.step
        for handler, every in handlers:
            if every is None or step % every == 0:
                handler(event)

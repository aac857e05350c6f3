"""A tiny stand-in for the Trainer: just what ex_color's handlers and criteria touch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from torch import nn

from mini.temporal import State
from mini.training.events import Event


class FakeTrainer:
    def __init__(self, model: nn.Module | None = None):
        self.model = model
        self.handlers: dict[str, list[Callable[[Event], Any]]] = {}
        self.current_step = 0

    def on(
        self, name: str, handler: Callable[[Event], Any], every: int | None = None,
        optional: bool = False,
    ) -> None:  # fmt: skip
        self.handlers.setdefault(name, []).append(handler)

    def emit(self, name: str, **kwargs: Any) -> None:
        event = make_event(name, self, step=self.current_step, **kwargs)
        for handler in self.handlers.get(name, []):
            handler(event)


def make_event(
    name: str,
    trainer: Any,
    step: int = 0,
    phase: str | None = "Phase",
    actions: tuple[str, ...] = (),
    **kwargs: Any,
) -> Event:
    state = State(step, phase, {}, actions, False, True)
    return Event(name=name, trainer=trainer, state=state, **kwargs)


@pytest.fixture
def fake_trainer() -> type[FakeTrainer]:
    return FakeTrainer


def run_curriculum(exp: Any, schedule: Any, fused: bool = True, **kw: Any) -> Any:
    """Run an experiment through the real Trainer (quietly); returns the trainer."""
    from mini.training import default_forward

    trainer = exp.trainer(schedule, progress=False, **kw)
    if not fused:
        trainer.forward = default_forward
    trainer.fit()
    return trainer

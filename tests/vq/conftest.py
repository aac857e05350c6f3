"""Shared fixtures for the vq tests: a fake trainer that routes events through the real bus."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from mini.temporal import State
from mini.training.events import Event, EventBus


class FakeTrainer:
    """Just the Trainer API the vq handlers use: on, record, stop, model, step."""

    def __init__(self, model: nn.Module | None = None):
        self.model = model if model is not None else nn.Identity()
        self.bus = EventBus()
        self.records: list[dict[str, Any]] = []
        self.stops: list[str] = []
        self.current_step = 0

    def on(self, name: str, handler: Any, every: int | None = None, optional: bool = False) -> Any:
        return self.bus.on(name, handler, every, optional)

    def record(self, **values: Any) -> None:
        self.records.append(values)

    def stop(self, reason: str) -> None:
        self.stops.append(reason)

    def emit(self, name: str, step: int, **kwargs: Any) -> None:
        self.current_step = step
        state = State(step, None, {}, (), False, False)
        self.bus.emit(Event(name, self, state, **kwargs))


@pytest.fixture
def trainer() -> FakeTrainer:
    return FakeTrainer()


@pytest.fixture(autouse=True)
def _seeded():
    """Every vq test starts from the same torch seed (one thread: see tests/conftest.py)."""
    torch.manual_seed(0)

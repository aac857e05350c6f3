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
def _seed_and_one_thread():
    """Seeded, and single-threaded: on tiny tensors intra-op threads only add synchronisation
    (10× slower on a busy 2-core machine). The thread setting is restored afterwards."""
    torch.manual_seed(0)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

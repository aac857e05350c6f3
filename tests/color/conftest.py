"""A tiny stand-in for the Trainer: just what ex_color's handlers and criteria touch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from torch import nn, no_grad

from mini.temporal import State
from mini.training.events import Event


class FakeTrainer:
    def __init__(self, model: nn.Module | None = None):
        self.model = model
        self.handlers: dict[str, list[Callable[[Event], Any]]] = {}
        self.step = 0

    def on(self, name: str, handler: Callable[[Event], Any], every: int | None = None) -> None:
        self.handlers.setdefault(name, []).append(handler)

    def emit(self, name: str, **kwargs: Any) -> None:
        event = make_event(name, self, step=self.step, **kwargs)
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


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: intra-op threads only add synchronisation (10x slower on a busy 2-core
    machine), so these tests run single-threaded and restore the setting afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def fake_trainer() -> type[FakeTrainer]:
    return FakeTrainer


def run_curriculum(
    exp: Any, timeline: Any, fused: bool = True, opt: Any = None, stop: int | None = None
) -> Any:
    """Drive an experiment through a timeline the way the Trainer will: anchor action, bound
    properties, Adam at the scheduled lr, weighted criteria (weight 0 skipped), phase-end
    validation into the plotter. Runs from the timeline's cursor to the end or through step
    ``stop``; returns the optimizer. A stand-in until ``mini.training.trainer`` exists."""
    from ex_color.experiment import make_optimizer
    from mini.training.criteria import SpecialCriterion

    def forever(iterable):
        while True:
            yield from iterable

    model = exp.model
    opt = make_optimizer(model) if opt is None else opt
    streams: dict[int, Any] = {}
    for state in timeline:
        props = state.props
        if "anchor" in state.actions:
            exp.anchor.capture(model, state.step)
        for name, setter in exp.bindings.items():
            setter(props[name])
        train = exp.data[state.phase].train
        batch = next(streams.setdefault(id(train), forever(train)))
        opt.param_groups[0]["lr"] = props["lr"]
        opt.zero_grad(set_to_none=True)
        result = exp.forward(model, batch) if fused else model(batch)
        total = None
        for name, criterion in exp.criteria.items():
            weight = props[name]
            if weight == 0:
                continue
            special = isinstance(criterion, SpecialCriterion)
            term = criterion(model, None) if special else criterion(batch, result)
            total = term * weight if total is None else total + term * weight
        total.backward()
        opt.step()
        if state.is_phase_end:
            val = exp.data[state.phase].val
            with no_grad():
                exp.plotter.record(state.phase, state.step, val, model(val).latents)
        if state.step == stop:
            break
    return opt

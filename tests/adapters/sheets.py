"""Small dopesheets and helpers shared by the adapter tests."""

from __future__ import annotations

import torch
from torch import nn

from mini.temporal import Dopesheet

# Phases, actions (two on one step), a named-group column and a plain property.
ORDER = Dopesheet.from_text(
    'STEP,PHASE,ACTION,lr,lr-head,w\n0,A,go,0.1,0.5,1\n1,B,,,,\n3,,"snap,end",0.01,0.05,0\n',
    source="order.csv",
)
# What our Trainer emits for ORDER (tests/training/test_trainer.py checks the trainer's side).
ORDER_EVENTS = [
    ("train-start", 0), ("phase-start", 0), ("phase-start:A", 0), ("action", 0),
    ("action:go", 0), ("pre-step", 0), ("step-metrics", 0), ("phase-end", 0),
    ("phase-end:A", 0), ("phase-start", 1), ("phase-start:B", 1), ("pre-step", 1),
    ("step-metrics", 1), ("pre-step", 2), ("step-metrics", 2), ("action", 3), ("action:snap", 3),
    ("action", 3), ("action:end", 3), ("pre-step", 3), ("step-metrics", 3), ("phase-end", 3),
    ("phase-end:B", 3), ("train-end", 3),
]  # fmt: skip
EVENT_NAMES = sorted({name for name, _ in ORDER_EVENTS})


def two_groups(lr: float = 0.5) -> tuple[nn.Module, torch.optim.Optimizer]:
    """A model whose optimizer has an unnamed group (follows ``lr``) and one named ``head``."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    opt = torch.optim.SGD(
        [{"params": model[0].parameters()}, {"params": model[1].parameters(), "name": "head"}],
        lr=lr,
    )
    return model, opt


def recorder(seen: list[tuple[str, int]], name: str):
    return lambda event: seen.append((name, event.step))

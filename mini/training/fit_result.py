"""What ``Trainer.fit()`` returns, and seeding every RNG a run draws from."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


@dataclass
class FitResult:
    """How a ``fit()`` call ended.

    Attributes:
        last_step: the last step that ran.
        steps_run: steps trained by this call.
        seconds: wall time of the call.
        stopped: the reason a handler gave to ``stop()``, if one did.
        interrupted: Ctrl-C ended it (after a clean step and a checkpoint).
        checkpoint: the last checkpoint written, if any.
    """

    last_step: int
    steps_run: int
    seconds: float
    stopped: str | None = None
    interrupted: bool = False
    checkpoint: Path | None = None

    @property
    def steps_per_second(self) -> float:
        return self.steps_run / self.seconds if self.seconds > 0 else float("nan")


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices).

    Args:
        seed: the seed for torch, numpy and Python's ``random``.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)

"""Keep the best checkpoint by a weighted sum of metrics (e.g. loss + 0.5·topographic +
0.5·quality), through the trainer's own ``keep_best``: this handler records the sum under its
name at each step that logs every part, and ``Trainer(keep_best=name)`` keeps ``best.pt`` by it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from mini.training.checks import ConfigError
from mini.training.events import STEP_METRICS, Event
from mini.training.gate_handler import step_metrics

if TYPE_CHECKING:
    from mini.training.trainer import Trainer


class CompositeScore:
    """Records ``name = Σ weight·metric`` at every step that logs all of ``weights``' metrics.

    Use with ``Trainer(..., keep_best=name, best_mode="min")``: ``best.pt`` is then the step with
    the lowest sum (give a negative weight to a metric where higher is better).

    Args:
        weights: metric name → weight; metrics are the step's losses and numeric extras
            (``val-<criterion>`` at phase ends, what handlers ``record()``).
        name: the recorded value's name (the trainer's ``keep_best`` must be this).
    """

    def __init__(self, weights: Mapping[str, float], name: str = "composite"):
        if not weights:
            raise ValueError("CompositeScore needs at least one metric weight")
        bad = {k: w for k, w in weights.items() if not math.isfinite(float(w))}
        if bad:
            raise ValueError(f"CompositeScore weights must be finite numbers, got {bad}")
        self.weights = {k: float(w) for k, w in weights.items()}
        self.name = name

    def attach(self, trainer: Trainer) -> None:
        if trainer.keep_best != self.name:
            raise ConfigError(
                f"CompositeScore records {self.name!r} but the trainer keeps the best by "
                f"{trainer.keep_best!r}: pass Trainer(..., keep_best={self.name!r})"
            )
        self.trainer = trainer
        trainer.on(STEP_METRICS, self._score)

    def score(self, metrics: Mapping[str, float]) -> float | None:
        """The weighted sum, or ``None`` when a part is missing or not finite.

        Args:
            metrics: a step's metrics (``losses`` and ``extras`` merged).
        """
        parts = [metrics.get(k) for k in self.weights]
        if any(p is None or not math.isfinite(p) for p in parts):
            return None
        return math.fsum(w * p for w, p in zip(self.weights.values(), parts, strict=True))  # type: ignore[operator]

    def _score(self, event: Event) -> None:
        value = self.score(step_metrics(event))
        if value is not None:
            self.trainer.record(**{self.name: value})

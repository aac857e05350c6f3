"""The training progress bar, plus the tokenizer's mode, temperature and ``assign_*`` figures.

:class:`~mini.training.progress.TrainingProgress` shows the learning rate and loss terms; this
subclass appends the latest held-out figures the evaluator recorded into the step's extras
(they arrive every ``eval_every`` steps, so the last values are kept between them).
"""

from __future__ import annotations

from typing import Any

from mini.training.events import Event
from mini.training.progress import TrainingProgress

SHOWN = (
    ("mode", "{}"),
    ("assign_temperature", "T {:.3g}"),
    ("assign_near_hard", "near-hard {:.2f}"),
    ("assign_overlap", "overlap {:.3f}"),
    ("assign_imbalance", "imbalance {:.3f}"),
    ("utilization", "util {:.2f}"),
    ("recon_quality", "quality {:.3f}"),
)


def extras_text(latest: dict[str, Any]) -> str:
    return " ".join(fmt.format(latest[k]) for k, fmt in SHOWN if k in latest)


class CategoricalProgress(TrainingProgress):
    """Add with ``trainer.add(CategoricalProgress())`` on a trainer built with
    ``progress=False``, after the evaluator (so a step's figures are recorded before it draws)."""

    def __init__(self, **kwargs: Any):
        super().__init__(max_terms=2, **kwargs)
        self.latest: dict[str, Any] = {}

    def update(self, event: Event) -> None:
        self.latest.update({k: event.extras[k] for k, _ in SHOWN if k in event.extras})
        before = self._next
        super().update(event)
        if self._progress is not None and self._next != before:
            task = self._progress.tasks[0]
            info = f"{task.fields.get('info', '')} | {extras_text(self.latest)}"
            self._progress.update(self._task, info=info)

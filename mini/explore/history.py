"""Loss history for live plots: appended on the training thread, read on the UI thread.

The training thread appends one step at a time (a few list appends, ~1 µs); readers take a
consistent prefix (the shortest column) and thin it to at most ``points`` samples per curve,
keeping each bucket's mean so spikes are visible without drawing 20,000 points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np


class LossHistory:
    """Per-step losses by name; a name missing at a step (a term weighted 0) is NaN there."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.columns: dict[str, list[float]] = {}

    def append(self, step: int, losses: Mapping[str, float]) -> None:
        n = len(self.steps)
        for name, value in losses.items():
            col = self.columns.get(name)
            if col is None:  # a new term: NaN for the steps before it
                col = self.columns[name] = [math.nan] * n
            col.append(value)
        for col in self.columns.values():
            if len(col) == n:
                col.append(math.nan)
        self.steps.append(step)

    def __len__(self) -> int:
        return len(self.steps)

    def view(self, points: int = 400) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(steps, {name: values})`` thinned to at most ``points`` samples (bucket means)."""
        n = len(self.steps)
        cols = {name: col[:n] for name, col in list(self.columns.items())}
        n = min([n, *(len(c) for c in cols.values())])
        steps = np.asarray(self.steps[:n], dtype=np.float64)
        data = {name: np.asarray(c[:n], dtype=np.float64) for name, c in cols.items()}
        if n <= points:
            return steps, data
        edges = np.linspace(0, n, points + 1).astype(np.int64)
        starts = edges[:-1]
        thin_steps = steps[edges[1:] - 1]
        out = {}
        for name, v in data.items():
            ok = ~np.isnan(v)
            sums = np.add.reduceat(np.where(ok, v, 0.0), starts)
            seen = np.add.reduceat(ok.astype(np.float64), starts)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[name] = np.where(seen > 0, sums / np.maximum(seen, 1), np.nan)
        return thin_steps, out

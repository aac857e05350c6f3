"""Loss history for live plots: appended on the training thread, read on the UI thread.

The training thread appends one step at a time (a few list appends, ~1 µs); readers take a
consistent prefix (the shortest column) and thin it to at most ``points`` samples per curve,
keeping each bucket's mean so spikes are visible without drawing 20,000 points. Readers convert
only the steps appended since their last look (a whole-history conversion each refresh held the
GIL for milliseconds late in a long run, time the training thread lost).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping

import numpy as np


class LossHistory:
    """Per-step losses by name; a name missing at a step (a term weighted 0) is NaN there."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.columns: dict[str, list[float]] = {}
        self._read = threading.Lock()  # readers only: the training thread never waits on it
        self._seen = 0  # steps already converted into the arrays below
        self._arrays: dict[str, np.ndarray] = {"": np.empty(0)}  # "": the steps

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
        with self._read:
            steps, data = self._prefix()
        n = len(steps)
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

    def _prefix(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Every step appended so far as arrays (a consistent prefix), converting only the new
        ones; arrays grow by doubling and are never rewritten below their length, so the
        read-only slices handed out stay valid."""
        columns = dict(self.columns)  # the training thread may add a term meanwhile
        n = min([len(self.steps), *(len(c) for c in columns.values())])
        seen = min(self._seen, n)
        arrays = self._arrays
        for name, values in [("", self.steps), *columns.items()]:
            have = arrays.get(name)
            start = seen if have is not None else 0  # a new term: its list has NaN before it
            if have is None or len(have) < n:
                grown = np.empty(max(2 * n, 64))
                grown[:start] = have[:start] if have is not None else []
                have = arrays[name] = grown
            have[start:n] = values[start:n]
        self._seen = n
        out = {}
        for name in ("", *columns):
            out[name] = arrays[name][:n]
            out[name].flags.writeable = False
        return out.pop(""), out

"""Evaluating gate conditions on a run's metrics: :class:`ConditionState` keeps each
``plateau``/``stable`` window (counted in steps) and saves it with ``state_dict()``, so a run
resumed in the middle of a window decides exactly as the uninterrupted one."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mini.temporal.gates import OPS, All, Any_, Compare, Condition, Custom, Plateau, Stable, walk

CustomCondition = Callable[["GateContext"], bool]


@dataclass(frozen=True, slots=True)
class GateContext:
    """What a custom condition sees: the training step, the schedule step, and the last logged
    value of every metric observed so far.

    Attributes:
        step: the training step.
        schedule_step: the schedule step.
        metrics: the last logged value of every metric so far.
    """

    step: int
    schedule_step: int
    metrics: Mapping[str, float]


class ConditionState:
    """One gate's condition with its windows, fed metrics step by step.

    ``reset(step)`` starts the windows (when the gate becomes active); ``update(step, metrics)``
    adds what was logged at ``step`` and returns whether the condition holds, or ``None`` when
    none of its metrics was logged then (a metric logged every N steps is evaluated when logged).
    """

    def __init__(self, condition: Condition, customs: Mapping[str, CustomCondition] | None = None):
        self.condition = condition
        self.nodes = list(walk(condition))
        self.metrics = {n.metric for n in self.nodes if hasattr(n, "metric")}
        self.customs = dict(customs or {})
        self._sizes = [sum(1 for _ in walk(n)) for n in self.nodes]  # subtree sizes (offsets)
        self._windowed = [
            (k, n) for k, n in enumerate(self.nodes) if isinstance(n, Plateau | Stable)
        ]
        self._has_custom = any(isinstance(n, Custom) for n in self.nodes)
        self.start = 0
        self.windows: list[list[Any]] = [[] for _ in self.nodes]

    def reset(self, step: int) -> None:
        self.start = step
        self.windows = [[] for _ in self.nodes]

    def update(
        self, step: int, logged: Mapping[str, float], last: Mapping[str, float], schedule_step: int
    ) -> bool | None:
        for k, node in self._windowed:
            if node.metric in logged:
                self._add(k, node, step, float(logged[node.metric]))
        if not self._has_custom and self.metrics.isdisjoint(logged):
            return None
        ctx = GateContext(step, schedule_step, last)
        return self._holds(self.condition, 0, step, last, ctx)

    def _add(self, k: int, node: Plateau | Stable, step: int, v: float) -> None:
        w = self.windows[k]
        if isinstance(node, Plateau):  # [best, best_step]
            better = (
                not w
                or (node.mode == "min" and v < w[0] - node.delta)
                or (node.mode == "max" and v > w[0] + node.delta)
            )
            if better:
                w[:] = [v, step]
            return
        w.append([step, v])  # Stable: observations within the last `steps` steps
        cut = step - node.steps
        while w and w[0][0] < cut:
            w.pop(0)

    def _holds(
        self, c: Condition, k: int, step: int, last: Mapping[str, float], ctx: GateContext
    ) -> bool:
        if isinstance(c, All | Any_):
            j, results = k + 1, []
            for p in c.parts:
                results.append(self._holds(p, j, step, last, ctx))
                j += self._sizes[j]
            return all(results) if isinstance(c, All) else any(results)
        if isinstance(c, Compare):
            return c.metric in last and OPS[c.op](float(last[c.metric]), c.value)
        if isinstance(c, Plateau):
            w = self.windows[k]
            return bool(w) and step - w[1] >= c.steps
        if isinstance(c, Stable):
            w = self.windows[k]
            if not w or step - self.start < c.steps:
                return False
            values = [v for _, v in w]
            return max(values) - min(values) <= c.delta
        fn = self.customs.get(c.name)
        if fn is None:
            raise KeyError(f"custom condition {c.name!r} is not registered")
        return bool(fn(ctx))

    def state_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "windows": [
                list(map(list, w)) if w and isinstance(w[0], list) else list(w)
                for w in self.windows
            ],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.start = int(state["start"])
        self.windows = [list(w) for w in state["windows"]]

"""What a gated timeline's gates do with the metrics it observes: a gate is armed when the
schedule reaches the row before it, its condition is updated with each step's metrics, and it
opens (an :class:`Opening`) when it is met, gives up at ``max``, or is passed.

Kept apart from :mod:`mini.temporal.gated` so that the timeline holds the two clocks and the
values they give, and this module the gates' decisions that move the schedule clock.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mini.temporal.conditions import ConditionState, CustomCondition
from mini.temporal.gate_rows import RowGate

if TYPE_CHECKING:
    from mini.temporal.gated import GatedTimeline

log = logging.getLogger("mini.temporal.gated")  # the gated timeline's messages


class GateMetricError(RuntimeError):
    """A gate needs a metric the run never logged: stopping beats waiting silently."""


@dataclass(frozen=True, slots=True)
class Opening:
    """A gate that opened (or gave up at ``max``) after training step ``step``.

    ``kind``: ``until`` (a hold ended; ``held`` steps spent at the row), ``when`` (the clock
    moved on; ``skipped`` schedule steps), or ``stop`` (a ``when`` on the last row ended the
    run). ``reason`` is ``"condition"`` or ``"max"``.

    Attributes:
        step: the training step after which it opened.
        schedule_step: the schedule step then.
        row_step: the gated row's step.
        label: the row's phase or step, for messages.
        kind: ``until``, ``when`` or ``stop``.
        reason: ``"condition"`` or ``"max"``.
        held: steps held at the row (``until``).
        skipped: schedule steps skipped (``when``).
        line: the row's CSV line.
        text: the GATE cell.
    """

    step: int
    schedule_step: int
    row_step: int
    label: str
    kind: str
    reason: str
    held: int = 0
    skipped: int = 0
    line: int = 0
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}  # type: ignore[attr-defined]


class ArmedGate:
    """A gate the schedule is near: its condition's windows run from when it was armed."""

    def __init__(self, rg: RowGate, prev_step: int, customs: Mapping[str, CustomCondition]):
        self.rg, self.prev_step = rg, prev_step
        self.cond = ConditionState(rg.gate.condition, customs)
        self.armed_at: int | None = None  # training step
        self.result = False
        self.entered: int | None = None  # training step the hold began (until)


def arm(tl: GatedTimeline, t: int) -> None:
    """Arm the gates whose previous row the schedule has reached (at training step ``t``).

    Args:
        tl: the gated timeline.
        t: the training step.
    """
    for rg in tl.dopesheet.gates:
        if rg.step in tl._done:
            continue
        k = tl._row_steps.index(rg.step)
        prev = tl._row_steps[k - 1] if k > 0 else 0
        if rg.step not in tl._armed and prev <= tl._sigma <= rg.step:
            a = ArmedGate(rg, prev, tl.conditions)
            a.armed_at = t
            a.cond.reset(t)
            tl._armed[rg.step] = a
        a = tl._armed.get(rg.step)
        if a is not None and a.entered is None and tl._sigma == rg.step:
            a.entered = t if rg.gate.kind == "until" else None


def decide(tl: GatedTimeline, step: int, logged: Mapping[str, float]) -> list[Opening]:
    """Update the armed gates with what was ``logged`` at training ``step`` and set the next
    schedule step (held, moved on, or the run's end). Returns the gates that opened.

    Args:
        tl: the gated timeline.
        step: the current training step.
        logged: the finite metrics logged at it.
    """
    opened: list[Opening] = []
    nxt: int | None = tl._sigma + 1
    holding = False
    for g, a in sorted(tl._armed.items()):
        res = a.cond.update(step, logged, tl._last, tl._sigma)
        if res is not None:
            a.result = res
        gate = a.rg.gate
        label = tl._labels[g]
        if gate.kind == "until" and a.entered is not None:
            held = step - a.entered
            if held < gate.min_hold or not (a.result or held >= (gate.max_hold or 0)):
                nxt, holding = tl._sigma, True  # hold
                continue
            reason = "condition" if a.result else "max"
            if reason == "max":
                _require_metrics(tl, a, f"while holding {held} steps (its max)")
                log.warning(
                    "%s:%d: gate %r gave up after holding %d steps (max); the run goes on",
                    tl.dopesheet.source, a.rg.line, a.rg.text, held,
                )  # fmt: skip
            opened.append(_opening(tl, step, a, label, "until", reason, held=held))
            del tl._armed[g]
            tl._done.add(g)
        elif gate.kind == "when" and tl._sigma < g:
            if not holding and a.result and tl._sigma - a.prev_step >= gate.min_hold:
                last = g == tl._n - 1
                skipped = g - (tl._sigma + 1)
                kind = "stop" if last else "when"
                opened.append(_opening(tl, step, a, label, kind, "condition", skipped=skipped))
                del tl._armed[g]
                tl._done.add(g)
                if last:
                    nxt = None
                else:
                    nxt = g
                    if gate.blend and skipped > 0:
                        tl._blends.append((g, gate.blend, skipped))
                    tl._invalidate()
                break
        elif gate.kind == "when" and tl._sigma >= g:  # reached by the schedule itself
            _require_metrics(tl, a, "over its whole interval")
            del tl._armed[g]
            tl._done.add(g)
    if nxt is not None and nxt >= tl._n:
        nxt = None
    tl._next = nxt
    return opened


def _require_metrics(tl: GatedTimeline, a: ArmedGate, what: str) -> None:
    """Stop with :class:`GateMetricError` if a metric the gate needs was never logged."""
    never = [m for m in a.cond.metrics if m not in tl._last]
    if never:
        raise GateMetricError(
            f"{tl.dopesheet.source}:{a.rg.line}:{a.rg.column}: the gate {a.rg.text!r} needs "
            f"{', '.join(map(repr, never))}, never logged {what}: log it every few steps "
            "(a criterion, trainer.record(name=value), or a declared metric's handler) or fix "
            "the name"
        )


def _opening(
    tl: GatedTimeline, step: int, a: ArmedGate, label: str, kind: str, reason: str, **kw: int
) -> Opening:
    return Opening(step, tl._sigma, a.rg.step, label, kind, reason, line=a.rg.line,
                   text=a.rg.text, **kw)  # fmt: skip

"""One trial of a search, whatever the backend: fill the sheet, run, read the objectives.

A trial that crashes, returns a non-finite objective, lacks an objective or fills the sheet
into an invalid schedule is *failed* (with the reason), and the search goes on; a trial the
backend prunes from the values it reports along the way is *pruned*. Ctrl-C is never caught
here: the backend records the trial as interrupted so a resumed search runs it again.
"""

from __future__ import annotations

import logging
import math
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from mini.search.objectives import Objective
from mini.temporal import Dopesheet, DopesheetError

log = logging.getLogger(__name__)

State = Literal["complete", "pruned", "failed"]


class TrialPruned(Exception):
    """Raised by :meth:`Reporter.report` when the search stops this trial early."""


@dataclass(frozen=True, slots=True)
class Pruning:
    """Stop unpromising trials from ``metric`` as the run reports it every ``every`` steps.

    Attributes:
        metric: the reported value the search compares trials on.
        every: prune on the reports at steps that are multiples of ``every``.
        direction: ``max`` or ``min`` (default: the first objective's when ``metric`` is one
            of them, else ``max``).
        warmup: this many reports of a trial are never pruned on.
        startup: this many trials finish before any is pruned.
        pruner: ``median`` (Optuna's median rule) or ``asha``.
    """

    metric: str
    every: int = 1
    direction: str | None = None
    warmup: int = 1
    startup: int = 3
    pruner: str = "median"


class Report(Protocol):
    def __call__(self, step: int, value: float) -> bool: ...  # True: prune now


class Reporter:
    """Handed to the run function: ``reporter.report(step, {"val_loss": 0.3, ...})`` passes
    intermediate values to the search, which may raise :class:`TrialPruned` to stop the trial.

    ``number`` is the trial's number and ``values`` its search values (for logging). For
    Population Based Training (``scheduler="pbt"``) a run also resumes: it starts at
    ``start_step`` from ``state`` (``None`` at the start of a trial), and passes its state
    with each report (``report(step, metrics, state=...)``) so another trial can continue
    from it. Other searches ignore both, so a run that never resumes works with them as it is.

    Args:
        number: the trial's number.
        values: the trial's search values, by name.
        pruning: how the search prunes (``None``: it does not).
        sink: the backend's pruning decision: ``sink(step, value)`` is true to prune now.
        extra: called with every report (``step``, ``metrics``, ``state``): how a backend
            forwards reports (Ray Tune).
        start_step: the first step this run trains (PBT: after the state it continues).
        state: the state to continue from (PBT), ``None`` at a trial's start.
    """

    def __init__(
        self,
        number: int = 0,
        values: Mapping[str, float] | None = None,
        pruning: Pruning | None = None,
        sink: Report | None = None,
        extra: Callable[[int, dict[str, float], Any], None] | None = None,
        *,
        start_step: int = 0,
        state: Any = None,
    ):
        self.number = number
        self.values = dict(values or {})
        self.pruning = pruning
        self.start_step = start_step
        self.state = state
        self._sink = sink
        self._extra = extra
        self.reports = 0

    def report(self, step: int, metrics: Mapping[str, float], state: Any = None) -> None:
        """Pass the metrics a run measured at ``step``; raises :class:`TrialPruned` when the
        search decides to stop this trial.

        Args:
            step: the step just trained (a resumed run starts at ``step + 1``).
            metrics: named numbers (the objective among them for PBT).
            state: what the run needs to continue after ``step`` (model and optimiser state,
                any picklable object); used by Population Based Training, ignored otherwise.
        """
        self.reports += 1
        clean = {k: float(v) for k, v in metrics.items()}
        if self._extra is not None:
            self._extra(step, clean, state)
        p = self.pruning
        if p is None or self._sink is None or p.metric not in clean:
            return
        if step % p.every:
            return
        value = clean[p.metric]
        if not math.isfinite(value):
            raise TrialPruned(f"{p.metric} is {value} at step {step}")
        if self._sink(step, value):
            raise TrialPruned(f"{p.metric} = {value:.6g} at step {step}")


RunFn = Callable[[Dopesheet, Reporter], Mapping[str, Any]]


@dataclass
class Outcome:
    """How one trial ended: its state, objective values, every metric, the reason it failed or
    was pruned, and its wall time."""

    state: State
    objectives: list[float] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    seconds: float = 0.0


def run_trial(
    sheet: Dopesheet,
    values: Mapping[str, float],
    run: RunFn,
    objectives: list[Objective],
    reporter: Reporter,
    filled: Dopesheet | None = None,
) -> Outcome:
    """Fill ``sheet`` with ``values`` (or run on ``filled``, a PBT lineage), call ``run`` and
    read the objectives. Never raises except for ``KeyboardInterrupt``/``SystemExit`` (a crash
    is a failed trial)."""
    t0 = time.perf_counter()
    try:
        ds = filled if filled is not None else sheet.with_values(values)
    except (DopesheetError, ValueError) as e:
        return Outcome("failed", reason=f"invalid schedule: {e}", seconds=time.perf_counter() - t0)
    try:
        metrics = dict(run(ds, reporter))
    except TrialPruned as e:
        return Outcome("pruned", reason=str(e), seconds=time.perf_counter() - t0)
    except Exception as e:  # a crashing trial is recorded and the search goes on
        log.warning("trial %d failed: %s", reporter.number, e)
        log.debug("%s", traceback.format_exc())
        reason = f"{type(e).__name__}: {e}"
        return Outcome("failed", reason=reason, seconds=time.perf_counter() - t0)
    seconds = time.perf_counter() - t0
    out: list[float] = []
    for o in objectives:
        if o.key not in metrics:
            reason = (
                f"the run returned no {o.key!r} (it returned: {', '.join(metrics) or 'nothing'})"
            )
            return Outcome("failed", metrics=metrics, reason=reason, seconds=seconds)
        try:
            v = float(metrics[o.key])
        except (TypeError, ValueError):
            reason = f"{o.key} = {metrics[o.key]!r} is not a number"
            return Outcome("failed", metrics=metrics, reason=reason, seconds=seconds)
        if not math.isfinite(v):
            return Outcome("failed", metrics=metrics, reason=f"{o.key} is {v}", seconds=seconds)
        out.append(v)
    return Outcome("complete", out, metrics, seconds=seconds)

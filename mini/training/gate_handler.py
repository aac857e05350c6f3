"""Plugs a dopesheet's gates into a run: feeds each step's metrics to the
:class:`~mini.temporal.GatedTimeline`, emits ``gate`` / ``gate:<name>`` when one opens, records
the openings and both clocks in ``metrics.jsonl``, and writes the as-run dopesheet at the end.

It uses only the trainer's public seams (``on``, ``record``, ``bus``, ``timeline``), so
the same handler serves every loop that emits ``step-metrics`` with the step's losses and extras.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mini.temporal import GatedTimeline, GateMetricError, Opening
from mini.temporal.conditions import CustomCondition
from mini.training.checks import ConfigError, did_you_mean
from mini.training.events import GATE, PRE_STEP, STEP_METRICS, TRAIN_END, TRAIN_START, Event

if TYPE_CHECKING:
    from mini.training.trainer import Trainer

log = logging.getLogger(__name__)

AS_RUN = "as-run.csv"


def step_metrics(event: Event) -> dict[str, float]:
    """The numbers a ``step-metrics`` event carries: its losses, then its numeric extras (such as
    ``val-<criterion>`` at a phase end, or what handlers ``record()``-ed)."""
    out = {k: float(v) for k, v in (event.losses or {}).items()}
    for k, v in (event.extras or {}).items():
        if isinstance(v, numbers.Real) and not isinstance(v, bool):
            out[k] = float(v)
    return out


class GateHandler:
    """Drives a gated schedule from the run's metrics (see ``docs/gates.md``).

    Args:
        metrics: metrics the run logs besides its criteria (``total``, each criterion and its
            ``val-`` form are known): name → where it is logged (shown when it never is).
        conditions: custom conditions by name, for ``name()`` in GATE cells; each is called with
            a :class:`~mini.temporal.GateContext` and returns a bool.
        write_as_run: write ``as-run.csv`` (the schedule with gates resolved) into the run folder
            at the end of the run.
        unknown: ``"error"`` (default): a gate metric that is neither a criterion nor declared
            stops the run before step 0; ``"warn"``: a warning (it must still be logged by the
            time the gate needs it).
    """

    def __init__(
        self,
        metrics: Mapping[str, str] | None = None,
        conditions: Mapping[str, CustomCondition] | None = None,
        *,
        write_as_run: bool = True,
        unknown: Literal["error", "warn"] = "error",
    ):
        self.declared = dict(metrics or {})
        self.conditions = dict(conditions or {})
        self.write_as_run = write_as_run
        self.unknown = unknown
        self.trainer: Trainer | None = None
        self.as_run_path: Path | None = None

    @property
    def timeline(self) -> GatedTimeline:
        assert self.trainer is not None
        tl = self.trainer.timeline
        if not isinstance(tl, GatedTimeline):
            raise ConfigError(
                f"GateHandler needs a gated schedule, but {tl.dopesheet.source} has no GATE cells "
                "(add a GATE column, or drop the handler)"
            )
        return tl

    def attach(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.timeline.conditions.update(self.conditions)
        trainer.on(TRAIN_START, self._check_names)
        trainer.on(PRE_STEP, self._record_clock)
        trainer.on(STEP_METRICS, self._observe)
        trainer.on(TRAIN_END, self._finish)

    def known_metrics(self) -> set[str]:
        """Metric names the run can log, known before step 0."""
        assert self.trainer is not None
        crit = set(self.trainer.criteria) | {"total"}
        return crit | {f"val-{c}" for c in crit} | set(self.declared)

    def _check_names(self, event: Event) -> None:
        known = self.known_metrics()
        tl = self.timeline
        problems: list[str] = []
        warnings_: list[str] = []
        for rg in tl.dopesheet.gates:
            where = f"{tl.dopesheet.source}:{rg.line}:{rg.column}"
            for m in rg.gate.metrics:
                if m in known:
                    continue
                hint = f"{did_you_mean(m, known)}; known: {', '.join(sorted(known))}"
                if self.unknown == "warn":
                    warnings_.append(
                        f"{where}: the gate {rg.text!r} reads {m!r}, which is neither a criterion "
                        f"nor a declared metric{hint}: a handler must log it, or the run stops "
                        "when the gate needs it"
                    )
                else:
                    problems.append(
                        f"{where}: the gate {rg.text!r} reads {m!r}, which this run does not log"
                        f"{hint} (declare others with GateHandler(metrics={{{m!r}: 'where it is "
                        "logged'}))"
                    )
            for c in rg.gate.customs:
                if c not in tl.conditions:
                    problems.append(
                        f"{where}: custom condition {c}() is not given"
                        f"{did_you_mean(c, tl.conditions)}: GateHandler(conditions={{{c!r}: fn}})"
                    )
        for w in warnings_:
            log.warning(w)
        if problems:
            raise ConfigError("the gates cannot be followed:\n  " + "\n  ".join(problems))

    def _record_clock(self, event: Event) -> None:
        assert self.trainer is not None
        self.trainer.record(**{"schedule-step": event.state.schedule_step})

    def _observe(self, event: Event) -> None:
        tl = self.timeline
        try:
            openings = tl.observe(event.step, step_metrics(event))
        except GateMetricError as e:  # a metric never logged: name where it should come from
            hint = "; ".join(f"{m}: {w}" for m, w in self.declared.items() if repr(m) in str(e))
            raise type(e)(f"{e}" + (f" (declared: {hint})" if hint else "")) from None
        for o in openings:
            self._opened(event, o)

    def _opened(self, event: Event, o: Opening) -> None:
        assert self.trainer is not None
        trainer = self.trainer
        what = {"until": "held", "when": "moved on", "stop": "ended the run (early stopping)"}[
            o.kind
        ]
        log.info(
            "gate %s (line %d, %r) %s at step %d (schedule step %d)%s",
            o.label, o.line, o.text, what, o.step, o.schedule_step,
            f" after {o.held} held steps ({o.reason})" if o.kind == "until" else "",
        )  # fmt: skip
        trainer.record(gate=o.to_dict())
        for name in (GATE, f"{GATE}:{o.label}"):
            if trainer.bus.has(name):
                trainer.bus.emit(Event(name, trainer, event.state, extras={"gate": o.to_dict()}))

    def _finish(self, event: Event) -> None:
        assert self.trainer is not None
        out = self.trainer.out_dir
        if not self.write_as_run or out is None:
            return
        self.as_run_path = out / AS_RUN
        self.timeline.as_run().to_csv(self.as_run_path)
        log.info("wrote the as-run schedule to %s", self.as_run_path)

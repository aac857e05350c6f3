"""The trainer: walks a Timeline step by step, emits events, and lets properties drive actuators.

Per step (the timing contract, see ``docs/events.md``): ``phase-start[:<phase>]`` →
``action[:<name>]`` (dopesheet actions, then actions fired at runtime) → ``pre-step`` → learning
rates, gradient clips and bound setters from the step's properties → a batch from the phase's
data (moved to the model's device) → forward → criteria weighted by the property of the same
name (weight 0 skips the term and its compute) → backward (→ ``grad-clip``) → non-finite check
→ optimizer step → ``step-metrics`` → at a phase's last step, validation and
``phase-end[:<phase>]`` → checkpoint. ``train-start``/``train-end`` frame the run.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from mini.temporal import Dopesheet, State, Timeline
from mini.training import checkpoint as checkpointing
from mini.training import loop
from mini.training.checks import ConfigError, RunNames, check_run, run_problems
from mini.training.criteria import SpecialCriterion, batch_inputs, default_forward
from mini.training.data import PhaseData, PhaseIterators, model_device, run_timeline
from mini.training.distributed import (
    Distributed,
    slice_phases,
    wrap_model,
)
from mini.training.distributed import setup as dist_setup
from mini.training.engine import Props, ScheduleEngine, is_stateful
from mini.training.events import (
    EventBus,
    Handler,
    Subscription,
)
from mini.training.fit_result import FitResult, seed_everything
from mini.training.guard import FiniteCheck, NonFiniteLossError, PreStepSnapshot
from mini.training.length_change import LengthChange, check_policy
from mini.training.optimise import Precision, StepOptimiser, criterion_kind
from mini.training.progress import TrainingProgress
from mini.training.recorders import MetricsRecorder
from mini.training.result import Result
from mini.training.run_dir import RunDir
from mini.training.validation import CriterionEntry, validate_phase

log = logging.getLogger(__name__)

Forward = Callable[[nn.Module, Any], Any]

__all__ = ["ConfigError", "FitResult", "NonFiniteLossError", "Trainer", "batch_inputs"]


class Trainer:
    """A generic, dopesheet-driven training loop.

    Args:
        model: the model; it returns a :class:`Result` or a plain tensor.
        optimizer: its optimizer (named param groups follow ``lr-<name>`` columns).
        schedule: a :class:`~mini.temporal.Timeline`, a ``Dopesheet`` or a CSV path.
        data: phase name (``None``: before the first named phase) -> :class:`PhaseData`; a
            single ``PhaseData`` serves every phase.
        criteria: property name -> loss term, ``fn(batch, result)``, ``fn(batch, result,
            state)`` or a :class:`SpecialCriterion`; the property is its weight.
        forward: ``forward(model, batch)`` (default :func:`default_forward`).
        out_dir: the run folder (checkpoints, ``metrics.jsonl``, ``run.json``): empty or this
            run's.
        overwrite: clear a folder that holds another run.
        checkpoint_every: checkpoint every N steps (``None``: phase ends and the end only).
        checkpoint_on_phase_end: checkpoint at each phase's last step.
        keep_checkpoints: periodic checkpoints of this run to keep (``None``: all).
        keep_best: keep ``checkpoints/best.pt`` at the best value of this metric.
        best_mode: ``"min"`` or ``"max"``: which value of ``keep_best`` is best.
        metrics_every: a ``metrics.jsonl`` line every N steps (``None``: none).
        progress: show a progress bar (or this :class:`TrainingProgress`).
        seed: seed torch, numpy and ``random`` first.
        finite_check: what the non-finite guard checks: ``"grads"``, ``"loss"``, ``"params"``.
        accumulate: micro-batches per optimizer step (gradient accumulation).
        precision: ``"32"``, ``"bf16"`` or ``"16"`` (autocast).
        distributed: the process group (``"auto"``: join ``torchrun``'s; ``None``: none).
        steps_per_epoch: what ``ep`` means in the dopesheet's steps (default: the loader's length).
        total_steps: what ``%`` means in the dopesheet's steps.
        ddp: keyword arguments for ``DistributedDataParallel``.
        on_length_change: resuming with another schedule (another length, an edited CSV):
            ``"adopt"`` it after the saved step or ``"keep"`` the checkpoint's
            (``docs/adapters.md``).
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        schedule: Timeline | Dopesheet | str | os.PathLike[str],
        data: dict[str | None, PhaseData] | PhaseData,
        criteria: dict[str, Callable[..., Tensor] | SpecialCriterion] | None = None,
        *,
        forward: Forward | None = None,
        out_dir: str | os.PathLike[str] | RunDir | None = None,
        overwrite: bool = False,
        checkpoint_every: int | None = None,
        checkpoint_on_phase_end: bool = True,
        keep_checkpoints: int | None = 3,
        keep_best: str | None = None,
        best_mode: Literal["min", "max"] = "min",
        metrics_every: int | None = 1,
        progress: bool | TrainingProgress = True,
        seed: int | None = None,
        finite_check: FiniteCheck = "grads",
        accumulate: int = 1,
        precision: Precision = "32",
        distributed: Distributed | Literal["auto"] | None = "auto",
        steps_per_epoch: int | None = None,
        total_steps: int | None = None,
        ddp: dict[str, Any] | None = None,
        on_length_change: LengthChange = "adopt",
    ):
        if seed is not None:
            seed_everything(seed)
        if accumulate < 1:
            raise ValueError(f"accumulate must be >= 1, got {accumulate}")
        if precision not in ("32", "bf16", "16"):
            raise ValueError(f"precision must be '32', 'bf16' or '16', got {precision!r}")
        if best_mode not in ("min", "max"):
            raise ValueError(f"best_mode must be 'min' or 'max', got {best_mode!r}")
        self.model = model
        self.optimizer = optimizer
        self.on_length_change = check_policy(on_length_change)
        self._own_timeline = not isinstance(schedule, Timeline)  # "keep" may rebuild it
        self.timeline = run_timeline(schedule, data, steps_per_epoch, total_steps)
        if isinstance(data, PhaseData):
            data = {ph.name: data for ph in self.timeline.dopesheet.phases}
        self.dist = dist_setup() if distributed == "auto" else (distributed or Distributed())
        self._distributed = self.dist.active
        if self.dist.active and not self.dist.is_main:  # only rank 0 writes files
            out_dir, progress = None, False
        self.data: dict[str | None, PhaseData] = slice_phases(dict(data), self.dist)
        self.criteria = dict(criteria or {})
        self.forward = forward or default_forward
        self.run: RunDir | None = out_dir if isinstance(out_dir, RunDir) else None
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.overwrite = overwrite
        self.checkpoint_every = checkpoint_every
        self.checkpoint_on_phase_end = checkpoint_on_phase_end
        self.retention = checkpointing.Retention(keep_checkpoints)
        self.keep_best, self.best_mode = keep_best, best_mode
        self.best: dict[str, Any] | None = None  # {"metric", "value", "step", "path"}
        self.finite_check: FiniteCheck = finite_check
        self.accumulate = accumulate
        self.precision: Precision = precision
        self.device = self.dist.device if self.dist.active else model_device(model)
        self.engine = ScheduleEngine(self.timeline, source=self)
        self.engine.trainer = self
        self.current_step = self.timeline.state.step
        self.last_checkpoint: Path | None = None
        self._stateful = self.engine.stateful  # handler/criterion state checkpoints keep
        self._extras: dict[str, Any] = {}
        self._stop: str | None = None
        self._interrupt = False
        self._completed: int | None = None  # last completed step (after resume or steps)
        self._saved_step: int | None = None
        self._t_start = time.perf_counter()
        self._steps_this_fit = 0
        self._iters = PhaseIterators(self.data)
        self._snapshot = PreStepSnapshot(model, finite_check)
        self._optimiser = StepOptimiser(
            model, wrap_model(model, self.dist, **(ddp or {})), optimizer, self.forward, accumulate=accumulate, precision=precision,
            finite_check=finite_check, device=self.device, snapshot=self._snapshot,
        )  # fmt: skip
        for name, crit in self.criteria.items():
            if isinstance(crit, SpecialCriterion):
                self._track(f"criterion:{name}", crit)
                crit.attach(self)
        self.metrics: MetricsRecorder | None = None
        if metrics_every:
            path = self.out_dir / "metrics.jsonl" if self.out_dir is not None else None
            self.metrics = MetricsRecorder(path, every=metrics_every)
            self.add(self.metrics, key="metrics")
        self.progress: TrainingProgress | None = (
            progress
            if isinstance(progress, TrainingProgress)
            else TrainingProgress()
            if progress
            else None
        )
        if self.progress is not None:
            self.add(self.progress)

    @property
    def console(self):
        """The console the progress bar draws on: ``trainer.console.print(...)`` prints above a
        live bar without breaking it (a plain ``print()`` is redirected there too)."""
        from rich.console import Console

        return self.progress.console if self.progress is not None else Console(stderr=True)

    @property
    def props(self) -> Props:
        """The current step's property values (a missing name says "did you mean")."""
        return Props(self.timeline.state.props)

    @property
    def bus(self) -> EventBus:
        """The event bus (the schedule engine's)."""
        return self.engine.bus

    @property
    def fired(self) -> list[tuple[int, str]]:
        """Actions fired at runtime with :meth:`fire`, with their step."""
        return self.engine.fired

    @fired.setter
    def fired(self, value: list[tuple[int, str]]) -> None:
        self.engine.fired = value

    # -- wiring -------------------------------------------------------------------------------------
    def on(
        self, event: str, handler: Handler, every: int | None = None, reads: Iterable[str] = (),
        optional: bool = False, replay: bool = False,
    ) -> Subscription:  # fmt: skip
        """Call ``handler(event)`` for ``event`` (step events: only on steps divisible by
        ``every``); returns a subscription whose ``remove()`` unsubscribes it. ``reads`` names
        dopesheet properties the handler reads (checked before step 0, not reported unused).
        A ``phase-*:<name>``/``action:<name>`` event whose name the dopesheet lacks is an error
        before step 0 unless ``optional=True`` (e.g. an action you fire at runtime).
        ``replay=True`` (action events): on resume the handler runs again for every time its
        action fired before the checkpoint (``event.replayed`` is true), restoring side effects
        a checkpoint does not hold, such as a frozen layer.

        Args:
            event: the event's name.
            handler: called with the :class:`Event`.
            every: step events only: call it on steps divisible by this.
            reads: dopesheet properties the handler reads.
            optional: the ``<event>:<name>`` may be absent from the dopesheet.
            replay: action events: call it again on resume for each time its action fired.
        """
        return self.engine.on(event, handler, every, reads, optional, replay)

    def add(self, *handlers: Any, key: str | None = None) -> None:
        """Attach handler objects (anything with ``attach(trainer)``; recorders, plotters...).
        ``key`` names the handler's state in checkpoints (one handler per key).

        Args:
            handlers: objects with ``attach(trainer)``.
            key: the name of their state in checkpoints.
        """
        if key is not None and len(handlers) > 1:
            raise ValueError(
                f"key={key!r} names one handler's checkpoint state; got {len(handlers)}"
            )
        for h in handlers:
            if _stateful(h):
                self._track(key, h)
            h.attach(self)

    def bind(self, prop: str, setter: Callable[[float], Any]) -> None:
        """Drive an actuator from a property: ``setter(value)`` before each step's forward
        whenever the value changed (and at the first step of every ``fit``).

        Args:
            prop: the dopesheet property.
            setter: called with its value.
        """
        self.engine.bind(prop, setter)

    def record(self, **values: Any) -> None:
        """Add JSON-able values to this step's metrics record (under ``extras``).

        Args:
            values: name -> JSON-able value.
        """
        self._extras.update(values)

    def stop(self, reason: str) -> None:
        """Stop cleanly after the current step (a checkpoint is written).

        Args:
            reason: why (``FitResult.stopped``).
        """
        self._stop = reason

    def fire(self, action: str) -> None:
        """Fire ``action`` at runtime: its ``action``/``action:<name>`` events run at the start of
        the next step, after that step's dopesheet actions (the live explorer's buttons).

        Args:
            action: the action's name.
        """
        self.engine.fire(action)

    def track(self, key: str, obj: Any) -> None:
        """Have checkpoints keep ``obj``'s ``state_dict()`` under ``key`` (for state that is not
        a criterion, handler or data loader the trainer already knows).

        Args:
            key: the name in checkpoints.
            obj: anything with ``state_dict``/``load_state_dict``.
        """
        if not _stateful(obj):
            raise TypeError(f"{type(obj).__name__} has no state_dict()/load_state_dict()")
        self._track(key, obj)

    def _track(self, key: str | None, obj: Any) -> None:
        self.engine.track(key, obj)

    @property
    def steps_per_second(self) -> float:
        dt = time.perf_counter() - self._t_start
        return self._steps_this_fit / dt if dt > 0 else 0.0

    # -- checks before step 0 -------------------------------------------------------------------------
    def _names(self) -> RunNames:
        e = self.engine
        return RunNames(
            self.criteria, e.bindings, e.reads, e.bus.subscriptions(), self.data,
            e.runtime_actions,
        )  # fmt: skip

    def check(self) -> None:
        """Raise :class:`ConfigError` listing every property, phase, action or data the run
        needs but the dopesheet lacks (with "did you mean"); warn about dopesheet properties
        that nothing reads."""
        check_run(self.timeline.dopesheet, self._names(), self.optimizer)

    def adopt(self, dopesheet: Dopesheet) -> list[str]:
        """Adopt an edited dopesheet from the next step on (``Timeline.reload``: every property
        continues smoothly from its current value). The edit is checked first like the original:
        a :class:`ConfigError` (and no change) if it lacks something this run uses. Returns the
        names of the properties whose schedule changed.

        Args:
            dopesheet: the edited dopesheet.
        """
        problems = run_problems(dopesheet, self._names())
        if problems:
            raise ConfigError("the edited dopesheet cannot be used:\n  " + "\n  ".join(problems))
        changed = self.timeline.reload(dopesheet)
        self._prepare()
        return changed

    # -- the loop -------------------------------------------------------------------------------------
    def fit(self, resume: str | os.PathLike[str] | None = None) -> FitResult:
        """Run from the start, or from a checkpoint (file or folder; a corrupt newest file falls
        back to the previous intact one) to the last step.

        Args:
            resume: a checkpoint file or run folder (``None``: from the start).
        """
        return loop.fit(self, resume)

    def _on_sigint(self) -> bool:
        """First Ctrl-C: finish the step, checkpoint, stop (``True``: handled). Second: abort."""
        if self._interrupt:
            return False
        self._interrupt = True
        log.warning("Ctrl-C: stopping after this step (press again to abort at once)")
        return True

    def _prepare(self) -> None:
        """Precompute per-step lookups (param groups → lr/clip property, criteria list)."""
        props = set(self.timeline.dopesheet.specs)
        self.engine.drive([self.optimizer])
        self._optimiser.prepare(self._criteria_entries(), props)

    def _criteria_entries(self) -> list[CriterionEntry]:
        return [(name, crit, criterion_kind(crit)) for name, crit in self.criteria.items()]

    def _emit(self, name: str, state: State, **fields: Any) -> None:
        self.engine.emit(name, state, **fields)

    def _run_step(self, state: State) -> None:
        loop.run_step(self, state)

    def validate(self, state: State | None = None) -> tuple[Result | None, dict[str, float]]:
        """Validation on the phase's ``val`` batch (or averaged over its ``val_loader``), in
        eval mode without gradients: each criterion's unweighted value and the weighted
        ``total``. Works at any time, before or after ``fit()``.

        Args:
            state: the step whose phase and weights to use (default: the current one).
        """
        state = state or self.timeline.state
        return validate_phase(
            self.model, self.forward, self.data.get(state.phase), self._criteria_entries(),
            state, self, self.device,
        )  # fmt: skip

    # -- checkpoints (see mini.training.checkpointing) ------------------------------------------------
    def checkpoint_state(self, completed: int | None = None) -> dict[str, Any]:
        """Everything needed to continue exactly after step ``completed``.

        Args:
            completed: the last completed step (default: the current one).
        """
        return checkpointing.capture(self, completed)

    def save_checkpoint(self, kind: str = "step", label: str | None = None) -> Path:
        """Write a checkpoint to ``out_dir/checkpoints`` atomically, named by steps trained;
        periodic ones beyond ``keep_checkpoints`` (this run's own) are deleted.

        Args:
            kind: ``step``, ``phase``, ``final``, ``best`` or ``fault``.
            label: added to the file's name.
        """
        payload = self.checkpoint_state()
        path = checkpointing.write(self, payload, kind, payload["step"] + 1, label)
        self._saved_step = payload["step"]
        return path

    def load(self, path: str | os.PathLike[str]) -> int:
        """Restore a checkpoint; the next ``fit()`` continues after its step. Returns that step.

        Args:
            path: a checkpoint file or run folder.
        """
        return checkpointing.restore(self, path)


def _stateful(obj: Any) -> bool:
    """Handler/criterion state a checkpoint keeps (model and optimizer are saved apart)."""
    return is_stateful(obj)

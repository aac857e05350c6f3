"""The trainer: walks a Timeline step by step, emits events, and lets properties drive actuators.

Per step: ``phase-start[:<phase>]`` → ``action[:<name>]`` → ``pre-step`` → learning rates and
bound setters from the step's properties → a batch from the phase's data → forward → criteria
weighted by the property of the same name (weight 0 skips the term and its compute) → backward
(→ optional ``grad-clip``) → optimizer step → ``step-metrics`` → at a phase's last step,
validation inference and ``phase-end[:<phase>]``. ``train-start``/``train-end`` frame the run.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from mini.temporal import Dopesheet, State, Timeline
from mini.training.checkpoint import (
    checkpoint_files,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from mini.training.criteria import SpecialCriterion, batch_inputs
from mini.training.data import PhaseData, PhaseIterators, stateful
from mini.training.events import (
    ACTION,
    PHASE_END,
    PHASE_START,
    PRE_STEP,
    STEP_METRICS,
    TRAIN_END,
    TRAIN_START,
    Event,
    EventBus,
    Handler,
)
from mini.training.modes import eval_mode
from mini.training.progress import TrainingProgress
from mini.training.recorders import MetricsRecorder
from mini.training.result import Result, as_result

log = logging.getLogger(__name__)

Forward = Callable[[nn.Module, Any], Any]
_BUILTIN_PROPS = ("lr", "grad-clip")


class ConfigError(ValueError):
    """The run is mis-wired (missing properties or data); raised before step 0."""


class NonFiniteLossError(RuntimeError):
    """A loss became NaN/inf. ``checkpoint`` holds the last good weights."""

    def __init__(self, message: str, step: int, phase: str | None, terms: list[str], checkpoint):
        super().__init__(message)
        self.step, self.phase, self.terms, self.checkpoint = step, phase, terms, checkpoint


class ResumeWarning(UserWarning):
    """Resuming with a dopesheet that was edited at steps already trained."""


@dataclass
class FitResult:
    """How a ``fit()`` call ended."""

    last_step: int
    steps_run: int
    seconds: float
    stopped: str | None = None
    interrupted: bool = False
    checkpoint: Path | None = None

    @property
    def steps_per_second(self) -> float:
        return self.steps_run / self.seconds if self.seconds > 0 else float("nan")


def default_forward(model: nn.Module, batch: Any) -> Any:
    """``model(batch_inputs(batch))``."""
    return model(batch_inputs(batch))


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    """A generic, dopesheet-driven training loop.

    ``data`` maps each phase name (``None`` for steps before the first named phase) to a
    :class:`PhaseData`; a single ``PhaseData`` serves every phase. ``criteria`` maps property
    names to loss terms: ``callable(batch, result) -> Tensor`` or a :class:`SpecialCriterion`.
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
        out_dir: str | os.PathLike[str] | None = None,
        checkpoint_every: int | None = None,
        checkpoint_on_phase_end: bool = True,
        keep_checkpoints: int | None = 3,
        metrics_every: int | None = 1,
        progress: bool = True,
        seed: int | None = None,
    ):
        if seed is not None:
            seed_everything(seed)
        self.model = model
        self.optimizer = optimizer
        self.timeline = schedule if isinstance(schedule, Timeline) else Timeline(schedule)
        if isinstance(data, PhaseData):
            data = {ph.name: data for ph in self.timeline.dopesheet.phases}
        self.data: dict[str | None, PhaseData] = dict(data)
        self.criteria = dict(criteria or {})
        self.forward = forward or default_forward
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.checkpoint_every = checkpoint_every
        self.checkpoint_on_phase_end = checkpoint_on_phase_end
        self.keep_checkpoints = keep_checkpoints
        self.bus = EventBus()
        self.step = self.timeline.state.step
        self._bindings: dict[str, list[Callable[[float], Any]]] = {}
        self._reads: set[str] = set()
        self._stateful: dict[str, Any] = {}
        self._extras: dict[str, Any] = {}
        self._stop: str | None = None
        self._interrupt = False
        self._completed: int | None = None  # last completed step (after resume or steps)
        self._t_start = time.perf_counter()
        self._steps_this_fit = 0
        self._iters = PhaseIterators(self.data)
        self.last_checkpoint: Path | None = None
        self._saved_step: int | None = None

        for name, crit in self.criteria.items():
            if isinstance(crit, SpecialCriterion):
                self._track(f"criterion:{name}", crit)
                crit.attach(self)
        self.metrics: MetricsRecorder | None = None
        if metrics_every:
            path = self.out_dir / "metrics.jsonl" if self.out_dir is not None else None
            self.metrics = MetricsRecorder(path, every=metrics_every)
            self.add(self.metrics, key="metrics")
        if progress:
            self.add(TrainingProgress())

    # -- wiring -------------------------------------------------------------------------------------
    def on(
        self, event: str, handler: Handler, every: int | None = None, reads: Iterable[str] = ()
    ) -> Handler:
        """Call ``handler(event)`` for ``event`` (step events: only on steps divisible by
        ``every``). ``reads`` names dopesheet properties the handler reads (so they are checked
        before step 0 and not reported as unused)."""
        self.bus.on(event, handler, every)
        self._reads.update(reads)
        owner = getattr(handler, "__self__", handler)
        if _stateful(owner) and all(owner is not o for o in self._stateful.values()):
            self._track(None, owner)
        return handler

    def add(self, *handlers: Any, key: str | None = None) -> None:
        """Attach handler objects (anything with ``attach(trainer)``; recorders, plotters...)."""
        for h in handlers:
            if _stateful(h):
                self._track(key, h)
            h.attach(self)

    def bind(self, prop: str, setter: Callable[[float], Any]) -> None:
        """Drive an actuator from a property: ``setter(value)`` before each step's forward
        whenever the value changed (and at the first step of every ``fit``)."""
        self._bindings.setdefault(prop, []).append(setter)

    def record(self, **values: Any) -> None:
        """Add JSON-able values to this step's metrics record (under ``extras``)."""
        self._extras.update(values)

    def stop(self, reason: str) -> None:
        """Stop cleanly after the current step (a checkpoint is written)."""
        self._stop = reason

    def track(self, key: str, obj: Any) -> None:
        """Have checkpoints keep ``obj``'s ``state_dict()`` under ``key`` (for state that is not
        a criterion, handler or data loader the trainer already knows)."""
        if not _stateful(obj):
            raise TypeError(f"{type(obj).__name__} has no state_dict()/load_state_dict()")
        self._track(key, obj)

    def _track(self, key: str | None, obj: Any) -> None:
        if any(obj is o for o in self._stateful.values()):
            return
        if key is None:
            n = sum(1 for k in self._stateful if k.startswith(type(obj).__qualname__ + "#"))
            key = f"{type(obj).__qualname__}#{n}"
        self._stateful[key] = obj

    @property
    def steps_per_second(self) -> float:
        dt = time.perf_counter() - self._t_start
        return self._steps_this_fit / dt if dt > 0 else 0.0

    # -- checks before step 0 -------------------------------------------------------------------------
    def check(self) -> None:
        """Raise :class:`ConfigError` listing every property or phase the run needs but the
        dopesheet or data lack; warn about dopesheet properties that nothing reads."""
        ds = self.timeline.dopesheet
        props = set(ds.props)
        problems: list[str] = []
        for name in self.criteria:
            if name not in props:
                problems.append(
                    f"criterion {name!r} has no column in {ds.source}: add a column {name!r} "
                    "(its value is the term's weight) or remove the criterion"
                )
        for name in sorted(set(self._bindings) | self._reads):
            if name not in props:
                problems.append(
                    f"property {name!r} is bound/read by this run but missing from {ds.source}: "
                    f"add a column {name!r}"
                )
        for ph in ds.phases:
            if ph.name not in self.data:
                label = "steps before the first named phase" if ph.name is None else repr(ph.name)
                problems.append(
                    f"phase {label} (steps {ph.start}–{ph.end}) has no data: pass "
                    f"data[{ph.name!r}] = PhaseData(train=..., val=...)"
                )
        if problems:
            raise ConfigError("the run cannot start:\n  " + "\n  ".join(problems))
        used = set(self.criteria) | set(self._bindings) | self._reads | set(_BUILTIN_PROPS)
        used |= {p for p in props if p.startswith("lr-")}
        unused = sorted(props - used)
        if unused:
            warnings.warn(
                f"{ds.source}: propert{'ies' if len(unused) > 1 else 'y'} "
                f"{', '.join(map(repr, unused))} not read by anything in this run (typo?)",
                stacklevel=3,
            )

    # -- the loop -------------------------------------------------------------------------------------
    def fit(self, resume: str | os.PathLike[str] | None = None) -> FitResult:
        """Run from the start, or from a checkpoint (file or folder) to the last step."""
        if resume is not None:
            self.load(resume)
        self.check()
        tl = self.timeline
        n = len(tl)
        if self._completed is None:
            state: State | None = tl.seek(0) if tl.state.step != 0 else tl.state
        else:
            state = tl.step() if self._completed + 1 < n else None
        self._prepare()
        self._t_start = time.perf_counter()
        self._steps_this_fit = 0
        result = FitResult(self._completed if self._completed is not None else -1, 0, 0.0)
        self.model.train()
        restore_sigint = self._install_sigint()
        try:
            if state is not None:
                self._emit(TRAIN_START, state)
                while True:
                    self._run_step(state)
                    self._completed = state.step
                    self._steps_this_fit += 1
                    if self._stop or self._interrupt or state.step + 1 >= n:
                        break
                    state = tl.step()
                result.last_step = self._completed
                if self.out_dir is not None and self._saved_step != self._completed:
                    self.save_checkpoint()
                result.checkpoint = self.last_checkpoint
                self._emit(TRAIN_END, tl.state)
        finally:
            restore_sigint()
        result.steps_run = self._steps_this_fit
        result.seconds = time.perf_counter() - self._t_start
        result.stopped = self._stop
        result.interrupted = self._interrupt
        if self._interrupt:
            log.warning(
                "interrupted after step %d; checkpoint: %s", result.last_step, result.checkpoint
            )
        elif self._stop:
            log.warning("stopped after step %d: %s", result.last_step, self._stop)
        return result

    def _prepare(self) -> None:
        """Precompute per-step lookups (param groups → lr property, criteria list)."""
        props = set(self.timeline.dopesheet.props)
        self._lr_targets = []
        for group in self.optimizer.param_groups:
            name = group.get("name")
            prop = f"lr-{name}" if name is not None and f"lr-{name}" in props else "lr"
            if prop in props:
                self._lr_targets.append((group, prop))
        self._criteria_list = [
            (name, crit, isinstance(crit, SpecialCriterion)) for name, crit in self.criteria.items()
        ]
        self._binding_list = list(self._bindings.items())
        self._last_bound: dict[str, float] = {}
        self._clip = "grad-clip" in props
        try:
            self._device = next(self.model.parameters()).device
        except StopIteration:
            self._device = torch.device("cpu")
        self._params = [p for g in self.optimizer.param_groups for p in g["params"]]
        self._plain_zero_grad = type(self.optimizer).zero_grad is torch.optim.Optimizer.zero_grad

    def _emit(self, name: str, state: State, **fields: Any) -> None:
        bus = self.bus
        if bus.has(name):
            bus.emit(Event(name, self, state, **fields))

    def _emit_named(self, base: str, name: str | None, state: State, **fields: Any) -> None:
        self._emit(base, state, **fields)
        if name is not None:
            self._emit(f"{base}:{name}", state, **fields)

    def _run_step(self, state: State) -> None:
        self.step = step = state.step
        props = state.props
        if state.is_phase_start:
            self._emit_named(PHASE_START, state.phase, state)
        for action in state.actions:
            self._emit_named(ACTION, action, state, action=action)
        self._emit(PRE_STEP, state)

        for group, prop in self._lr_targets:
            group["lr"] = props[prop]
        last = self._last_bound
        for prop, setters in self._binding_list:
            value = props[prop]
            if last.get(prop) != value:
                for setter in setters:
                    setter(value)
                last[prop] = value

        batch = self._iters.next(state.phase)
        if self._device.type != "cpu":
            batch = _to_device(batch, self._device)
        result = as_result(self.forward(self.model, batch))
        total: Tensor | None = None
        terms: dict[str, Tensor] = {}
        for name, crit, special in self._criteria_list:
            weight = props[name]
            if weight == 0:
                continue
            term = crit(self.model, self) if special else crit(batch, result)
            terms[name] = term
            total = weight * term if total is None else total + weight * term
        losses: dict[str, float] = {}
        if total is not None:
            losses["total"] = total.item()
            for name, term in terms.items():
                losses[name] = term.item()
            if not math.isfinite(losses["total"]):
                self._non_finite(state, losses)
            if self._plain_zero_grad:
                for p in self._params:  # what zero_grad(set_to_none=True) does, minus its
                    p.grad = None  # per-call profiler bookkeeping (~50 µs on a tiny model)
            else:
                self.optimizer.zero_grad(set_to_none=True)
            total.backward()
            if self._clip and props["grad-clip"] > 0:
                torch.nn.utils.clip_grad_norm_(self._params, props["grad-clip"])
            self.optimizer.step()

        validation, val_losses = None, {}
        if state.is_phase_end:
            validation, val_losses = self.validate(state)
            self._extras.update({f"val-{k}": v for k, v in val_losses.items()})
        # Handlers may still record() into this step's extras while step-metrics is emitted.
        extras = self._extras
        self._emit(STEP_METRICS, state, batch=batch, result=result, losses=losses, extras=extras)
        self._extras = {}
        if state.is_phase_end:
            val_batch = self.data[state.phase].val if state.phase in self.data else None
            self._emit_named(
                PHASE_END, state.phase, state, batch=val_batch, validation=validation,
                losses=val_losses,
            )  # fmt: skip
        every = self.checkpoint_every
        if self.out_dir is not None and (
            (every and (step + 1) % every == 0)
            or (state.is_phase_end and self.checkpoint_on_phase_end)
        ):
            self._completed = step
            self.save_checkpoint()

    def validate(self, state: State | None = None) -> tuple[Result | None, dict[str, float]]:
        """Validation inference on the phase's ``val`` batch (eval mode, no gradients), plus
        each criterion's unweighted value on it and the weighted ``total``."""
        state = state or self.timeline.state
        pd = self.data.get(state.phase)
        if pd is None or pd.val is None:
            return None, {}
        val = pd.val if self._device.type == "cpu" else _to_device(pd.val, self._device)
        losses: dict[str, float] = {}
        with eval_mode(self.model):
            result = as_result(self.forward(self.model, val))
            total = 0.0
            for name, crit, special in self._criteria_list:
                weight = state.props[name]
                if weight == 0:
                    continue
                value = float(crit(self.model, self) if special else crit(val, result))
                losses[name] = value
                total += weight * value
            if losses:
                losses = {"total": total, **losses}
        return result.detach(), losses

    def _non_finite(self, state: State, losses: dict[str, float]) -> None:
        bad = [k for k, v in losses.items() if k != "total" and not math.isfinite(v)]
        path = None
        if self.out_dir is not None:
            path = self.save_checkpoint(
                completed=state.step - 1, name=f"fault-step-{state.step}.pt"
            )
        where = f"the weighted sum (terms: {', '.join(f'{k}={v:.3g}' for k, v in losses.items())})"
        if bad:
            where = ", ".join(f"term {k!r} = {losses[k]} (weight {state.props[k]:g})" for k in bad)
        raise NonFiniteLossError(
            f"loss became non-finite at step {state.step} in phase {state.phase!r}: {where}. "
            + (
                f"The last good state (before this step) is saved in {path}."
                if path
                else "No checkpoint written (no out_dir)."
            ),
            state.step,
            state.phase,
            bad or ["total"],
            path,
        )

    # -- checkpoints ----------------------------------------------------------------------------------
    def checkpoint_state(self, completed: int | None = None) -> dict[str, Any]:
        """Everything needed to continue exactly after step ``completed``."""
        completed = self._completed if completed is None else completed
        tl_state = self.timeline.state_dict()
        tl_state["step"] = max(completed if completed is not None else 0, 0)
        return {
            "format": 1,
            "step": -1 if completed is None else completed,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "timeline": tl_state,
            "dopesheet_hash": self.timeline.dopesheet.content_hash,
            "data": self._iters.state_dict(),
            "rng": rng_state(),
            "handlers": {k: obj.state_dict() for k, obj in self._stateful.items()},
        }

    def save_checkpoint(self, completed: int | None = None, name: str | None = None) -> Path:
        """Write a checkpoint to ``out_dir/checkpoints`` atomically; keep the newest few."""
        if self.out_dir is None:
            raise ValueError("save_checkpoint needs out_dir")
        payload = self.checkpoint_state(completed)
        folder = self.out_dir / "checkpoints"
        path = save_checkpoint(folder / (name or f"step-{payload['step']:07d}.pt"), payload)
        self.last_checkpoint = path
        self._saved_step = payload["step"]
        if self.keep_checkpoints and name is None:
            for old in checkpoint_files(folder)[: -self.keep_checkpoints]:
                old.unlink(missing_ok=True)
        return path

    def load(self, path: str | os.PathLike[str]) -> int:
        """Restore a checkpoint; the next ``fit()`` continues after its step. Returns that step."""
        ckpt = load_checkpoint(path, map_location=_model_device(self.model))
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        edited = ckpt["dopesheet_hash"] != self.timeline.dopesheet.content_hash
        current = self.timeline.dopesheet
        changed = self.timeline.load_state_dict(ckpt["timeline"])
        completed = int(ckpt["step"])
        if edited:
            self._warn_edits(ckpt["timeline"], current, completed, changed)
        self._iters.load_state_dict(ckpt["data"])
        for key, obj in self._stateful.items():
            if key in ckpt["handlers"]:
                obj.load_state_dict(ckpt["handlers"][key])
            else:
                log.warning("checkpoint has no state for %s; it starts fresh", key)
        set_rng_state(ckpt["rng"])
        if completed < 0:
            self._completed = None
            self.timeline.seek(0)
        else:
            self._completed = completed
        self.step = max(completed, 0)
        return completed

    def _warn_edits(self, saved: dict[str, Any], current: Dopesheet, step: int, changed: list[str]):
        old = Dopesheet.from_dict(saved["eras"][-1]["dopesheet"])
        old_rows = {r.step: r for r in old.rows if r.step <= step}
        new_rows = {r.step: r for r in current.rows if r.step <= step}
        past: list[str] = []
        for s in sorted(set(old_rows) | set(new_rows)):
            a, b = old_rows.get(s), new_rows.get(s)
            if (
                a is None
                or b is None
                or (a.phase, a.actions, a.values) != (b.phase, b.actions, b.values)
            ):
                lines = ",".join(map(str, (b or a).lines))  # type: ignore[union-attr]
                past.append(f"line {lines} (step {s}{', removed' if b is None else ''})")
        msg = f"{current.source} changed since the checkpoint at step {step}. "
        if past:
            msg += (
                f"Edits to steps already trained cannot apply and are ignored: {'; '.join(past)}. "
            )
        msg += (
            f"Edits after step {step} apply"
            + (f" (changed: {', '.join(changed)})" if changed else "")
            + "."
        )
        warnings.warn(msg, ResumeWarning, stacklevel=3)

    # -- Ctrl-C ---------------------------------------------------------------------------------------
    def _install_sigint(self) -> Callable[[], None]:
        """First Ctrl-C: finish the step, checkpoint, stop. Second: the usual KeyboardInterrupt."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum, frame):
            if self._interrupt:
                signal.signal(signal.SIGINT, previous)
                raise KeyboardInterrupt
            self._interrupt = True
            log.warning("Ctrl-C: stopping after this step (press again to abort at once)")

        signal.signal(signal.SIGINT, handler)
        return lambda: signal.signal(signal.SIGINT, previous)


def _stateful(obj: Any) -> bool:
    """Handler/criterion state a checkpoint keeps (model and optimizer are saved apart)."""
    return stateful(obj) and not isinstance(obj, nn.Module | torch.optim.Optimizer)


def _model_device(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, tuple | list):
        return type(batch)(_to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch

"""The trainer's loop: :meth:`Trainer.fit <mini.training.trainer.Trainer.fit>` walks the
timeline from the start or a checkpoint, and each step runs the timing contract that
:mod:`mini.training.trainer`'s docstring spells out (and ``docs/events.md``). Kept apart from
the class so that it holds the run's configuration and wiring, and this module what a run does
with them.
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING

from mini.training import checkpoint as checkpointing
from mini.training.distributed import barrier, mean_losses, sync_from_main
from mini.training.events import PHASE_END, STEP_METRICS, TRAIN_END, TRAIN_START
from mini.training.fit_result import FitResult
from mini.training.guard import non_finite_error
from mini.training.interrupt import install_sigint
from mini.training.optimise import NonFiniteValues

if TYPE_CHECKING:
    from mini.temporal import State
    from mini.training.trainer import Trainer

log = logging.getLogger("mini.training.trainer")  # the run's messages come from the trainer


def fit(trainer: Trainer, resume: str | os.PathLike[str] | None) -> FitResult:
    """Run ``trainer`` from the start or from ``resume`` to the last step (:meth:`Trainer.fit`).

    Args:
        trainer: the trainer.
        resume: a checkpoint file or run folder (``None``: from the start).
    """
    trainer.check()
    if resume is not None:
        trainer.load(resume)
    checkpointing.claim(trainer, resuming=resume is not None)
    tl = trainer.timeline
    if trainer._completed is None:
        state: State | None = tl.seek(0) if tl.state.step != 0 else tl.state
    else:
        state = tl.step() if trainer._completed + 1 < len(tl) else None
    trainer._prepare()
    trainer._t_start = time.perf_counter()
    trainer._steps_this_fit = 0
    result = FitResult(trainer._completed if trainer._completed is not None else -1, 0, 0.0)
    trainer.model.train()
    restore_sigint = install_sigint(trainer._on_sigint)
    try:
        if state is not None:
            trainer._emit(TRAIN_START, state)
            while True:
                trainer._run_step(state)
                trainer._completed = state.step
                trainer._steps_this_fit += 1
                if trainer._stop or trainer._interrupt or state.step + 1 >= len(tl):
                    break
                state = tl.step()
            result.last_step = trainer._completed
            if trainer.out_dir is not None and trainer._saved_step != trainer._completed:
                trainer.save_checkpoint()
            result.checkpoint = trainer.last_checkpoint
            trainer._emit(TRAIN_END, tl.state)
            barrier(trainer.dist)
    finally:
        restore_sigint()
    result.steps_run = trainer._steps_this_fit
    result.seconds = time.perf_counter() - trainer._t_start
    result.stopped, result.interrupted = trainer._stop, trainer._interrupt
    if trainer._interrupt:
        log.warning(
            "interrupted after step %d; checkpoint: %s", result.last_step, result.checkpoint
        )
    elif trainer._stop:
        log.warning("stopped after step %d: %s", result.last_step, trainer._stop)
    return result


def run_step(trainer: Trainer, state: State) -> None:
    """One step of the timing contract, ``state`` being the step's.

    Args:
        trainer: the trainer.
        state: the step's state on the timeline.
    """
    trainer.current_step = state.step
    trainer._snapshot.take(trainer._iters.cycle_state(state.phase))
    engine = trainer.engine
    queued = None
    if state.is_phase_start or state.actions or engine.queued or engine.clamp:
        queued = engine.enter_events(state)
    else:  # most steps: no phase start, no action
        engine.entered = state.step
    if queued:
        trainer._extras.setdefault("fired", []).extend(queued)
    if trainer._distributed and (state.actions or queued):
        sync_from_main(trainer.model, trainer._stateful, trainer.dist)
    engine.enter_step(state)
    try:
        batch, result, losses = trainer._optimiser.run(
            state, lambda: trainer._iters.next(state.phase), trainer
        )
    except NonFiniteValues as e:
        _non_finite(trainer, state, e)
    if trainer._distributed:
        losses = mean_losses(losses, trainer.dist)
    validation, val_losses = None, {}
    if state.is_phase_end:
        validation, val_losses = trainer.validate(state)
        trainer._extras.update({f"val-{k}": v for k, v in val_losses.items()})
    # Handlers may still record() into this step's extras while step-metrics is emitted.
    extras = trainer._extras
    trainer._emit(STEP_METRICS, state, batch=batch, result=result, losses=losses, extras=extras)
    trainer._extras = {}
    if state.is_phase_end:
        pd = trainer.data.get(state.phase)
        val_batch = pd.val if pd is not None else None
        engine.emit_named(
            PHASE_END, state.phase, state, batch=val_batch, validation=validation,
            losses=val_losses,
        )  # fmt: skip
    if trainer.keep_best is not None:
        checkpointing.update_best(trainer, state, losses, extras)
    _maybe_checkpoint(trainer, state)


def _maybe_checkpoint(trainer: Trainer, state: State) -> None:
    """A checkpoint at a phase's end or every ``checkpoint_every`` steps (with a run folder)."""
    if trainer.out_dir is None:
        return
    every = trainer.checkpoint_every
    if state.is_phase_end and trainer.checkpoint_on_phase_end:
        trainer._completed = state.step
        trainer.save_checkpoint(kind="phase-end", label=state.phase)
    elif every and (state.step + 1) % every == 0:
        trainer._completed = state.step
        trainer.save_checkpoint()


def _non_finite(trainer: Trainer, state: State, error: NonFiniteValues) -> None:
    """Write a fault checkpoint (with a run folder) and raise :class:`NonFiniteLossError`."""
    path = None
    if trainer.out_dir is not None:
        payload = checkpointing.fault_state(trainer, state, error.after_update)
        path = checkpointing.write(trainer, payload, "fault", state.step)
    raise non_finite_error(state, error.losses, error.grads, error.after_update, path)

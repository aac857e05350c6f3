"""The explorer's controller: one training run in a background thread, steered between steps.

The :class:`~mini.temporal.Timeline` and the model are not thread-safe, so nothing from the web
page touches them directly: every command (move a property, follow the schedule again, fire an
action, bake the run into a dopesheet) is a job on a queue that the training thread drains in
its ``pre-step`` handler, i.e. between two steps; while no step runs (before Start, paused,
after the end) the job runs at once under the controller's lock. What the page shows is a
:class:`Snapshot` the training thread captures a few times a second while a page is looking.

Works for any :class:`~mini.training.Trainer`: ``make_trainer()`` builds a fresh one (model,
timeline, same seed) for the first run and for every Reset.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from mini.atomic import write_text
from mini.explore.capture import SCHEDULE_SAMPLES, SnapshotCapture  # noqa: F401 (re-exported)
from mini.explore.history import LossHistory
from mini.explore.panel import Panel
from mini.explore.properties import PropertyInfo, property_infos
from mini.explore.snapshot import PanelFailure, SavedDopesheet, Snapshot, Status, bake_error
from mini.suggest import closest
from mini.temporal import Dopesheet
from mini.temporal.bake import bake
from mini.training.events import PRE_STEP, STEP_METRICS, Event
from mini.training.trainer import FitResult, Trainer
from mini.training.watch import DopesheetWatcher

log = logging.getLogger(__name__)


@dataclass
class _Job:
    key: Hashable | None  # jobs with the same key coalesce: only the last one queued runs
    fn: Callable[[Trainer], Any]
    future: Future


class Controller(SnapshotCapture):
    """Start/Pause/Reset a run of ``make_trainer()`` in a background thread and steer it.

    ``panels`` are the model's views (:class:`~mini.explore.panel.Panel`); ``transition`` is
    the default number of steps a moved property takes to reach its new value (default 2% of
    the run); ``save_dir`` is where :meth:`save_dopesheet` writes (default: the run's
    ``out_dir``, else the working directory); ``action_labels`` names the action buttons.
    """

    def __init__(
        self,
        make_trainer: Callable[[], Trainer],
        panels: Sequence[Panel] = (),
        *,
        transition: int | None = None,
        capture_every: float = 0.35,
        save_dir: str | Path | None = None,
        action_labels: Mapping[str, str] | None = None,
    ):
        self.make_trainer = make_trainer
        self.panels = list(panels)
        self.capture_every = capture_every
        self.save_dir = Path(save_dir) if save_dir is not None else None
        self.action_labels = dict(action_labels or {})
        self._default_transition = transition
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        # Start/Pause/Reset/close run one at a time, each to its end (a Reset waits for the old
        # thread before it builds the new run), so no interleaving leaves two training threads.
        self._control = threading.Lock()
        self._jobs: deque[_Job] = deque()
        self._thread: threading.Thread | None = None
        self._running = False  # a training thread is alive and drains the jobs
        self._pause = False
        self._viewed = time.perf_counter()
        self._version = 0
        self.notes: deque[str] = deque(maxlen=50)
        self.run_number = 0
        self.result: FitResult | None = None
        self._new_run()

    # -- the run's lifecycle --------------------------------------------------------------------
    def _new_run(self) -> None:
        trainer = self.make_trainer()
        trainer.on(PRE_STEP, self._pre_step)
        trainer.on(STEP_METRICS, self._step_metrics)
        self.trainer = trainer
        self.run_number += 1
        n = len(trainer.timeline)
        self.transition = self._default_transition or max(1, round(0.02 * n))
        self.properties: dict[str, PropertyInfo] = property_infos(trainer.timeline.dopesheet)
        self.actions = _actions(trainer)
        self.history = LossHistory()
        self.result = None
        self._status: Status = "ready"
        self._stopping = False
        self._error: str | None = None
        self._done = trainer.timeline.state.step
        self._rate, self._rate_at = 0.0, (time.perf_counter(), self._done)
        self._watchers = [
            h.__self__
            for h in trainer.bus.handlers()
            if isinstance(getattr(h, "__self__", None), DopesheetWatcher)
        ]
        self._watch_seen = [(len(w.adopted), len(w.errors)) for w in self._watchers]
        self._next_capture = 0.0
        self._written_cache: tuple[Dopesheet, np.ndarray, dict[str, np.ndarray]] | None = None
        self._schedule_cache: tuple[tuple[Any, ...], dict[str, np.ndarray]] | None = None
        self._commands = 0  # commands applied to this run (the schedule may have changed)
        self._capture(trainer)

    def start(self) -> str:
        """Start the run (or resume it when paused)."""
        with self._control, self._lock:
            if self._status == "paused" or (self._running and self._pause):
                self._pause = False
                self._status = "running"
                self._wake.notify_all()
                return "resumed"
            if self._status != "ready":
                return f"the run is {self._status}: Reset to start a new one"
            self._running, self._status = True, "running"
            self._thread = threading.Thread(
                target=self._train, args=(self.trainer,), name="explorer-training", daemon=True
            )
            self._thread.start()
            return "started"

    def pause(self) -> str:
        """Pause before the next step (commands still apply while paused)."""
        with self._control, self._lock:
            if self._status != "running":
                return f"the run is {self._status}"
            self._pause = True
            self._status = "paused"
            return "paused"

    def reset(self) -> str:
        """Stop the run (its checkpoint is written) and build a fresh one: step 0."""
        with self._control:
            self._stop_thread("reset from the explorer")
            return self._reset()

    def _reset(self) -> str:
        with self._lock:
            try:
                self._new_run()
            except Exception as e:  # a broken factory: show it, keep the page alive
                log.exception("the explorer could not build a new run")
                self._status, self._error = "failed", f"Reset failed: {type(e).__name__}: {e}"
                return self._error
            self.notes.append(f"run {self.run_number}: fresh model and schedule, step 0")
            return "reset"

    def close(self, timeout: float | None = None) -> FitResult | None:
        """Stop training cleanly after the current step (a checkpoint is written) and wait."""
        with self._control:
            self._stop_thread("explorer closed", timeout)
            return self.result

    def _stop_thread(self, reason: str, timeout: float | None = None) -> None:
        with self._lock:
            thread = self._thread
            if thread is None or not thread.is_alive():
                return
            self.trainer.stop(reason)
            self._stopping = True
            self._pause = False
            self._wake.notify_all()
        thread.join(timeout)
        if not thread.is_alive():
            self._thread = None

    def _train(self, trainer: Trainer) -> None:
        status: Status = "finished"
        error = None
        try:
            result = trainer.fit()
            self.result = result
            if result.stopped or result.interrupted:
                status = "stopped"
        except Exception as e:  # shown on the page; the last checkpoint stays on disk
            log.exception("training failed at step %d", trainer.current_step)
            status, error = "failed", _describe_failure(e, trainer)
        with self._lock:
            if trainer is not self.trainer:  # a run replaced while it stopped: not on screen
                return
            self._running = False
            self._pause = False
            self._status, self._error = status, error
            self._run_jobs(trainer)  # queued while the last step ran
            if error:
                self.notes.append(error.splitlines()[0])
            self._capture(trainer)

    # -- commands -------------------------------------------------------------------------------
    def set_property(self, prop: str, value: float, duration: int | None = None) -> Future:
        """Move ``prop`` smoothly to ``value`` from the next step (``Timeline.set``); a
        ``step-end`` column moves at once. The future's result is the first step it affects."""
        info = self._info(prop)
        steps = 0 if info.discrete else (self.transition if duration is None else duration)

        def job(trainer: Trainer) -> int:
            trainer.timeline.set(prop, value, steps)
            first = trainer.timeline.state.step + 1
            self.notes.append(
                f"step {first:,}: {prop} → {value:.4g}"
                + (f" over {steps:,} steps" if steps else "")
            )
            return first

        return self._submit(("prop", prop), job)

    def follow_schedule(self, prop: str, duration: int | None = None) -> Future:
        """Return ``prop`` smoothly to the dopesheet (``Timeline.follow``)."""
        info = self._info(prop)
        steps = 0 if info.discrete else (self.transition if duration is None else duration)

        def job(trainer: Trainer) -> int | None:
            tl = trainer.timeline
            first = tl.state.step + 1
            if not tl.overridden(prop, first):
                return None
            tl.follow(prop, steps)
            self.notes.append(f"step {first:,}: {prop} follows the schedule")
            return first

        return self._submit(("prop", prop), job)

    def fire(self, action: str) -> Future:
        """Fire ``action`` at the next step (``Trainer.fire``); the future's result is that step."""

        def job(trainer: Trainer) -> int:
            if self._status in ("finished", "stopped", "failed"):
                raise RuntimeError(f"the run has ended, {action!r} was not fired: Reset first")
            trainer.fire(action)  # before Start it fires at the first step, else at the next
            first = trainer.timeline.state.step + (self._status != "ready")
            self.notes.append(f"step {first:,}: fired {action}")
            return first

        return self._submit(None, job)

    def save_dopesheet(self, path: str | Path | None = None) -> Future:
        """Bake the run so far (and the plan for the rest) into a dopesheet CSV; the future's
        result is a :class:`SavedDopesheet`."""

        def job(trainer: Trainer) -> SavedDopesheet:
            tl = trainer.timeline
            ds = bake(tl, trainer.fired)
            step = self._done
            target = Path(path) if path is not None else self._save_path(trainer, step)
            write_text(target, ds.as_df().to_csv(index=False, lineterminator="\n"))
            saved = SavedDopesheet(target, ds, step, bake_error(tl, ds))
            self.notes.append(f"step {step:,}: saved {saved.summary()}")
            log.info("explorer: saved %s", target)
            return saved

        return self._submit(None, job)

    def _save_path(self, trainer: Trainer, step: int) -> Path:
        folder = self.save_dir or trainer.out_dir or Path.cwd()
        path = folder / f"explored-run{self.run_number}-step{step}.csv"
        k = 1
        while path.exists():
            k += 1
            path = folder / f"explored-run{self.run_number}-step{step}-{k}.csv"
        return path

    def _info(self, prop: str) -> PropertyInfo:
        try:
            return self.properties[prop]
        except KeyError:
            close = closest(prop, self.properties)
            hint = f"; did you mean {close!r}?" if close else ""
            raise KeyError(f"the dopesheet has no property {prop!r}{hint}") from None

    def _submit(self, key: Hashable | None, fn: Callable[[Trainer], Any]) -> Future:
        job = _Job(key, fn, Future())
        with self._lock:
            if self._running:
                self._jobs.append(job)
                self._wake.notify_all()
            else:  # no step is running: nothing else touches the trainer
                self._jobs.append(job)
                self._run_jobs(self.trainer)
        return job.future

    def _run_jobs(self, trainer: Trainer) -> None:
        """Run the queued jobs in order (the last of each key), capture, then resolve them, so
        a caller that waited on a command sees its effect in the next snapshot."""
        with self._lock:
            jobs = list(self._jobs)
            self._jobs.clear()
        last = {job.key: i for i, job in enumerate(jobs) if job.key is not None}
        self._commands += len(jobs)
        outcomes: list[tuple[Future, Any, Exception | None]] = []
        for i, job in enumerate(jobs):
            if job.key is not None and last[job.key] != i:
                outcomes.append((job.future, None, None))  # superseded by a later command
                continue
            try:
                outcomes.append((job.future, job.fn(trainer), None))
            except Exception as e:
                self.notes.append(f"{type(e).__name__}: {e}")
                outcomes.append((job.future, None, e))
        self._capture(trainer)
        for future, result, error in outcomes:
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)

    # -- the training thread's handlers -----------------------------------------------------------
    def _pre_step(self, event: Event) -> None:
        if self._jobs:
            self._run_jobs(event.trainer)
        if self._pause:
            self._hold(event.trainer)

    def _hold(self, trainer: Trainer) -> None:
        """Wait here (between two steps) while paused; commands and captures go on."""
        self._rate = 0.0
        self._capture(trainer)
        with self._lock:
            while self._pause and not self._stopping:
                self._wake.wait(0.1)
                if self._jobs:
                    self._run_jobs(trainer)
                if time.perf_counter() >= self._next_capture and self._watched():
                    self._capture(trainer)
            self._rate_at = (time.perf_counter(), self._done)

    def _step_metrics(self, event: Event) -> None:
        self._done = event.step + 1
        self.history.append(event.step, event.losses)
        if time.perf_counter() >= self._next_capture and self._watched():
            self._capture(event.trainer)

    def _watched(self) -> bool:
        return time.perf_counter() - self._viewed < 5.0

    # -- what the page reads ----------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """The latest snapshot, with the live step count and status (any thread)."""
        self._viewed = time.perf_counter()
        snap = self._snap
        rate = self._rate if self._status == "running" else 0.0
        return replace(
            snap, step=self._done, status=self._status, error=self._error, steps_per_second=rate,
            notes=tuple(self.notes),
        )  # fmt: skip

    @property
    def status(self) -> Status:
        """``ready``, ``running``, ``paused``, ``finished``, ``stopped`` or ``failed``. Read under
        the lock: a run seen ended has its final snapshot (edits noted, last panels) taken."""
        with self._lock:
            return self._status


def _actions(trainer: Trainer) -> list[str]:
    """The dopesheet's actions, then actions only handlers know (fired at runtime)."""
    names = [a for _, a in trainer.timeline.dopesheet.actions]
    for sub in trainer.bus.subscriptions():
        base, _, name = sub.event.partition(":")
        if base == "action" and name:
            names.append(name)
    return list(dict.fromkeys(names))


def _describe_failure(e: Exception, trainer: Trainer) -> str:
    text = f"training failed at step {trainer.current_step:,}: {type(e).__name__}: {e}"
    if trainer.last_checkpoint is not None:
        text += f"\nthe last checkpoint is kept: {trainer.last_checkpoint}"
    return text


__all__ = ["Controller", "PanelFailure", "SavedDopesheet", "Snapshot"]

"""What the explorer page sees of a run: the :class:`Snapshot` the controller captures.

A mixin of :class:`~mini.explore.controller.Controller` (its state, its lock): captured by the
training thread a few times a second while a page is looking, or by any thread while no step
runs. Schedules are recomputed only after a command or an edit.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch

from mini.explore.snapshot import PanelFailure, Snapshot
from mini.temporal import Dopesheet, Timeline
from mini.training.modes import eval_mode
from mini.training.trainer import Trainer

log = logging.getLogger(__name__)

SCHEDULE_SAMPLES = 300


class SnapshotCapture:
    """Builds ``self._snap`` from the controller's run (see :class:`Controller`)."""

    def _capture(self, trainer: Trainer) -> None:
        """Build the page's snapshot (training thread, or any thread while no step runs)."""
        now = time.perf_counter()
        self._next_capture = now + self.capture_every
        t0, done0 = self._rate_at
        if now - t0 >= 0.25 and self._status == "running":
            self._rate = (self._done - done0) / (now - t0)
            self._rate_at = (now, self._done)
        tl = trainer.timeline
        n = len(tl)
        samples = np.unique(
            np.linspace(0, n - 1, min(n, SCHEDULE_SAMPLES)).round().astype(np.int64)
        )
        panels = []
        for panel in self.panels:
            try:
                with torch.random.fork_rng(devices=[]), eval_mode(trainer.model):
                    panels.append(panel.capture(trainer))
            except Exception as e:  # a broken view must not stop training
                log.warning("panel %r failed: %s", getattr(panel, "title", panel), e)
                panels.append(PanelFailure(f"{type(e).__name__}: {e}"))
        self._watch_notes()
        state = tl.state
        overrides = tl.overrides
        self._version += 1
        self._snap = Snapshot(
            run=self.run_number,
            version=self._version,
            status=self._status,
            step=self._done,
            n_steps=n,
            phase=state.phase,
            steps_per_second=self._rate,
            props=dict(state.props),
            overridden=frozenset(p for p in tl.names if tl.overridden(p)),
            schedule_steps=samples,
            schedule=self._schedule(tl, samples),
            written=self._written(tl.dopesheet, samples),
            targets={p: ov.target_value for p, ov in overrides.items()},
            returning=frozenset(
                p for p, ov in overrides.items() if any(r <= state.step for r, _ in ov.releases)
            ),
            phases=tuple((p.name, p.start, p.end) for p in tl.dopesheet.phases),
            panels=tuple(panels),
            error=self._error,
            notes=tuple(self.notes),
        )

    def _schedule(self, tl: Timeline, samples: np.ndarray) -> dict[str, np.ndarray]:
        """The run's schedule at ``samples``, recomputed only after a command or an edit (the
        same dict otherwise, so views can cache what they drew from it)."""
        key = (tl.dopesheet, len(tl), self._commands)
        cache = self._schedule_cache
        if cache is None or cache[0][0] is not key[0] or cache[0][1:] != key[1:]:
            cache = self._schedule_cache = (key, tl.values_at(samples))
        return cache[1]

    def _written(self, dopesheet: Dopesheet, samples: np.ndarray) -> dict[str, np.ndarray]:
        """The dopesheet's own values at ``samples`` (cached: it changes only on an edit)."""
        cache = self._written_cache
        if cache is None or cache[0] is not dopesheet or not np.array_equal(cache[1], samples):
            cache = self._written_cache = (
                dopesheet,
                samples,
                Timeline(dopesheet).values_at(samples),
            )
        return cache[2]

    def _watch_notes(self) -> None:
        for i, w in enumerate(self._watchers):
            adopted, errors = self._watch_seen[i]
            for rec in w.adopted[adopted:]:
                changed = ", ".join(rec["changed"]) or "phases/actions"
                self.notes.append(
                    f"step {rec['step'] + 1:,}: adopted the edit of {w.path.name} ({changed})"
                )
            for rec in w.errors[errors:]:
                self.notes.append(
                    f"step {rec['step'] + 1:,}: edit of {w.path.name} not adopted: "
                    + "; ".join(rec["problems"])
                )
            self._watch_seen[i] = (len(w.adopted), len(w.errors))

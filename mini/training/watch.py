"""``--watch``: adopt saved edits of the dopesheet file while the run trains.

The watcher looks at the file every ``every_s`` seconds (its size, times, inode and a digest of
its bytes, so a same-size rewrite within one tick of a coarse file-system clock is still seen;
between looks the per-step cost is a clock read) and has it parsed once the change has settled
(the same on two looks at least ``settle_s`` apart, so a half-written save is not read). Parsing
runs on a thread of its own, never the training thread, and a file whose schedule would not fit
in memory is refused as ``dopesheet check`` refuses it. The baseline is the schedule the run
started from (not the file as it was when the watcher was made), so an edit saved right after
the start is seen.

A valid edit is adopted from the next step with :meth:`Trainer.adopt` — every property continues
smoothly from its current value — logged in ``metrics.jsonl`` (``extras["dopesheet-reload"]``)
and copied to ``<out>/schedules/``. Phases may be added (when the run has data for them) or
removed. An invalid edit keeps the last good schedule: its problems (``file:line:column``) are
shown once and recorded (``extras["dopesheet-error"]``), training goes on, and a later fix is
adopted. Under ``torchrun`` only rank 0 reads the file; every ``sync_every`` steps its verdict is
broadcast, so every rank adopts (or rejects) an edit at the same step.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mini.atomic import write_text
from mini.temporal import Dopesheet, DopesheetError
from mini.temporal.check import check_csv
from mini.temporal.sizes import fits_in_memory, human_bytes
from mini.training.checks import ConfigError
from mini.training.distributed import broadcast_objects
from mini.training.events import PRE_STEP, Event

if TYPE_CHECKING:
    from mini.training.trainer import Trainer

log = logging.getLogger(__name__)

MAX_DIGEST_BYTES = 1 << 20  # bigger files are compared by size, times and inode only


Verdict = tuple[str, Any]  # ("ok", Dopesheet) or ("error", [problem lines])


class DopesheetWatcher:
    """Watches ``path`` every ``every_s`` seconds; ``load(path)`` reads it (default
    ``Dopesheet.from_csv``; pass one that also rescales, e.g. for ``--steps``). A change is read
    once it looked the same on two looks at least ``settle_s`` apart; under ``torchrun`` the
    verdict is shared every ``sync_every`` steps.

    Args:
        path: the dopesheet CSV to watch.
        load: reads it (default ``Dopesheet.from_csv``; pass one that also rescales, e.g. for
            ``--steps``).
        every_s: seconds between looks at the file.
        settle_s: a change is read once two looks at least this far apart agree.
        sync_every: under ``torchrun``: steps between shared verdicts.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        load: Callable[[Path], Dopesheet] | None = None,
        every_s: float = 0.5,
        settle_s: float = 0.05,
        sync_every: int = 20,
    ):
        self.path = Path(path)
        self.load = load or Dopesheet.from_csv
        self.every_s = every_s
        self.settle_s = settle_s
        self.sync_every = sync_every
        self.adopted: list[dict[str, Any]] = []  # {"step", "changed", "copy"}
        self.errors: list[dict[str, Any]] = []  # {"step", "problems"}
        self._seen: tuple[int, int, int, bytes] | None = None  # first look: compare with the run
        self._pending: tuple[int, int, int, bytes] | None = None
        self._pending_since = 0.0
        self._next = 0.0
        self._parsing: threading.Thread | None = None
        self._verdict: Verdict | None = None  # set by the parsing thread
        self._parked: dict[str, Any] = {}  # data of phases an edit removed (back if re-added)
        self._trainer: Trainer | None = None

    def attach(self, trainer: Trainer) -> None:
        self._trainer = trainer
        trainer.on(PRE_STEP, self.poll)

    def _signature(self) -> tuple[int, int, int, bytes] | None:
        try:
            st = os.stat(self.path)
            data = self.path.read_bytes() if st.st_size <= MAX_DIGEST_BYTES else b""
        except OSError:  # being replaced by an editor right now
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino, hashlib.blake2b(data, digest_size=16).digest()

    def poll(self, event: Event) -> None:
        """Look at the file (a ``pre-step`` handler); adopt a valid edit, report an invalid one.

        Args:
            event: the event (its ``trainer`` and ``step``).
        """
        dist = getattr(event.trainer, "dist", None)
        if dist is not None and dist.active:
            if event.step % self.sync_every:
                return
            verdict = self._look() if dist.is_main else None
            verdict = broadcast_objects({"v": verdict}, dist)["v"]
        else:
            verdict = self._look()
        if verdict is not None:
            self._apply(event.trainer, event.step, verdict)

    def _look(self) -> Verdict | None:
        """A finished parse's verdict, if any; else start a parse once a change has settled."""
        if self._verdict is not None:
            verdict, self._verdict = self._verdict, None
            return verdict
        now = time.monotonic()
        if now < self._next or self._parsing is not None:
            return None
        self._next = now + self.every_s
        sig = self._signature()
        if sig is None or sig == self._seen:
            self._pending = None
            return None
        if sig != self._pending:  # changed since the last look: let the save settle
            self._pending, self._pending_since = sig, now
            return None
        if now - self._pending_since < self.settle_s:  # looks in quick succession: wait
            return None
        self._seen, self._pending = sig, None
        self._parsing = threading.Thread(target=self._parse, name="dopesheet-watch", daemon=True)
        self._parsing.start()
        return None

    def _parse(self) -> None:
        """(The parsing thread.) Read the file into a verdict for the training thread."""
        try:
            summary = check_csv(self.path)
            if not fits_in_memory(summary.realized_nbytes):
                raise _TooBig(
                    f"{self.path}:{summary.last_lines[0] if summary.last_lines else 1}:1: "
                    f"{summary.n_steps:,} steps take {human_bytes(summary.realized_nbytes)} "
                    "realized, more than this machine can hold: the edit is too big (fix the "
                    "last step)"
                )
        except (DopesheetError, OSError, UnicodeDecodeError):
            pass  # reported by load() below, exactly as a run's start reports it
        except _TooBig as e:
            self._done(("error", [str(e)]))
            return
        try:
            verdict: Verdict = ("ok", self.load(self.path))
        except DopesheetError as e:
            problems = [str(p) for p in e.problems]
            if e.total > len(e.problems):
                problems.append(f"… and {e.total - len(e.problems):,} more problems")
            verdict = ("error", problems)
        except (OSError, UnicodeDecodeError) as e:
            verdict = ("error", [f"{self.path}: cannot read the file: {e}"])
        except Exception as e:  # a custom load(): report, never stop the run
            verdict = ("error", [f"{self.path}: {type(e).__name__}: {e}"])
        self._done(verdict)

    def _done(self, verdict: Verdict) -> None:
        self._verdict = verdict
        self._parsing = None

    def check_now(self, trainer: Trainer, step: int) -> bool:
        """Read the file (on this thread) and adopt it if valid; ``True`` if adopted.

        Args:
            trainer: the run to adopt the edit.
            step: the step the run is at (for the messages).
        """
        self._parse()
        verdict, self._verdict = self._verdict, None
        return verdict is not None and self._apply(trainer, step, verdict)

    def _apply(self, trainer: Trainer, step: int, verdict: Verdict) -> bool:
        kind, value = verdict
        if kind == "error":
            return self._reject(trainer, step, list(value))
        ds: Dopesheet = value
        if ds == trainer.timeline.dopesheet:
            return False
        parked = self._park(trainer, ds)
        try:
            changed = trainer.adopt(ds)
        except (ConfigError, ValueError) as e:
            trainer.data.update(parked)
            self._parked = {k: v for k, v in self._parked.items() if k not in parked}
            return self._reject(trainer, step, self._located(ds, str(e), step))
        copy = self._keep_copy(trainer, step)
        record = {"step": step, "changed": changed, "copy": str(copy) if copy else None}
        self.adopted.append(record)
        trainer.record(**{"dopesheet-reload": record})
        log.info(
            "%s: edit adopted after step %d (changed: %s)",
            self.path, step, ", ".join(changed) or "phases/actions only",
        )  # fmt: skip
        return True

    def _park(self, trainer: Trainer, ds: Dopesheet) -> dict[str, Any]:
        """Set aside the data of phases the edit removes (a removed phase is no mistake mid-run)
        and bring back that of phases it re-adds; returns what was set aside now."""
        phases = {p.name for p in ds.phases}
        parked = {k: trainer.data.pop(k) for k in list(trainer.data) if k not in phases}
        for name in phases & set(self._parked):
            trainer.data[name] = self._parked.pop(name)
        self._parked.update(parked)
        return parked

    def _located(self, ds: Dopesheet, message: str, step: int) -> list[str]:
        """Problems of an edit the run cannot use, each with ``file:line:column``."""
        header = self._header()
        lines = [m.strip() for m in message.splitlines()[1:] if m.strip()] or [message]
        out = []
        for problem in lines:
            line, col = 1, 1
            if problem.startswith("phase ") and "PHASE" in header:
                col = header.index("PHASE") + 1
                name = problem.split("'")[1] if "'" in problem else None
                starts = [p.start for p in ds.phases if p.name == name]
                line = (ds.line_of(starts[0]) or (1,))[0] if starts else 1
            elif "already at step" in problem:
                line = (ds.line_of(ds.n_steps - 1) or (1,))[0]
            else:
                for i, name in enumerate(header):
                    if name.split(":")[0] and f"'{name.split(':')[0]}'" in problem:
                        col = i + 1
                        break
            out.append(f"{self.path}:{line}:{col}: {problem}")
        return out

    def _header(self) -> list[str]:
        try:
            with open(self.path, encoding="utf-8-sig") as f:
                return [c.strip() for c in f.readline().split(",")]
        except (OSError, UnicodeDecodeError):
            return []

    def _reject(self, trainer: Trainer, step: int, problems: list[str]) -> bool:
        self.errors.append({"step": step, "problems": problems})
        trainer.record(**{"dopesheet-error": problems})
        log.error(
            "%s: the edit is not adopted, training continues on the last good schedule:\n  %s",
            self.path, "\n  ".join(problems),
        )  # fmt: skip
        return False

    def _keep_copy(self, trainer: Trainer, step: int) -> Path | None:
        if trainer.out_dir is None:
            return None
        copy = trainer.out_dir / "schedules" / f"step-{step + 1:07d}-{self.path.name}"
        try:
            write_text(copy, self.path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError) as e:
            log.warning("could not keep a copy of the adopted schedule: %s", e)
            return None
        return copy


class _TooBig(Exception):
    pass

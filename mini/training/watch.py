"""``--watch``: adopt saved edits of the dopesheet file while the run trains.

The watcher looks at the file every ``every_s`` seconds (its size, times, inode and a digest of
its bytes, so a same-size rewrite within one tick of a coarse file-system clock is still seen;
between looks the per-step cost is a clock read) and parses it once the change has settled
(the same on two looks at least ``settle_s`` apart, so a half-written save is not read). A valid
edit is adopted from the next step with :meth:`Trainer.adopt` — every property continues
smoothly from its current value — logged in ``metrics.jsonl`` (``extras["dopesheet-reload"]``)
and copied to ``<out>/schedules/``. An invalid edit keeps the last good schedule: its problems
(``file:line:column``) are shown once and recorded (``extras["dopesheet-error"]``), training goes
on, and a later fix is adopted.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mini.atomic import write_text
from mini.temporal import Dopesheet, DopesheetError
from mini.training.checks import ConfigError
from mini.training.events import PRE_STEP, Event

if TYPE_CHECKING:
    from mini.training.trainer import Trainer

log = logging.getLogger(__name__)

MAX_DIGEST_BYTES = 1 << 20  # bigger files are compared by size, times and inode only


class DopesheetWatcher:
    """Watches ``path`` every ``every_s`` seconds; ``load(path)`` reads it (default
    ``Dopesheet.from_csv``; pass one that also rescales, e.g. for ``--steps``). A change is read
    once it looked the same on two looks at least ``settle_s`` apart."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        load: Callable[[Path], Dopesheet] | None = None,
        every_s: float = 0.5,
        settle_s: float = 0.05,
    ):
        self.path = Path(path)
        self.load = load or Dopesheet.from_csv
        self.every_s = every_s
        self.settle_s = settle_s
        self.adopted: list[dict[str, Any]] = []  # {"step", "changed", "copy"}
        self.errors: list[dict[str, Any]] = []  # {"step", "problems"}
        self._seen = self._signature()  # the version the run started with
        self._pending: tuple[int, int, int, bytes] | None = None
        self._pending_since = 0.0
        self._next = 0.0
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
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.every_s
        sig = self._signature()
        if sig is None or sig == self._seen:
            self._pending = None
            return
        if sig != self._pending:  # changed since the last look: let the save settle
            self._pending, self._pending_since = sig, now
            return
        if now - self._pending_since < self.settle_s:  # looks in quick succession: wait
            return
        self._seen, self._pending = sig, None
        self.check_now(event.trainer, event.step)

    def check_now(self, trainer: Trainer, step: int) -> bool:
        """Read the file and adopt it if valid; ``True`` if a new schedule was adopted."""
        try:
            ds = self.load(self.path)
            if ds == trainer.timeline.dopesheet:
                return False
            changed = trainer.adopt(ds)
        except DopesheetError as e:
            return self._reject(trainer, step, [str(p) for p in e.problems])
        except (ConfigError, ValueError) as e:
            return self._reject(trainer, step, str(e).splitlines())
        except OSError as e:
            return self._reject(trainer, step, [f"{self.path}: cannot read the file: {e}"])
        copy = self._keep_copy(trainer, step)
        record = {"step": step, "changed": changed, "copy": str(copy) if copy else None}
        self.adopted.append(record)
        trainer.record(**{"dopesheet-reload": record})
        log.info(
            "%s: edit adopted after step %d (changed: %s)",
            self.path, step, ", ".join(changed) or "phases/actions only",
        )  # fmt: skip
        return True

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

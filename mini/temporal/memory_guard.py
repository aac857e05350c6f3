"""Refuse, with a way out, to compute more schedule values at once than memory holds: a
timeline of 10**12 steps is fine to step through, but not to realize whole."""

from __future__ import annotations

import os


class ScheduleTooLargeError(ValueError):
    """Asked for more values at once than memory can hold."""


def available_memory() -> int:
    """Bytes of physical memory available now (4 GiB where the OS does not say)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def check_allocation(rows: int, bytes_per_row: int, what: str) -> None:
    """Refuse to allocate more than half the memory available now, with a way out."""
    need = rows * bytes_per_row
    free = available_memory()
    if need > free // 2:
        raise ScheduleTooLargeError(
            f"{what}: {rows:,} steps would need {need / 2**30:,.1f} GiB but only "
            f"{free / 2**30:,.1f} GiB of memory is available; ask for a window (start/stop), "
            "rescale the schedule (Dopesheet.scaled(n), --steps N), or step the Timeline, "
            "which computes a window of steps at a time"
        )

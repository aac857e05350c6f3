"""How much memory a whole realized schedule takes, and whether this machine has it.

Training steps through a schedule and never needs it whole, and ``python -m mini.temporal
realize`` writes it in chunks; ``realize(ds)`` and a plot of the whole run do need it at once,
so ``check`` warns and ``plot`` refuses before a typo such as a last step of 1e12 asks for TiBs.
"""

from __future__ import annotations

import os

MEMORY_SHARE = 0.5
"""A realized schedule "fits" when it takes at most this share of the machine's memory."""


def realized_nbytes(n_steps: int, n_props: int) -> int:
    """Bytes of ``realize()``'s DataFrame: int64 STEP, int32 PHASE and ACTION codes, one float64
    column per property."""
    return n_steps * (8 + 4 + 4 + 8 * n_props)


def memory_nbytes() -> int | None:
    """Physical memory of this machine in bytes (``None`` where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def fits_in_memory(nbytes: int) -> bool:
    """Whether ``nbytes`` is at most :data:`MEMORY_SHARE` of this machine's memory."""
    total = memory_nbytes()
    return total is None or nbytes <= MEMORY_SHARE * total


def human_bytes(n: float) -> str:
    """``"7.3 TiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")

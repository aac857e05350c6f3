"""Dopesheet schedules in other training loops: a PyTorch LR scheduler, a Lightning callback
and an Ignite handler, with the same property names and events as :mod:`mini.training`.

>>> from mini.adapters import DopesheetLR            # plain loops
>>> from mini.adapters.lightning import DopesheetCallback   # needs `lightning`
>>> from mini.adapters.ignite import DopesheetHandler       # needs `pytorch-ignite`

Lightning and Ignite are imported only by their own modules (also reachable lazily here).
"""

from __future__ import annotations

from typing import Any

from mini.adapters._schedule import read_dopesheet, to_timeline
from mini.adapters.base import ScheduleAdapter
from mini.adapters.lr_scheduler import DopesheetLR

__all__ = [
    "DopesheetCallback",
    "DopesheetHandler",
    "DopesheetLR",
    "ScheduleAdapter",
    "read_dopesheet",
    "to_timeline",
]

_LAZY = {
    "DopesheetCallback": "mini.adapters.lightning",
    "DopesheetHandler": "mini.adapters.ignite",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mini.adapters' has no attribute {name!r}")

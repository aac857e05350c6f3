"""Loggers for dopesheet runs, each writing with its library's own writer.

``logger.attach(trainer)`` subscribes to our :class:`mini.training.Trainer`'s events (or to an
adapter's: :class:`mini.adapters.DopesheetLR`, the Lightning callback, the Ignite handler) and
logs properties, losses and metrics every N steps, the schedule plot and phase names.
TensorBoard and MLflow are imported only when their logger is created.
"""

from __future__ import annotations

from typing import Any

from mini.loggers.base import ScheduleLogger
from mini.loggers.csv_file import CSVLogger

__all__ = ["CSVLogger", "MLflowLogger", "ScheduleLogger", "TensorBoardLogger"]

_LAZY = {"TensorBoardLogger": "mini.loggers.tensorboard", "MLflowLogger": "mini.loggers.mlflow"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mini.loggers' has no attribute {name!r}")

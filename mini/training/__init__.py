"""A generic, event-emitting trainer driven by a dopesheet Timeline (no colours, no codebooks).

The names below are loaded on first use, so that ``import mini.adapters`` (which needs the
schedule engine and events, not the trainer) stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> the module that defines it
_EXPORTS = {
    "EVENTS": "events",
    "Event": "events",
    "EventBus": "events",
    "Subscription": "events",
    "ScheduleEngine": "engine",
    "Trainer": "trainer",
    "PhaseData": "data",
    "Result": "result",
    "Criterion": "criteria",
    "SpecialCriterion": "criteria",
    "default_forward": "criteria",
    "FitResult": "fit_result",
    "seed_everything": "fit_result",
    "ConfigError": "checks",
    "CheckpointError": "checkpoint",
    "ResumeWarning": "checkpoint",
    "latest_checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "NonFiniteLossError": "guard",
    "LatentRecorder": "recorders",
    "MetricsRecorder": "recorders",
    "SnapshotRecorder": "recorders",
    "TrainingProgress": "progress",
    "RunDir": "run_dir",
    "RunDirError": "run_dir",
    "DopesheetWatcher": "watch",
    "GateHandler": "gate_handler",
    "CompositeScore": "keep_best",
    "eval_mode": "modes",
    "setup_distributed": "distributed",
    "OutputError": "..atomic",
}
_RENAMED = {"setup_distributed": "setup"}

__all__ = [
    "EVENTS",
    "CheckpointError",
    "CompositeScore",
    "ConfigError",
    "Criterion",
    "DopesheetWatcher",
    "Event",
    "EventBus",
    "FitResult",
    "GateHandler",
    "LatentRecorder",
    "MetricsRecorder",
    "NonFiniteLossError",
    "OutputError",
    "PhaseData",
    "Result",
    "ResumeWarning",
    "RunDir",
    "RunDirError",
    "ScheduleEngine",
    "SnapshotRecorder",
    "SpecialCriterion",
    "Subscription",
    "Trainer",
    "TrainingProgress",
    "default_forward",
    "eval_mode",
    "latest_checkpoint",
    "load_checkpoint",
    "save_checkpoint",
    "seed_everything",
    "setup_distributed",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mini.training' has no attribute {name!r}")
    target = "mini.atomic" if module == "..atomic" else f"mini.training.{module}"
    value = getattr(importlib.import_module(target), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, eagerly
    from mini.atomic import OutputError
    from mini.training.checkpoint import (
        CheckpointError,
        ResumeWarning,
        latest_checkpoint,
        load_checkpoint,
        save_checkpoint,
    )
    from mini.training.checks import ConfigError
    from mini.training.criteria import Criterion, SpecialCriterion, default_forward
    from mini.training.data import PhaseData
    from mini.training.distributed import setup as setup_distributed
    from mini.training.engine import ScheduleEngine
    from mini.training.events import EVENTS, Event, EventBus, Subscription
    from mini.training.fit_result import FitResult, seed_everything
    from mini.training.gate_handler import GateHandler
    from mini.training.guard import NonFiniteLossError
    from mini.training.keep_best import CompositeScore
    from mini.training.modes import eval_mode
    from mini.training.progress import TrainingProgress
    from mini.training.recorders import LatentRecorder, MetricsRecorder, SnapshotRecorder
    from mini.training.result import Result
    from mini.training.run_dir import RunDir, RunDirError
    from mini.training.trainer import Trainer
    from mini.training.watch import DopesheetWatcher

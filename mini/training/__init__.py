"""A generic, event-emitting trainer driven by a dopesheet Timeline (no colours, no codebooks)."""

from mini.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from mini.training.criteria import Criterion, SpecialCriterion
from mini.training.data import PhaseData
from mini.training.events import EVENTS, Event, EventBus
from mini.training.progress import TrainingProgress
from mini.training.recorders import LatentRecorder, MetricsRecorder, SnapshotRecorder
from mini.training.result import Result
from mini.training.trainer import (
    ConfigError,
    FitResult,
    NonFiniteLossError,
    ResumeWarning,
    Trainer,
    batch_inputs,
    default_forward,
    seed_everything,
)

__all__ = [
    "EVENTS",
    "ConfigError",
    "Criterion",
    "Event",
    "EventBus",
    "FitResult",
    "LatentRecorder",
    "MetricsRecorder",
    "NonFiniteLossError",
    "PhaseData",
    "Result",
    "ResumeWarning",
    "SnapshotRecorder",
    "SpecialCriterion",
    "Trainer",
    "TrainingProgress",
    "batch_inputs",
    "default_forward",
    "latest_checkpoint",
    "load_checkpoint",
    "save_checkpoint",
    "seed_everything",
]

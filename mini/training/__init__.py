"""A generic, event-emitting trainer driven by a dopesheet Timeline (no colours, no codebooks)."""

from mini.training.checkpoint import (
    CheckpointError,
    ResumeWarning,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from mini.training.checks import ConfigError
from mini.training.criteria import (
    Criterion,
    SpecialCriterion,
    batch_inputs,
    default_forward,
    reconstruction_mse,
)
from mini.training.data import PhaseData
from mini.training.events import EVENTS, Event, EventBus, Subscription
from mini.training.fit_result import FitResult, seed_everything
from mini.training.guard import NonFiniteLossError
from mini.training.modes import eval_mode
from mini.training.progress import TrainingProgress
from mini.training.recorders import LatentRecorder, MetricsRecorder, SnapshotRecorder
from mini.training.result import Result
from mini.training.run_dir import RunDir, RunDirError, claim_run_dir
from mini.training.trainer import Trainer

__all__ = [
    "EVENTS",
    "CheckpointError",
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
    "RunDir",
    "RunDirError",
    "SnapshotRecorder",
    "SpecialCriterion",
    "Subscription",
    "Trainer",
    "TrainingProgress",
    "batch_inputs",
    "claim_run_dir",
    "default_forward",
    "eval_mode",
    "latest_checkpoint",
    "load_checkpoint",
    "reconstruction_mse",
    "save_checkpoint",
    "seed_everything",
]

"""The examples' video frames: which steps to record, and which were recorded."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch


def recorded_frames(recorder: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """The steps and frames a latent recorder actually captured: a ``--watch`` edit that
    shortened the run leaves the planned frames past its new end empty, and they are dropped
    rather than rendered blank under a step the run never reached."""
    keep = np.asarray(recorder.recorded, dtype=bool)
    return recorder.steps[keep], {k: v[torch.from_numpy(keep)] for k, v in recorder.frames.items()}


def frame_plan(args: argparse.Namespace, n: int) -> np.ndarray:
    """The video's frame steps: ``--frames`` spread over ``n`` steps — or, resuming, the plan of
    the checkpoint's run when it has as many frames (a ``--watch`` edit may have changed the
    run's length since that plan was made; another ``--frames`` is still refused on resume)."""
    from mini.render import frame_steps

    planned = frame_steps(n, args.frames)
    if args.resume is None:
        return planned
    from mini.training import CheckpointError, load_checkpoint

    try:
        handlers = load_checkpoint(args.resume).get("handlers", {})
    except CheckpointError:
        return planned  # the trainer reports it when it resumes
    for key, state in handlers.items():
        steps = state.get("steps") if key.startswith("LatentRecorder") else None
        if steps is not None and len(steps) == len(np.unique(planned)):
            return steps.numpy()
    return planned

"""Which training steps become video frames.

Latent spaces change fastest early in a run, so frames are spaced by a power law: dense at the
start, sparse at the end. Every schedule starts at step 0 and ends at the last step, so a video
always shows the initial and the final state.
"""

from __future__ import annotations

import numpy as np


def frame_steps(n_steps: int, n_frames: int, *, power: float = 2.0) -> np.ndarray:
    """Sorted, unique step indices in ``[0, n_steps - 1]`` for ``n_frames`` frames.

    Frame ``i`` of ``n`` sits near ``(n_steps - 1) * (i / (n - 1)) ** power``; ``power=1`` is
    uniform spacing and larger values crowd frames towards the start. Where the curve is flatter
    than one step per frame (the very start), frames take consecutive steps instead, so the
    result always has exactly ``min(n_frames, n_steps)`` entries and includes 0 and the last
    step. Returns an ``int64`` array.

    Args:
        n_steps: the run's length.
        n_frames: how many frames.
        power: 1: uniform; larger values crowd frames towards the start.
    """
    if n_steps < 1:
        raise ValueError(f"n_steps must be at least 1, got {n_steps}")
    if not np.isfinite(power) or power < 1:
        raise ValueError(f"power must be >= 1 (dense early, sparse late), got {power}")
    last = n_steps - 1
    if last == 0:
        return np.zeros(1, dtype=np.int64)
    if n_frames < 2:
        raise ValueError(f"n_frames must be at least 2 to include step 0 and step {last}")
    if n_frames >= n_steps:
        return np.arange(n_steps, dtype=np.int64)

    index = np.arange(n_frames, dtype=np.int64)
    u = index / (n_frames - 1)
    target = np.rint(last * u**power).astype(np.int64)
    # Keep steps strictly increasing: `target - index` made non-decreasing. For a convex curve
    # (power >= 1) `target[i] - i <= last - (n_frames - 1)`, so the end stays at `last`.
    return np.maximum.accumulate(target - index) + index

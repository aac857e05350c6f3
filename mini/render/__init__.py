"""Frame schedules, the latent-evolution animation and streaming MP4 output.

Generic: plain numpy arrays and DataFrames in, MP4 out (matplotlib + imageio-ffmpeg; no torch).

>>> from mini.render import LatentAnimation, ScatterLayer, frame_steps
"""

from mini.render.animation import (
    Curve,
    CurvePanel,
    LatentAnimation,
    RenderStats,
    ScatterLayer,
    schedule_panels,
    schedule_phases,
)
from mini.render.frames import frame_steps
from mini.render.video import VideoInfo, VideoWriter, count_frames, iter_frames, probe

__all__ = [
    "Curve",
    "CurvePanel",
    "LatentAnimation",
    "RenderStats",
    "ScatterLayer",
    "VideoInfo",
    "VideoWriter",
    "count_frames",
    "frame_steps",
    "iter_frames",
    "probe",
    "schedule_panels",
    "schedule_phases",
]

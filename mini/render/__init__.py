"""Frame schedules, the latent-evolution animation and streaming MP4 output.

Generic: plain numpy arrays and DataFrames in, MP4 out (matplotlib + imageio-ffmpeg; no torch).
A run records latents at ``frame_steps(...)``; afterwards::

    schedule = realize(dopesheet)
    steps = frame_steps(len(schedule), 600)              # dense early, sparse late
    phases, starts = schedule_phases(schedule, steps)
    anim = LatentAnimation(
        steps,
        layers=[ScatterLayer(latents[:, :, :2], colors=rgb)],   # (frames, points, 2)
        panels=[
            *schedule_panels(schedule, ["lr", "loss-recon"], log=["lr"]),
            CurvePanel.from_frame(metrics, ["loss"], x="step", log=True, title="loss"),
        ],
        phases=phases,
        phase_starts=starts,
    )
    stats = anim.render("out/latent-evolution.mp4")     # atomic; stats.frames_per_second
"""

from mini.render.animation import LatentAnimation, RenderStats
from mini.render.frames import frame_steps
from mini.render.panels import (
    Curve,
    CurvePanel,
    ScatterLayer,
    schedule_panels,
    schedule_phases,
)
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

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

``LatentAnimation(view=FollowView())`` makes the latent panel's axes follow the data smoothly;
``render(path, last_frame="out/latest.png")`` also saves the final frame as a PNG.

A broken or missing ffmpeg, a full disk or an unwritable folder raise :class:`VideoError` (an
``OSError``) whose message says what ffmpeg printed and what to try; the previous video, if any,
stays in place.
"""

from mini.render.animation import LatentAnimation, RenderStats
from mini.render.ffmpeg import VideoError
from mini.render.frames import frame_steps
from mini.render.panels import (
    Curve,
    CurvePanel,
    ScatterLayer,
    schedule_panels,
    schedule_phases,
)
from mini.render.video import VideoInfo, VideoWriter, count_frames, iter_frames, probe
from mini.render.view import FollowView, follow_limits, within_reach

__all__ = [
    "Curve",
    "CurvePanel",
    "FollowView",
    "LatentAnimation",
    "RenderStats",
    "ScatterLayer",
    "VideoError",
    "VideoInfo",
    "VideoWriter",
    "count_frames",
    "follow_limits",
    "frame_steps",
    "iter_frames",
    "probe",
    "schedule_panels",
    "schedule_phases",
    "within_reach",
]

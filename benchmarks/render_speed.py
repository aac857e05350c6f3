"""Render speed: our blitted, streamed animation vs matplotlib's ``FuncAnimation.save``.

Both sides draw the same figure (``LatentAnimation.figure``) with the same frames: 1,000 points
in their true colours moving from a cloud onto a hue ring, 6 schedule curves realized from a
dopesheet and 2 log-scale loss curves with a moving cursor. The standard side is
``FuncAnimation(...).save(..., writer=FFMpegWriter(...))`` on imageio-ffmpeg's binary, once with
matplotlib's default x264 settings and once with ours (preset and CRF), so the gain from
blitting is visible apart from the encoder settings. Prints frames/s and the ratios.
``--follow`` also times the same figure with a following view (``FollowView``: the latent
panel's limits, ticks and grid change every frame, as in the VQ codebook video) both ways.

    python benchmarks/render_speed.py [--frames 300] [--out DIR] [--follow]
"""

from __future__ import annotations

import argparse
import colorsys
import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.animation import FFMpegWriter, FuncAnimation

from mini.render import (
    CurvePanel,
    FollowView,
    LatentAnimation,
    RenderStats,
    ScatterLayer,
    frame_steps,
    probe,
    schedule_panels,
    schedule_phases,
)
from mini.render.video import DEFAULT_CRF, DEFAULT_PRESET
from mini.temporal import Dopesheet, realize

SCHEDULE = """\
STEP,PHASE,ACTION,lr:log,loss-recon,reg-separate,reg-planar,reg-norm,data-fraction
0,Warm-up,,1e-2,1.0,0.0,0.2,0.0,0.0
+0.4,,,,0.8,0.3,,,
3000,Main,,,,0.0,0.4,0.25,
+0.5,,,1e-2,,,0.0,,0.5
10000,Finish,,,1.0,,,0.1,1.0
20000,,,1e-3,,,,,
"""


def synthetic_animation(n_frames: int, *, follow: bool = False) -> LatentAnimation:
    """The colour-run figure on made-up data (no training needed); ``follow`` gives it a
    following view instead of fixed limits."""
    dopesheet = Dopesheet.from_text(SCHEDULE)
    schedule = realize(dopesheet)
    n_steps = len(schedule)
    steps = frame_steps(n_steps, n_frames)
    rng = np.random.default_rng(0)

    grid = np.stack(np.meshgrid(*[np.linspace(0, 1, 10)] * 3, indexing="ij"), -1).reshape(-1, 3)
    hsv = np.array([colorsys.rgb_to_hsv(*c) for c in grid])
    ring = (0.3 + 0.7 * hsv[:, 1:2] * hsv[:, 2:3]) * np.stack(
        [np.cos(2 * np.pi * hsv[:, 0]), np.sin(2 * np.pi * hsv[:, 0])], -1
    )
    start = rng.normal(scale=0.3, size=(*grid.shape[:1], 2))
    t = (steps / steps[-1])[:, None, None] ** 0.5
    jitter = rng.normal(scale=0.02, size=(n_frames, *start.shape))
    positions = ((1 - t) * start + t * ring + jitter * (1 - t)).astype(np.float32)

    x = np.arange(n_steps)
    recon = 0.2 * np.exp(-x / 2000) + 3e-4 * (1 + 0.3 * rng.random(n_steps))
    reg = 0.05 * np.exp(-x / 5000) + 1e-3 * rng.random(n_steps)
    losses = pd.DataFrame({"step": x, "loss-recon": recon, "reg-separate": reg})

    phases, phase_starts = schedule_phases(schedule, steps)
    panels = schedule_panels(
        schedule,
        groups={
            "lr": ["lr"],
            "loss weights": ["loss-recon", "reg-separate", "reg-planar", "reg-norm"],
            "data-fraction": ["data-fraction"],
        },
        log=["lr"],
    )
    panels.append(
        CurvePanel.from_frame(
            losses, ["loss-recon", "reg-separate"], x="step", log=True, title="losses"
        )
    )
    return LatentAnimation(
        steps=steps,
        layers=[ScatterLayer(positions, colors=grid, size=14.0)],
        panels=panels,
        phases=phases,
        phase_starts=phase_starts,
        title="latent evolution (synthetic)",
        decorate=lambda ax: ax.add_patch(
            plt.Circle((0, 0), 1.0, fill=False, color="0.5", lw=0.8, ls=":")
        ),
        view=FollowView() if follow else None,
    )


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (ffmpeg): robust to a busy machine."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


@dataclass
class Timing:
    frames: int
    seconds: float
    cpu: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds

    def line(self, name: str) -> str:
        return (
            f"{name:52s} {self.fps:6.1f} frames/s   "
            f"{1000 * self.cpu / self.frames:6.1f} CPU ms/frame (incl. ffmpeg)"
        )


def render_ours(anim: LatentAnimation, path: Path, **kwargs) -> tuple[Timing, RenderStats]:
    c0, t0 = cpu_seconds(), time.perf_counter()
    stats = anim.render(path, progress=False, **kwargs)
    timing = Timing(len(anim), time.perf_counter() - t0, cpu_seconds() - c0)
    return timing, stats


def render_standard(anim: LatentAnimation, path: Path, extra_args: list[str] | None) -> Timing:
    """matplotlib's standard route: FuncAnimation redraws the whole figure every frame."""
    plt.rcParams["animation.ffmpeg_path"] = imageio_ffmpeg.get_ffmpeg_exe()
    c0, t0 = cpu_seconds(), time.perf_counter()
    fig, update = anim.figure(animated=False)
    animation = FuncAnimation(fig, update, frames=len(anim), blit=False)
    writer = FFMpegWriter(fps=30, codec="libx264", extra_args=extra_args)
    animation.save(str(path), writer=writer, dpi=anim.dpi)
    return Timing(len(anim), time.perf_counter() - t0, cpu_seconds() - c0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--out", type=Path, default=None, help="keep the videos here")
    parser.add_argument("--follow", action="store_true", help="also time a following view")
    args = parser.parse_args()

    out = args.out or Path(tempfile.mkdtemp(prefix="render_speed_"))
    out.mkdir(parents=True, exist_ok=True)
    anim = synthetic_animation(args.frames)
    n = len(anim)
    print(f"{n} frames, {anim.size[0]}×{anim.size[1]} px, 1,000 points, 6 schedule + 2 loss curves")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    ours, stats = render_ours(anim, out / "ours.mp4")
    rss_ours = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(ours.line(f"ours: blit + stream, x264 {DEFAULT_PRESET} crf {DEFAULT_CRF}"))
    print(
        f"{'':52s} [draw {stats.draw_seconds:.2f} s, waiting on ffmpeg "
        f"{stats.write_seconds + stats.close_seconds:.2f} s, of {stats.seconds:.2f} s]"
    )
    ours_medium, _ = render_ours(anim, out / "ours-medium.mp4", preset="medium", crf=23)
    print(ours_medium.line("ours: blit + stream, x264 medium crf 23"))

    x264 = ["-preset", DEFAULT_PRESET, "-crf", str(DEFAULT_CRF), "-pix_fmt", "yuv420p"]
    same = render_standard(anim, out / "standard-same-x264.mp4", x264)
    print(same.line(f"standard: FuncAnimation.save, x264 {DEFAULT_PRESET} crf {DEFAULT_CRF}"))
    default = render_standard(anim, out / "standard.mp4", None)
    print(default.line("standard: FuncAnimation.save, matplotlib defaults"))

    for name in ("ours.mp4", "standard.mp4"):
        info = probe(out / name)
        assert info.frames == n, f"{name}: {info.frames} frames decoded, expected {n}"
    print(
        f"ratio vs standard (matplotlib defaults): {ours.fps / default.fps:5.1f}× frames/s, "
        f"{default.cpu / ours.cpu:5.1f}× less CPU"
    )
    print(
        f"ratio vs standard (same x264 settings):  {ours.fps / same.fps:5.1f}× frames/s, "
        f"{same.cpu / ours.cpu:5.1f}× less CPU"
    )
    if args.follow:
        moving = synthetic_animation(args.frames, follow=True)
        ours_follow, _ = render_ours(moving, out / "ours-follow.mp4")
        print(ours_follow.line("ours, following view: blit + ruler + stream"))
        same_follow = render_standard(moving, out / "standard-follow.mp4", x264)
        print(same_follow.line("standard, following view, same x264 settings"))
        print(
            f"ratio, following view (same x264 settings): {ours_follow.fps / same_follow.fps:5.1f}× "
            f"frames/s, {same_follow.cpu / ours_follow.cpu:5.1f}× less CPU; "
            f"vs our fixed view: {ours_follow.fps / ours.fps:4.2f}× frames/s"
        )
    sizes = {p.name: p.stat().st_size / 1e6 for p in sorted(out.glob("*.mp4"))}
    print("file sizes: " + ", ".join(f"{k} {v:.1f} MB" for k, v in sizes.items()))
    print(f"peak RSS: {rss_before:.0f} MB before rendering, {rss_ours:.0f} MB after ours")
    print(f"videos in {out}")


if __name__ == "__main__":
    main()

"""The colour curriculum: a 4-D colour autoencoder learns a hue wheel because a dopesheet says so.

    python -m examples.color_curriculum [--schedule CSV] [--steps N] [--out DIR] [--seed S]
                                        [--no-video] [--resume CKPT] [--watch]
                                        [--explore [--host H] [--port P]]

Writes to a new ``out/color_curriculum/<date>-<n>/`` per run (``latest`` points to it):
``schedule.png``, ``phase-history.png``, ``latent-evolution.mp4``, ``metrics.jsonl``,
``checkpoints/`` and ``summary.json``.
``--explore`` serves the live explorer instead (see ``docs/explorer.md``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from ex_color.experiment import (
    ColorExperiment,
    build,
    make_optimizer,
    rgb_validation_grid,
    summarize,
)
from ex_color.explore import HueMetricsPanel, LatentPanel
from examples.frames import frame_plan, recorded_frames
from mini.explore.script import serve
from mini.render import (
    CurvePanel,
    LatentAnimation,
    ScatterLayer,
    schedule_panels,
    schedule_phases,
)
from mini.search.cli import add_search_arguments, run_search
from mini.temporal import Timeline, plot_timeline, realize, timeline_for
from mini.training import LatentRecorder, Trainer
from mini.training.script import (
    RunContext,
    console,
    entry,
    fit,
    latest_dopesheet,
    load_schedule,
    on_start,
    release_memory,
    script_parser,
    setup,
    watch,
)

REPO = Path(__file__).resolve().parent.parent
WEIGHTS = ["loss-recon", "reg-separate", "reg-planar", "reg-norm", "reg-anchor"]


def _unit_circle(ax) -> None:
    from matplotlib.patches import Circle

    ax.add_patch(Circle((0, 0), 1.0, fill=False, ls="--", lw=0.8, color="0.5", zorder=1))


def smoothed_losses(history: pd.DataFrame, window: int) -> pd.DataFrame:
    """Loss columns of a metrics history, rolling-mean smoothed (per-step losses are noisy)."""
    cols = [c for c in history.columns if c.startswith("losses.")]
    out = history[["step"]].copy()
    for c in cols:
        out[c.removeprefix("losses.")] = history[c].rolling(window, min_periods=1).mean()
    return out


def render_video(trainer, recorder: LatentRecorder, colors: np.ndarray, path: Path) -> float:
    """The latent space (dims 0/1 of the 1,000-colour grid) beside the schedule and losses."""
    schedule = realize(trainer.timeline)
    history = smoothed_losses(trainer.metrics.history(), window=max(1, len(schedule) // 400))
    steps, frames = recorded_frames(recorder)
    phases, starts = schedule_phases(schedule, steps)
    losses = [c for c in history.columns if c != "step"]
    anim = LatentAnimation(
        steps,
        layers=[ScatterLayer(frames["latents"].numpy(), colors=colors, size=9.0)],
        panels=[
            *schedule_panels(
                schedule,
                groups={"lr": ["lr"], "loss weights": WEIGHTS, "data-fraction": ["data-fraction"]},
                log=["lr"],
            ),
            CurvePanel.from_frame(history, losses, x="step", log=True, title="losses (smoothed)"),
        ],
        phases=phases,
        phase_starts=starts,
        title="colour autoencoder: latent dims 0/1",
        xlim=(-1.6, 1.6),
        ylim=(-1.6, 1.6),
        decorate=_unit_circle,
    )
    return anim.render(path, last_frame=path.with_name("latest.png")).frames_per_second


def arguments(argv: list[str] | None) -> argparse.Namespace:
    """The flags: the common ones (:func:`script_parser`) and ``--search``."""
    p = script_parser(
        __doc__.splitlines()[0],
        schedule=REPO / "schedules" / "color-curriculum.csv",
        out="out/color_curriculum",
        frames=600,
    )
    add_search_arguments(p)
    return p.parse_args(argv)


def build_trainer(
    args: argparse.Namespace, timeline: Timeline, out_dir, *, progress: bool = True
) -> tuple[ColorExperiment, Trainer]:
    """The model, data, criteria, bindings and trainer the flags describe — one function for
    a run and for each ``--explore`` run, so every flag means the same in both."""
    exp = build(seed=args.seed)
    trainer = exp.trainer(
        timeline, make_optimizer(exp.model), out_dir=out_dir,
        checkpoint_every=args.checkpoint_every, progress=progress, seed=args.seed,
    )  # fmt: skip
    watch(trainer, args)
    return exp, trainer


def explore(args: argparse.Namespace, run: RunContext, timeline: Timeline) -> dict:
    """``--explore``: each Start/Reset trains a fresh model (same seed) on the dopesheet —
    re-read from ``--schedule`` with ``--watch`` — into ``<out>/run-<k>/``."""
    dopesheet = latest_dopesheet(args, timeline.dopesheet)
    hue = HueMetricsPanel()
    runs: list[ColorExperiment] = []

    def make_trainer(out_dir: Path) -> Trainer:
        exp, trainer = build_trainer(args, timeline_for(dopesheet()), out_dir, progress=False)
        runs.append(exp)
        hue.anchor = exp.anchor  # the anchor drift of the run on screen
        return trainer

    return serve(
        run, make_trainer, [LatentPanel(), hue], title="colour curriculum",
        host=args.host, port=args.port, action_labels={"anchor": "Capture anchor"},
        summary=lambda trainer: summarize(runs[-1].model, runs[-1].anchor),
    )  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    args = arguments(argv)
    if args.search:
        return run_search(main, argv, args, "recon_mse:min")
    timeline = load_schedule(args.schedule, args.steps)
    run = setup(args)
    if args.explore:
        return explore(args, run, timeline)

    # the model, data and trainer
    exp, trainer = build_trainer(args, timeline, run.folder)
    n = len(timeline)
    grid = rgb_validation_grid()
    recorder = LatentRecorder(grid, frame_plan(args, n), fn=lambda m, x: m(x).latents[:, :2])
    if not args.no_video:
        trainer.add(recorder)
    outputs = [run.out / "schedule.png"]
    on_start(trainer, lambda: run.save_figure(
        plot_timeline(timeline, title=f"{args.schedule.name}: {n:,} steps"), outputs[0]
    ))  # fmt: skip

    # train
    result = fit(trainer, args.resume)
    console.print(f"trained {result.steps_run:,} steps at {result.steps_per_second:,.0f} steps/s")

    # the outputs
    history_png = run.out / "phase-history.png"
    outputs += [
        exp.plotter.save(history_png) if run.is_main else history_png,
        run.out / "metrics.jsonl",
        trainer.last_checkpoint,
    ]
    summary = {
        "steps": len(trainer.timeline),  # a --watch edit may change the length
        **summarize(exp.model, exp.anchor),
        "train_steps_per_second": result.steps_per_second,
        "outputs": [str(p) for p in [*outputs, run.summary_path]],
    }
    video = None
    if not args.no_video:
        run.write_summary({**summary, "video": {"ok": None}})
        release_memory()
        path = run.out / "latent-evolution.mp4"
        video = run.render_optional(
            "video", path, lambda: render_video(trainer, recorder, grid.numpy(), path)
        )
        if video["ok"]:
            summary["outputs"][-1:-1] = [str(path), str(path.with_name("latest.png"))]
    return run.finish(summary, video)


if __name__ == "__main__":
    entry(main)

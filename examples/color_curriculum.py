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

from ex_color.experiment import (
    ColorExperiment,
    build,
    make_optimizer,
    rgb_validation_grid,
    summarize,
)
from ex_color.explore import HueMetricsPanel, LatentPanel
from examples.common import (
    console,
    entry,
    explore,
    finish,
    fit,
    is_main,
    latest_dopesheet,
    load_schedule,
    on_start,
    parser,
    release_memory,
    render_optional,
    save_figure,
    setup,
    smoothed_losses,
    watch,
    write_summary,
)
from examples.frames import frame_plan, recorded_frames
from mini.render import (
    CurvePanel,
    LatentAnimation,
    ScatterLayer,
    schedule_panels,
    schedule_phases,
)
from mini.search.cli import add_search_arguments, run_search
from mini.temporal import Timeline, plot_timeline, realize
from mini.training import LatentRecorder, Trainer

WEIGHTS = ["loss-recon", "reg-separate", "reg-planar", "reg-norm", "reg-anchor"]


def _unit_circle(ax) -> None:
    from matplotlib.patches import Circle

    ax.add_patch(Circle((0, 0), 1.0, fill=False, ls="--", lw=0.8, color="0.5", zorder=1))


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


def explore_runs(args: argparse.Namespace, timeline: Timeline) -> dict:
    """``--explore``: each Start/Reset trains a fresh model (same seed) on the dopesheet —
    re-read from ``--schedule`` with ``--watch`` — into ``<out>/run-<k>/``."""
    runs: list[ColorExperiment] = []
    dopesheet = latest_dopesheet(args, timeline.dopesheet)

    hue = HueMetricsPanel()

    def make_trainer() -> Trainer:
        exp = build(seed=args.seed)
        runs.append(exp)
        hue.anchor = exp.anchor  # the anchor drift of the run on screen
        trainer = exp.trainer(
            Timeline(dopesheet()), make_optimizer(exp.model), out_dir=args.out / f"run-{len(runs)}",
            checkpoint_every=args.checkpoint_every, progress=False, seed=args.seed,
        )  # fmt: skip
        watch(trainer, args)
        return trainer

    return explore(
        args, make_trainer, [LatentPanel(), hue], title="colour curriculum",
        action_labels={"anchor": "Capture anchor"},
        summary=lambda trainer: summarize(runs[-1].model, runs[-1].anchor),
    )  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    p = parser(__doc__.splitlines()[0], "color-curriculum.csv", "color_curriculum", 600)
    add_search_arguments(p)
    args = p.parse_args(argv)
    if args.search:
        return run_search(main, argv, args, "recon_mse:min")
    timeline = load_schedule(args.schedule, args.steps)
    run = setup(args)
    if args.explore:
        return explore_runs(args, timeline)
    n = len(timeline)
    exp = build(seed=args.seed)
    trainer = exp.trainer(
        timeline,
        make_optimizer(exp.model),
        out_dir=run,
        checkpoint_every=args.checkpoint_every,
    )
    grid = rgb_validation_grid()
    recorder = LatentRecorder(grid, frame_plan(args, n), fn=lambda m, x: m(x).latents[:, :2])
    if not args.no_video:
        trainer.add(recorder)
    outputs = [args.out / "schedule.png"]
    on_start(trainer, lambda: save_figure(
        plot_timeline(timeline, title=f"{args.schedule.name}: {n:,} steps"), outputs[0]
    ))  # fmt: skip

    watch(trainer, args)
    result = fit(trainer, args.resume)
    console.print(f"trained {result.steps_run:,} steps at {result.steps_per_second:,.0f} steps/s")
    history_png = args.out / "phase-history.png"
    outputs += [
        exp.plotter.save(history_png) if is_main() else history_png,
        args.out / "metrics.jsonl",
    ]
    outputs.append(trainer.last_checkpoint)
    summary = {
        "steps": len(trainer.timeline),  # a --watch edit may change the length
        **summarize(exp.model, exp.anchor),
        "train_steps_per_second": result.steps_per_second,
        "outputs": [str(p) for p in [*outputs, args.out / "summary.json"]],
    }
    video = None
    if not args.no_video:
        write_summary(args.out / "summary.json", {**summary, "video": {"ok": None}})
        release_memory()
        path = args.out / "latent-evolution.mp4"
        video = render_optional(
            "video", path, lambda: render_video(trainer, recorder, grid.numpy(), path)
        )
        if video["ok"]:
            summary["outputs"][-1:-1] = [str(path), str(path.with_name("latest.png"))]
    return finish(args.out / "summary.json", summary, video)


if __name__ == "__main__":
    entry(main)

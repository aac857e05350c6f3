"""The VQ curriculum: a digits VQ-VAE whose codebook temperature, commitment and refreshes a
dopesheet schedules.

    python -m examples.vq_curriculum [--schedule CSV] [--steps N] [--levels D] [--codes K]
                                     [--latent-dim E] [--out DIR] [--seed S] [--no-video]
                                     [--no-refresh] [--refresh-every N] [--resume CKPT]
                                     [--relaxation sample|gumbel|soft] [--learn ema|loss]
                                     [--gradient straight-through|rotation] [--targets] [--watch]
                                     [--explore [--host H] [--port P]]

Writes to a new ``out/vq_curriculum/<date>-<n>/`` per run (``latest`` points to it):
``schedule.png``, ``codebook-evolution.mp4``, ``reconstructions.png``, ``codebook-health.png``,
``metrics.jsonl``, ``checkpoints/`` and ``summary.json``. ``--no-refresh`` drops the dopesheet's ``refresh`` actions (the ablation run);
``--refresh-every N`` also refreshes dead codes every N steps. ``--targets`` runs the
configuration that meets the production targets on held-out digits (:data:`TARGETS_CONFIG`:
``schedules/vq-targets.csv`` plus model flags); flags given on the command line override it.
Every figure in ``summary.json`` without a ``train_`` prefix is measured on the held-out split.
``--explore`` serves the live explorer instead (see ``docs/explorer.md``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from rich.table import Table

from examples.frames import frame_plan, recorded_frames
from mini.explore.script import serve
from mini.search.cli import add_search_arguments, run_search
from mini.temporal import Dopesheet, Timeline, plot_timeline, realize, timeline_for
from mini.training import LatentRecorder, Trainer
from mini.training.script import (
    RunContext,
    console,
    entry,
    fit,
    int_at_least,
    latest_dopesheet,
    load_schedule,
    on_start,
    script_parser,
    setup,
    watch,
)
from vq.quantizer import GRADIENTS, LEARN, RELAXATIONS
from vq.residual import quantizer_levels
from vq.train.data import test_as_validation, with_test_split
from vq.train.experiment import (
    VQExperiment,
    build,
    codebook_probe,
    make_optimizer,
    summarize,
    without_actions,
)
from vq.viz.explore import panels as vq_panels
from vq.viz.plots import class_examples, plot_codebook_health, plot_reconstructions
from vq.viz.video import codebook_animation

REPO = Path(__file__).resolve().parent.parent
TARGETS_CONFIG: dict[str, object] = {
    "schedule": REPO / "schedules" / "vq-targets.csv",
    "latent_dim": 32,
    "codes": 64,
    "levels": 10,
}
"""What ``--targets`` sets (as defaults: flags given on the command line still win)."""

TARGETS = {  # summary key -> (comparison, bound): the production targets, on held-out digits
    "recon_quality": (">", 0.90),
    "utilization": (">", 0.80),
    "orthogonality": ("<", 0.25),  # the worst level's, so it holds on every level
    "topographic_correlation": (">", 0.85),
}


def arguments(argv: list[str] | None) -> argparse.Namespace:
    p = script_parser(
        __doc__.splitlines()[0],
        schedule=REPO / "schedules" / "vq-curriculum.csv",
        out="out/vq_curriculum",
        frames=300,
    )
    p.add_argument("--levels", type=int_at_least(1), default=2, help="residual quantizer levels")
    p.add_argument("--codes", type=int_at_least(1), default=16, help="codes per level")
    p.add_argument(
        "--latent-dim", type=int_at_least(1), default=2, help="latent size (2 draws codes as is)"
    )
    p.add_argument("--batch-size", type=int_at_least(1), default=256)
    p.add_argument(
        "--health-every", type=int_at_least(1), default=50,
        help="held-out metrics and codebook health every N steps",
    )  # fmt: skip
    p.add_argument("--no-refresh", action="store_true", help="drop the dopesheet's refresh actions")
    p.add_argument(
        "--refresh-every", type=int_at_least(1), default=None, metavar="N",
        help="also re-seed dead codes every N steps (once a level's usage window is full)",
    )  # fmt: skip
    p.add_argument(
        "--relaxation", choices=RELAXATIONS, default="sample",
        help="while the temperature is up: sample hard codes, straight-through Gumbel-softmax, "
        "or the soft expectation",
    )  # fmt: skip
    p.add_argument(
        "--learn", choices=LEARN, default="ema",
        help="codebook by EMA (a buffer, ema-decay) or by loss (a parameter, lr-codebook)",
    )  # fmt: skip
    p.add_argument("--gradient", choices=GRADIENTS, default="straight-through")
    p.add_argument(
        "--targets", action="store_true",
        help="the configuration that meets the production targets on held-out digits "
        "(schedules/vq-targets.csv plus model flags; other flags override it)",
    )  # fmt: skip
    p.add_argument(
        "--test-split", action="store_true",
        help="hold out half the validation digits as test digits (summary.json: 'test')",
    )  # fmt: skip
    add_search_arguments(p)
    args = p.parse_args(argv)
    if args.targets:  # the preset becomes the defaults, so explicit flags still win
        p.set_defaults(**TARGETS_CONFIG)
        args = p.parse_args(argv)
    return args


def experiment(args: argparse.Namespace) -> VQExperiment:
    """The model, data, criteria and handlers the flags describe."""
    exp = build(
        args.latent_dim, args.codes, args.levels,
        seed=args.seed, batch_size=args.batch_size, health_every=args.health_every,
        refresh=not args.no_refresh, refresh_every=args.refresh_every,
        relaxation=args.relaxation, learn=args.learn, gradient=args.gradient,
    )  # fmt: skip
    if args.test_split:  # test digits that no run or search validates on
        exp.data = with_test_split(exp.data, args.seed)
        exp.monitor.validation = (exp.data.val, exp.data.val_labels)
    return exp


def schedule(args: argparse.Namespace, dopesheet: Dopesheet) -> Timeline:
    """The dopesheet as trained (following its gates if it has a ``GATE`` column):
    ``--no-refresh`` drops its ``refresh`` actions."""
    if args.no_refresh:
        dopesheet = without_actions(dopesheet, {"refresh"})
    return timeline_for(dopesheet)


def build_trainer(
    args: argparse.Namespace, timeline: Timeline, out_dir, *, progress: bool = True
) -> tuple[VQExperiment, Trainer]:
    """The experiment and trainer the flags describe — one function for a run and for each
    ``--explore`` run, so every flag means the same in both."""
    exp = experiment(args)
    trainer = exp.trainer(
        timeline, make_optimizer(exp.model), out_dir=out_dir,
        checkpoint_every=args.checkpoint_every, seed=args.seed, progress=progress,
    )  # fmt: skip
    watch(trainer, args)
    return exp, trainer


def check_targets(summary: dict) -> dict[str, dict[str, object]]:
    """Each production target with its held-out value and whether the run meets it."""
    out: dict[str, dict[str, object]] = {}
    for key, (op, bound) in TARGETS.items():
        value = float(summary[key])
        met = value > bound if op == ">" else value < bound
        out[key] = {"value": value, "target": f"{op} {bound}", "met": bool(met)}
    return out


def render_video(
    trainer: Trainer, recorder: LatentRecorder, exp: VQExperiment, history, path: Path
) -> float:
    model = exp.model
    sizes = "×".join(str(q.codebook_size) for q in quantizer_levels(model.quantizer))
    steps, frames = recorded_frames(recorder)
    anim = codebook_animation(
        steps,
        frames,
        exp.data.val_labels,
        realize(trainer.timeline),
        history,
        trainer.timeline.dopesheet,
        title=f"VQ-VAE on digits: {sizes} codes, {model.quantizer.dim}-D latent",
    )
    return anim.render(path, last_frame=path.with_name("latest.png")).frames_per_second


def explore(args: argparse.Namespace, run: RunContext, timeline: Timeline) -> dict:
    """``--explore``: each Start/Reset trains a fresh model (same seed) on the dopesheet —
    re-read from ``--schedule`` with ``--watch`` — into ``<out>/run-<k>/``."""
    dopesheet = latest_dopesheet(args, timeline.dopesheet)
    runs: list[VQExperiment] = []

    def make_trainer(out_dir: Path) -> Trainer:
        exp, trainer = build_trainer(args, schedule(args, dopesheet()), out_dir, progress=False)
        runs.append(exp)
        return trainer

    probe = experiment(args)
    return serve(
        run, make_trainer, vq_panels(probe.model, probe.data.val, probe.data.val_labels),
        title="VQ curriculum", host=args.host, port=args.port,
        action_labels={"refresh": "Refresh dead codes"},
        summary=lambda trainer: summarize(runs[-1].model, runs[-1].data),
    )  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    t0 = time.perf_counter()
    args = arguments(argv)
    if args.search:
        return run_search(main, argv, args, "recon_quality:max", ["--test-split"])
    timeline = load_schedule(args.schedule, args.steps)
    run = setup(args)
    if args.explore:
        return explore(args, run, timeline)
    if args.no_refresh:
        timeline = schedule(args, timeline.dopesheet)

    # the model, data and trainer
    exp, trainer = build_trainer(args, timeline, run.folder)
    ds = timeline.dopesheet
    n = len(timeline)
    label = args.schedule.name + (" without refresh" if args.no_refresh else "")
    recorder = LatentRecorder(exp.data.val, frame_plan(args, n), fn=codebook_probe)
    if not args.no_video:
        trainer.add(recorder)
    out = run.out
    outputs = [out / "schedule.png"]
    on_start(trainer, lambda: run.save_figure(
        plot_timeline(timeline, title=f"{label}: {n:,} steps"), outputs[0]
    ))  # fmt: skip

    # train
    result = fit(trainer, args.resume)
    console.print(f"trained {result.steps_run:,} steps at {result.steps_per_second:,.0f} steps/s")

    # the outputs: held-out figures, codebook health, reconstructions, summary.json, the video
    summary_figures = summarize(exp.model, exp.data, args.seed)
    history = trainer.metrics.history()
    levels = quantizer_levels(exp.model.quantizer)
    health = plot_codebook_health(
        history,
        [q.codebook_size for q in levels],
        phase_starts=[(p.start, p.name) for p in ds.phases],
        refresh_steps=[s for s, a in ds.actions if a == "refresh"],
        title=f"codebook health: {label}",
    )
    outputs.append(run.save_figure(health, out / "codebook-health.png"))
    idx = class_examples(exp.data.val_labels, per_class=2)
    exp.model.eval()
    with torch.no_grad():
        recon = exp.model(exp.data.val[idx]).outputs
    grid = plot_reconstructions(
        exp.data.val[idx],
        recon,
        title=f"validation digits and reconstructions (quality "
        f"{summary_figures['recon_quality']:.3f})",
    )
    outputs += [
        run.save_figure(grid, out / "reconstructions.png"),
        out / "metrics.jsonl",
        trainer.last_checkpoint,
    ]
    summary = {
        "steps": len(trainer.timeline),  # a --watch edit may change the length
        **summary_figures,
        "targets": check_targets(summary_figures),
        **(
            {"test": summarize(exp.model, test_as_validation(exp.data), args.seed)}
            if args.test_split
            else {}
        ),
        "train_steps_per_second": result.steps_per_second,
        "outputs": [str(p) for p in [*outputs, run.summary_path]],
        "wall_seconds": time.perf_counter() - t0,
        "refresh_actions": sum(1 for _, a in ds.actions if a == "refresh"),
        "latent_dim": args.latent_dim,
        "codes": args.codes,
        "relaxation": args.relaxation,
        "learn": args.learn,
        "gradient": args.gradient,
        "refresh_every": args.refresh_every,
        "seed": args.seed,
        "schedule": str(args.schedule),
    }
    video = None
    if not args.no_video:
        run.write_summary({**summary, "video": {"ok": None}})
        path = out / "codebook-evolution.mp4"
        video = run.render_optional(
            "video", path, lambda: render_video(trainer, recorder, exp, history, path)
        )
        if video["ok"]:
            summary["outputs"][-1:-1] = [str(path), str(path.with_name("latest.png"))]
    summary["wall_seconds"] = time.perf_counter() - t0
    if run.is_main:
        print_targets(summary["targets"])
    return run.finish(summary, video)


def print_targets(targets: dict[str, dict[str, object]]) -> None:
    table = Table(title="production targets, held-out digits")
    for col in ("metric", "value", "target", "met"):
        table.add_column(col)
    for key, t in targets.items():
        met = "[green]yes[/green]" if t["met"] else "[red]no[/red]"
        table.add_row(key, f"{t['value']:.3f}", str(t["target"]), met)
    console.print(table)


if __name__ == "__main__":
    entry(main)

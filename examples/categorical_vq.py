"""Categorical VQ-VAE tokenizer: feature categories discovered or learned, the assignment
temperature on the dopesheet.

    python -m examples.categorical_vq [--mode static|learnable] [--data synthetic|breast-cancer|wine|PATH]
                                      [--features A,B,...] [--exclude C,...] [--steps N]
                                      [--seed S] [--out DIR] [--no-video]
                                      [--explore [--host H] [--port P]] [--watch]
    python -m examples.categorical_vq encode --checkpoint CKPT [--data ...] --out tokens.npz

Writes to ``out/categorical_vq/``: ``summary.json``, ``metrics.jsonl``, ``schedule.png``,
``assignment-<phase>.png`` at each phase end, ``assignment.mp4`` (the assignment sharpening as
the temperature falls), ``checkpoints/`` (``best.pt`` by the composite validation score).
``--explore`` serves the live explorer instead (see ``docs/explorer.md``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from mini.explore.script import serve
from mini.search.cli import add_search_arguments, run_search
from mini.temporal import Timeline, plot_timeline, realize, timeline_for
from mini.training import CheckpointError, Trainer
from mini.training.events import Event
from mini.training.script import (
    RunContext,
    console,
    entry,
    fail,
    fit,
    int_at_least,
    latest_dopesheet,
    load_schedule,
    on_start,
    script_parser,
    setup,
    watch,
)
from vq.tokenizer.explore import panels as categorical_panels
from vq.tokenizer.run import CategoricalRun, build, final_summary
from vq.tokenizer.table_sources import load_table
from vq.tokenizer.tabular import FeatureTable, TableError
from vq.tokenizer.video import feature_labels, plot_assignment, render_assignment_video

REPO = Path(__file__).resolve().parent.parent


def _names(text: str | None) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()] if text else []


def data_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data", default="synthetic",
        help="synthetic (planted groups), breast-cancer or wine (scikit-learn's, offline), "
        "planted:<family> (a table of the planted-structure suite, seeded by --seed) or a "
        ".csv/.parquet/.npz table (one row per sample, one numeric column per feature)",
    )  # fmt: skip
    p.add_argument("--features", default=None, help="comma-separated columns to use (default all)")
    p.add_argument("--exclude", default=None, help="comma-separated columns to leave out")


def arguments(argv: list[str] | None) -> argparse.Namespace:
    p = script_parser(
        __doc__.splitlines()[0],
        schedule=REPO / "schedules" / "categorical-vq.csv",
        out="out/categorical_vq",
        frames=100,
    )
    p.add_argument("--mode", choices=("static", "learnable"), default="learnable")
    data_flags(p)
    p.add_argument(
        "--max-categories", type=int_at_least(2), default=6,
        help="categories (learnable) or the most the silhouette may choose (static)",
    )  # fmt: skip
    p.add_argument("--latent-dim", type=int_at_least(1), default=3, help="latent size per category")
    p.add_argument("--levels", type=int_at_least(1), default=3, help="residual levels per category")
    p.add_argument("--codes", type=int_at_least(2), default=16, help="codes per level")
    p.add_argument("--batch-size", type=int_at_least(2), default=256)
    p.add_argument(
        "--eval-every", type=int_at_least(1), default=100, help="held-out metrics every N steps"
    )
    p.add_argument(
        "--weight-decay", type=float, default=0.1,
        help="AdamW weight decay of the encoders and decoders (not of the assignment logits); "
        "it keeps small tables such as breast-cancer's 455 training rows from being memorised",
    )  # fmt: skip
    add_search_arguments(p)
    return p.parse_args(argv)


def display_names(run: CategoricalRun) -> list[str]:
    """Feature names for the pictures, with their planted group when the data has one."""
    return feature_labels(run.split.features, run.split.table.groups)


def phase_heatmap(run: CategoricalRun, ctx: RunContext, outputs: list[Path]):
    """A ``phase-end`` handler: the assignment heatmap at the end of each phase."""

    def handler(event: Event) -> None:
        slug = (event.phase or "start").lower().replace(" ", "-")
        path = ctx.out / f"assignment-{slug}.png"
        title = f"{run.mode} assignment at the end of {event.phase} (step {event.step:,})"
        ctx.save_figure(plot_assignment(run.model.assignment.soft().detach().numpy(),
                                        display_names(run), title), path)  # fmt: skip
        if path not in outputs:
            outputs.append(path)

    return handler


def build_run(args: argparse.Namespace, table: FeatureTable, steps: int) -> CategoricalRun:
    """The tokenizer, its data and handlers the flags describe (a fresh model each call)."""
    return build(
        table, args.mode, data=args.data, max_categories=args.max_categories,
        latent_dim=args.latent_dim, levels=args.levels, codes=args.codes,
        batch_size=args.batch_size, eval_every=args.eval_every,
        frame_every=-(-steps // args.frames), weight_decay=args.weight_decay, seed=args.seed,
    )  # fmt: skip


def build_trainer(
    args: argparse.Namespace, run: CategoricalRun, timeline: Timeline, out_dir, *,
    progress: bool = True,
) -> Trainer:  # fmt: skip
    """The trainer the flags describe — one function for a run and for each ``--explore``
    run, so every flag means the same in both."""
    trainer = run.trainer(
        timeline, out_dir=out_dir, checkpoint_every=args.checkpoint_every, seed=args.seed,
        progress=progress,
    )  # fmt: skip
    watch(trainer, args)
    return trainer


def explore(
    args: argparse.Namespace, ctx: RunContext, timeline: Timeline, table: FeatureTable,
    probe: CategoricalRun,
) -> dict:  # fmt: skip
    """``--explore``: each Start/Reset trains a fresh tokenizer (same seed) on the dopesheet —
    re-read from ``--schedule`` with ``--watch`` — into ``<out>/run-<k>/``."""
    dopesheet = latest_dopesheet(args, timeline.dopesheet)
    runs: list[CategoricalRun] = []

    def make_trainer(out_dir: Path) -> Trainer:
        runs.append(build_run(args, table, len(timeline)))
        return build_trainer(args, runs[-1], timeline_for(dopesheet()), out_dir, progress=False)

    return serve(
        ctx, make_trainer, categorical_panels(probe),
        title=f"categorical VQ ({args.mode}, {args.data})", host=args.host, port=args.port,
        action_labels={"harden": "Harden assignment", "refresh": "Refresh dead codes"},
        summary=lambda trainer: final_summary(runs[-1])[1],
    )  # fmt: skip


def train(argv: list[str] | None) -> dict:
    t0 = time.perf_counter()
    args = arguments(argv)
    if args.search:
        return run_search(main, argv, args, "recon_quality:max")
    timeline = load_schedule(args.schedule, args.steps)
    try:  # the data and the tokenizer: a table that cannot be tokenized is refused here
        table = load_table(args.data, features=_names(args.features) or None,
                           exclude=_names(args.exclude), seed=args.seed)  # fmt: skip
        run = build_run(args, table, len(timeline))
    except TableError as e:
        fail(str(e))
    ctx = setup(args)
    if args.explore:
        return explore(args, ctx, timeline, table, run)

    # the trainer
    trainer = build_trainer(args, run, timeline, ctx.folder)
    out = ctx.out
    outputs: list[Path] = [out / "schedule.png"]
    trainer.on("phase-end", phase_heatmap(run, ctx, outputs))
    n = len(trainer.timeline)
    on_start(trainer, lambda: ctx.save_figure(
        plot_timeline(trainer.timeline, title=f"{args.schedule.name}: {n:,} steps"), outputs[0]
    ))  # fmt: skip
    if run.discovery is not None:
        what = "categories" if args.mode == "static" else "starting assignment"
        console.print(f"discovery ({what}): K = {run.discovery.k}, "
                      f"{run.discovery.split} group(s) split for capacity")  # fmt: skip

    # train
    result = fit(trainer, args.resume)
    console.print(f"trained {result.steps_run:,} steps at {result.steps_per_second:,.0f} steps/s")

    # the outputs
    _, figures = final_summary(run)
    outputs += [
        out / "metrics.jsonl",
        *([trainer.last_checkpoint] if trainer.last_checkpoint else []),
    ]
    if trainer.best is not None and trainer.best.get("path"):
        outputs.append(Path(trainer.best["path"]))
    summary = {
        "mode": args.mode,
        "data": args.data,
        **figures,
        "steps_per_second": result.steps_per_second,
        "steps": n,
        "seed": args.seed,
        "schedule": str(args.schedule),
        "best": trainer.best,
        "discovered_k": run.discovery.k if run.discovery else None,
        "unattached_features": (
            [run.split.features[i] for i in run.discovery.unattached] if run.discovery else []
        ),
        "outputs": [str(p) for p in [*outputs, ctx.summary_path]],
        "wall_seconds": time.perf_counter() - t0,
    }
    video = None
    if not args.no_video:
        ctx.write_summary({**summary, "video": {"ok": None}})
        path = out / "assignment.mp4"
        history = pd.DataFrame(run.evaluator.history)
        frames = [f.numpy() for f in run.frames.frames]
        title = f"{args.mode} categorical VQ on {args.data}"
        video = ctx.render_optional("video", path, lambda: render_assignment_video(
            path, run.frames.steps, frames, display_names(run), realize(trainer.timeline),
            history, title=title,
        ))  # fmt: skip
        if video["ok"]:
            summary["outputs"].insert(-1, str(path))
    summary["wall_seconds"] = time.perf_counter() - t0
    return ctx.finish(summary, video)


def encode(argv: list[str]) -> dict:
    """``encode --checkpoint CKPT [--data ...] --out tokens.npz``: tokens for every row."""
    from vq.tokenizer.tokens import load_tokenizer, save_tokens

    p = argparse.ArgumentParser(prog="python -m examples.categorical_vq encode",
                                description=encode.__doc__)  # fmt: skip
    p.add_argument("--checkpoint", type=Path, required=True, help="a checkpoint file or run folder")
    data_flags(p)
    p.set_defaults(data=None)
    p.add_argument("--seed", type=int, default=None, help="seed of the synthetic table")
    p.add_argument("--out", type=Path, default=Path("tokens.npz"))
    args = p.parse_args(argv)
    try:
        tok = load_tokenizer(args.checkpoint)
        data = args.data or tok.spec.data
        seed = tok.spec.seed if args.seed is None else args.seed
        table = load_table(data, features=_names(args.features) or None,
                           exclude=_names(args.exclude), seed=seed)  # fmt: skip
        codes = tok.encode(table)
    except (TableError, CheckpointError) as e:
        fail(str(e))
    save_tokens(args.out, tok, codes)
    info = {"tokens": str(args.out), "rows": len(codes), "categories": tok.categories(),
            "levels": int(codes.shape[2]), "data": data}  # fmt: skip
    console.print_json(data=info)
    return info


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["encode"]:
        return encode(argv[1:])
    return train(argv)


if __name__ == "__main__":
    entry(main)

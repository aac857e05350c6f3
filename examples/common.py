"""What both runnable examples share: arguments, loading the dopesheet, running, summary.json."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import torch
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from mini.atomic import OutputError, atomic_write, write_text
from mini.temporal import (
    Dopesheet,
    DopesheetError,
    GatedTimeline,
    GateMetricError,
    Timeline,
    timeline_for,
)
from mini.training import (
    CheckpointError,
    ConfigError,
    FitResult,
    NonFiniteLossError,
    RunDir,
    RunDirError,
    Trainer,
    distributed,
)
from mini.training.gate_handler import GateHandler
from mini.training.run_dir import claim_run_dir, new_run_folder, run_folder_of
from mini.training.watch import DopesheetWatcher

REPO = Path(__file__).resolve().parent.parent
console = Console(stderr=True)


def int_at_least(low: int, meaning: str = "") -> Callable[[str], int]:
    """An argparse ``type``: a whole number ``>= low``; anything else is a usage error naming
    the flag and the valid range (argparse adds the flag)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            what = f" ({meaning})" if meaning else ""
            raise argparse.ArgumentTypeError(
                f"{value} is out of range: use a number >= {low}{what}"
            )
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def port_number(text: str) -> int:
    """An argparse ``type``: a TCP port, 1–65535."""
    value = int_at_least(1, "a TCP port")(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{value} is out of range: use a port from 1 to 65535")
    return value


port_number.__name__ = "port"


def parser(description: str, schedule: str, out: str, frames: int) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--schedule", type=Path, default=REPO / "schedules" / schedule, help="dopesheet CSV"
    )
    p.add_argument(
        "--steps",
        type=int_at_least(2),
        default=None,
        help="rescale the schedule to N steps (quick look)",
    )
    p.add_argument(
        "--out", type=Path, default=None,
        help=f"output folder (default: a new out/{out}/<date>-<n>/ per run, out/{out}/latest "
        "pointing to the newest; with --resume, the resumed run's folder)",
    )  # fmt: skip
    p.set_defaults(out_base=Path("out") / out)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-video", action="store_true", help="skip the MP4")
    p.add_argument(
        "--frames",
        type=int_at_least(2),
        default=frames,
        help="video frames (dense early, sparse late)",
    )
    p.add_argument(
        "--resume", type=Path, default=None,
        help="checkpoint file or run folder to resume (a corrupt newest checkpoint falls back "
        "to the previous one)",
    )  # fmt: skip
    p.add_argument(
        "--watch", action="store_true",
        help="adopt saved edits of the --schedule file during the run (invalid edits are "
        "reported and ignored)",
    )  # fmt: skip
    p.add_argument(
        "--overwrite", action="store_true",
        help="replace the run in --out (only a run folder, one with run.json, and only the "
        "files runs write there; other files stay)",
    )  # fmt: skip
    p.add_argument(
        "--checkpoint-every", type=int_at_least(0), default=2000,
        help="checkpoint every N steps (0: only at phase ends and the end of the run)",
    )  # fmt: skip
    p.add_argument(
        "--threads", type=int_at_least(1), default=1,
        help="torch threads (tiny models run fastest on one; more only adds sync)",
    )  # fmt: skip
    p.add_argument(
        "--explore", action="store_true",
        help="steer the run from a local web page: Start/Pause/Reset, a slider per dopesheet "
        "property, action buttons, Save as dopesheet (needs pip install 'dopesheet[explore]')",
    )  # fmt: skip
    p.add_argument(
        "--host", default="127.0.0.1",
        help="address the --explore page listens on (default 127.0.0.1: this machine only)",
    )  # fmt: skip
    p.add_argument(
        "--port", type=port_number, default=None,
        help="port of the --explore page (default: a free one)",
    )  # fmt: skip
    p.add_argument(
        "--onednn", action="store_true",
        help="use oneDNN (mkldnn) kernels; off by default: on these tiny models its per-call "
        "setup costs more than it saves (~20%% more steps/s without it)",
    )  # fmt: skip
    return p


MAIN = True  # this process writes outputs (False on torchrun ranks other than 0)

# Exit codes of the examples (documented in the README).
EXIT_BAD_INPUT, EXIT_NON_FINITE, EXIT_OUTPUT_FAILED, EXIT_INTERRUPTED = 2, 3, 4, 130


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print a user-facing error (no traceback) and exit."""
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    sys.exit(code)


def setup(args: argparse.Namespace) -> RunDir | Path | None:
    """Logging, threads, the process group under ``torchrun`` (``args.dist``), and the output
    folder of this run (``args.out``, ``args.run``).

    Without ``--out`` a fresh run gets a new folder of its own (:func:`new_run_folder`) and a
    resumed one its checkpoint's run folder. A fresh run's folder is claimed at once (a folder
    that holds another run is refused before anything is written; ``--overwrite`` replaces a
    run). A resumed run's folder is claimed by the trainer only once the checkpoint is known to
    fit (``args.run`` is then the path), so a failed resume changes nothing. Under ``torchrun``
    only rank 0 writes files; the other ranks get ``None``."""
    global MAIN
    try:
        args.dist = distributed.setup()
    except (RuntimeError, ValueError) as e:  # a rank that never joined, a bad rendezvous
        fail(f"cannot join the torchrun process group: {str(e).splitlines()[0][:200]}")
    MAIN = args.dist.is_main
    logging.basicConfig(
        level=logging.INFO if MAIN else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    torch.set_num_threads(args.threads)
    torch.backends.mkldnn.enabled = args.onednn
    args.run = None
    if args.out is None and args.resume is not None:
        args.out = run_folder_of(args.resume)
    if args.out is None:
        base = getattr(args, "out_base", Path("out"))
        args.out = new_run_folder(base) if MAIN else base
        if MAIN:
            console.print(f"writing to {args.out}", highlight=False)
    if MAIN:
        if args.resume is not None:
            args.run = args.out
            return args.run
        try:
            args.run = claim_run_dir(args.out, overwrite=args.overwrite)
        except (RunDirError, OSError) as e:
            fail(str(e))
    return args.run


def is_main() -> bool:
    """Whether this process writes the run's outputs (always, unless a non-zero torchrun rank)."""
    return MAIN


def read_dopesheet(path: Path, steps: int | None) -> Dopesheet:
    """The dopesheet at ``path``, rescaled to ``steps`` if given (``--steps``)."""
    ds = Dopesheet.from_csv(path, total_steps=steps)  # with --steps, "50%" is half of them
    return ds.scaled(steps) if steps else ds


def latest_dopesheet(args: argparse.Namespace, first: Dopesheet) -> Callable[[], Dopesheet]:
    """For ``--explore``: the dopesheet each Start/Reset trains on — with ``--watch``,
    ``--schedule`` read again, keeping the last good one while the file cannot be read."""
    last = [first]

    def current() -> Dopesheet:
        if args.watch:
            try:
                last[0] = read_dopesheet(args.schedule, args.steps)
            except (DopesheetError, OSError) as e:
                console.print(
                    f"[red]{args.schedule} cannot be read, using the last good one:[/red] {e}"
                )
        return last[0]

    return current


def watch(trainer: Trainer, args: argparse.Namespace) -> None:
    """``--watch``: adopt saved edits of ``--schedule`` during the run (rescaled like it)."""
    if args.watch:
        trainer.add(DopesheetWatcher(args.schedule, load=lambda p: read_dopesheet(p, args.steps)))


def explore(
    args: argparse.Namespace,
    make_trainer: Callable[[], Trainer],
    panels: list[Any],
    *,
    title: str,
    action_labels: dict[str, str] | None = None,
    summary: Callable[[Trainer], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``--explore``: serve the explorer page for runs of ``make_trainer()`` until Ctrl-C, then
    stop training cleanly (its checkpoint and ``metrics.jsonl`` are written) and write
    ``summary.json`` of the run on screen into its folder (``summary(trainer)`` adds figures)."""
    if args.resume is not None or args.dist.active:
        fail("--explore starts fresh runs in one process: drop --resume and run without torchrun")
    from mini.explore import Controller, launch

    try:
        controller = Controller(
            make_trainer, panels, save_dir=args.out, action_labels=action_labels
        )
        page = launch(controller, title=title, host=args.host, port=args.port)
    except ImportError as e:
        fail(str(e))
    except OSError as e:
        fail(f"cannot serve the explorer on {args.host}:{args.port or 'a free port'}: {e}")
    console.print(
        f"explorer: [bold]{page.url}[/bold]  (runs and saved dopesheets go to {args.out}; "
        "Ctrl-C stops training cleanly)",
        highlight=False,
    )
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        console.print(
            f"[yellow]warning:[/yellow] --host {args.host}: the page has no login. Anyone who "
            f"can reach {page.url} can start, pause and reset the run, move its properties, fire "
            f"its actions, save dopesheets into {args.out} and watch its views and losses (no "
            "file of the output folder is served)"
        )
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    try:
        console.print("Ctrl-C: stopping after this step (press again to abort at once)")
        result = controller.close()
        page.close()
    except KeyboardInterrupt:
        fail("aborted by a second Ctrl-C: the step did not finish", EXIT_INTERRUPTED)
    trainer = controller.trainer
    out: dict[str, Any] = {
        "explored": True,
        "run": controller.run_number,
        "status": controller.status,
        "steps_trained": controller.snapshot().step,
        "checkpoint": str(result.checkpoint) if result and result.checkpoint else None,
        "fired": [list(f) for f in trainer.fired],
    }
    if summary is not None and controller.snapshot().step > 0:
        try:
            out.update(summary(trainer))
        except Exception as e:  # e.g. a model that went non-finite: keep the rest
            out["summary_error"] = f"{type(e).__name__}: {e}"
    error = controller.snapshot().error
    if error:
        out["error"] = error
    if trainer.out_dir is not None and trainer.out_dir.is_dir():
        write_summary(trainer.out_dir / "summary.json", out)
        console.print(f"run {controller.run_number}: outputs in {trainer.out_dir}", highlight=False)
    if error:
        fail(f"the run on screen failed: {error}", 1)
    return out


def on_start(trainer: Trainer, write: Callable[[], Any]) -> None:
    """Write an output once training starts — after a ``--resume`` checkpoint was checked and
    the folder claimed — so that a resume that fails leaves the folder as it was."""
    trainer.on("train-start", lambda event: write())


def load_schedule(path: Path, steps: int | None) -> Timeline:
    """The dopesheet, validated before anything trains (exit 2 listing every problem)."""
    try:
        ds = read_dopesheet(path, steps)
        # a sheet with a GATE column follows its gates (docs/gates.md); one with search cells
        # is refused (use --search)
        timeline = timeline_for(ds)
    except DopesheetError as e:
        console.print(f"[red]{path}: the dopesheet has problems; nothing was trained[/red]")
        for p in e.problems:
            console.print(f"  {p}", markup=False, highlight=False)
        if e.total > len(e.problems):
            console.print(
                f"  … and {e.total - len(e.problems):,} more problems ({e.total:,} in all)"
            )
        sys.exit(2)
    except OSError as e:
        console.print(f"[red]cannot read {path}: {e}[/red]")
        sys.exit(2)
    return timeline


def fit(trainer: Trainer, resume: Path | None) -> FitResult:
    """Train, turning every user-facing failure into a message and an exit code (no traceback):
    a mis-wired run or an unusable checkpoint (2), non-finite values (3, the state from before
    the failing step is saved), a full disk (2); on Ctrl-C say where the checkpoint is (130)."""
    if isinstance(trainer.timeline, GatedTimeline) and not any(
        isinstance(getattr(h, "__self__", None), GateHandler) for h in trainer.bus.handlers()
    ):
        trainer.add(GateHandler(unknown="warn"))  # held-out metrics come from handlers
    try:
        result = trainer.fit(resume=resume)
    except NonFiniteLossError as e:
        fail(str(e), EXIT_NON_FINITE)
    except (
        ConfigError,
        CheckpointError,
        RunDirError,
        distributed.DistributedError,
        GateMetricError,
    ) as e:
        fail(str(e))
    except RuntimeError as e:  # under torchrun: a dead or stalled rank ends every rank here
        dist = getattr(trainer, "dist", None)
        if dist is None or not dist.active or not distributed.is_collective_failure(e):
            raise
        fail(distributed.failure_message(e, dist))
    except OutputError as e:
        if trainer.last_checkpoint is None:  # nothing to resume from: a resume would be refused
            fail(f"{e.strerror or e}: no checkpoint was written yet; free some space and run again")
        fail(
            f"{e.strerror or e}; the last checkpoint written is {trainer.last_checkpoint}: free "
            f"some space and resume with --resume {trainer.out_dir}"
        )
    if result.interrupted or result.stopped:
        why = "interrupted" if result.interrupted else f"stopped ({result.stopped})"
        console.print(
            f"{why} after step {result.last_step}; continue with --resume {result.checkpoint}"
        )
        sys.exit(EXIT_INTERRUPTED if result.interrupted else 1)
    return result


def entry(main: Callable[[], Any]) -> None:
    """Run an example's ``main`` as a program: a failure to write an output (a full disk, a
    read-only folder) is a message and exit code 2, never a traceback."""
    try:
        main()
    except OutputError as e:
        fail(f"{e.strerror or e}: free some space (or fix the folder) and run again")


def render_optional(what: str, path: Path, render: Callable[[], float]) -> dict[str, Any]:
    """Render an optional output (the video). Its failure is reported and recorded, never fatal
    to the run's other outputs: returns the status that goes into ``summary.json``."""
    if not MAIN:
        return {"ok": None, "path": None, "error": "rendered by rank 0"}
    t = time.perf_counter()
    try:
        fps = render()
    except Exception as e:  # an optional output: any failure is reported, the run's outputs stay
        console.print(f"[red]the {what} failed:[/red] {e}", highlight=False)
        return {"ok": False, "path": None, "error": str(e)}
    console.print(f"rendered the {what} in {time.perf_counter() - t:.1f} s")
    return {"ok": True, "path": str(path), "frames_per_second": fps}


def finish(path: Path, summary: dict[str, Any], video: dict[str, Any] | None) -> dict[str, Any]:
    """Write ``summary.json`` (with the video's status) and exit non-zero if the video failed."""
    fps = video.get("frames_per_second") if video else None
    summary = {**summary, "render_frames_per_second": fps, "video": video}
    if not MAIN:
        return summary
    write_summary(path, summary)
    console.print_json(data={k: v for k, v in summary.items() if k != "outputs"})
    if video is not None and not video["ok"]:
        console.print(
            f"[red]exit {EXIT_OUTPUT_FAILED}:[/red] the video failed; summary.json and the other "
            "outputs are written"
        )
        sys.exit(EXIT_OUTPUT_FAILED)
    return summary


def release_memory() -> None:
    """Hand memory freed by training back to the OS before rendering (glibc keeps freed heap
    pages otherwise), so the run's peak is not training's leftovers plus the video's needs."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def smoothed_losses(history: pd.DataFrame, window: int) -> pd.DataFrame:
    """Loss columns of a metrics history, rolling-mean smoothed (per-step losses are noisy)."""
    cols = [c for c in history.columns if c.startswith("losses.")]
    out = history[["step"]].copy()
    for c in cols:
        out[c.removeprefix("losses.")] = history[c].rolling(window, min_periods=1).mean()
    return out


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    """``summary.json``, written atomically (numbers only; numpy scalars converted); only by
    the process that writes outputs."""
    if not MAIN:
        return

    def plain(v: Any) -> Any:
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [plain(x) for x in v]
        return v

    write_text(path, json.dumps(plain(summary), indent=2) + "\n")


def save_figure(fig: Any, path: Path, dpi: int = 110) -> Path:
    """Save a matplotlib figure atomically (only by the process that writes outputs)."""
    if not MAIN:
        return path
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format=path.suffix.lstrip(".") or "png", dpi=dpi)
    return path

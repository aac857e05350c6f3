"""The plumbing of a training script, so that the script itself reads top to bottom.

A script built on it: :func:`script_parser` (the flags every run takes, from
:mod:`mini.training.script_flags`), :func:`load_schedule`
(the dopesheet, checked before anything trains), :func:`setup` (logging, threads, torchrun, the
run folder: a :class:`RunContext`), then the script's own model, data, bindings and
:class:`~mini.training.Trainer`, then :func:`fit` and the outputs, written through the
:class:`RunContext` (only the process that writes outputs writes them). :func:`entry` runs
``main`` as a program. A user mistake anywhere — a dopesheet problem, a bad flag, a folder that
holds another run, an unusable checkpoint, a full disk — ends in one line and an
:class:`ExitCode`, never a traceback.

``--explore`` (serving the live explorer) lives in :func:`mini.explore.script.serve`.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
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
from mini.training import distributed
from mini.training.checkpoint import CheckpointError
from mini.training.checks import ConfigError
from mini.training.fit_result import FitResult
from mini.training.gate_handler import GateHandler
from mini.training.guard import NonFiniteLossError
from mini.training.run_dir import RunDir, RunDirError, claim_run_dir, new_run_folder, run_folder_of
from mini.training.script_flags import int_at_least, port_number, script_parser
from mini.training.trainer import Trainer
from mini.training.watch import DopesheetWatcher

__all__ = [
    "ExitCode",
    "RunContext",
    "console",
    "entry",
    "fail",
    "fit",
    "follow_gates",
    "int_at_least",
    "latest_dopesheet",
    "load_schedule",
    "on_start",
    "port_number",
    "preparing",
    "read_dopesheet",
    "release_memory",
    "script_parser",
    "setup",
    "watch",
]

console = Console(stderr=True, soft_wrap=True)  # a message's file:line:column stays on one line
"""Where scripts print: standard error, so standard output stays free for results."""


class ExitCode(IntEnum):
    """How a script ends (``docs/training.md`` lists them for users)."""

    OK = 0
    FAILED = 1  # the run was stopped by a handler, or the run on an explorer page failed
    BAD_INPUT = 2  # a dopesheet or flag problem, another run's folder, a checkpoint, a full disk
    NON_FINITE = 3  # non-finite values; the state from before the failing step is saved
    OUTPUT_FAILED = 4  # an optional output (the video) failed; the others are written
    INTERRUPTED = 130  # Ctrl-C: the step finished and a checkpoint was written


def fail(message: str, code: int = ExitCode.BAD_INPUT) -> NoReturn:
    """Print a user-facing error (one line, no traceback) and exit.

    Args:
        message: what is wrong and how to fix it.
        code: the exit status (an :class:`ExitCode`).
    """
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    sys.exit(int(code))


@dataclass(frozen=True)
class RunContext:
    """What :func:`setup` decided: where this run writes, and whether this process writes.

    ``folder`` is what the trainer's ``out_dir`` gets: the claimed :class:`RunDir` of a fresh
    run, the folder of a resumed one (the trainer claims it once the checkpoint fits), ``None``
    on torchrun ranks other than 0 (only rank 0 writes files). Every ``write``/``save`` method
    does nothing on those ranks, so a script calls them unconditionally.

    Args:
        out: the run's output folder (on every rank, for paths in ``summary.json``).
        folder: the trainer's ``out_dir``.
        dist: the process group (:func:`mini.training.setup_distributed`).
    """

    out: Path
    folder: RunDir | Path | None
    dist: distributed.Distributed

    @property
    def is_main(self) -> bool:
        """Whether this process writes the run's outputs (always, unless a torchrun rank > 0)."""
        return self.dist.is_main

    @property
    def summary_path(self) -> Path:
        """``<out>/summary.json``."""
        return self.out / "summary.json"

    def write_summary(self, summary: dict[str, Any], path: Path | None = None) -> None:
        """Write ``summary.json`` atomically (numpy scalars become numbers).

        Args:
            summary: the figures of the run (JSON-serialisable apart from numpy scalars).
            path: where (default :attr:`summary_path`).
        """
        if self.is_main:
            write_summary(path or self.summary_path, summary)

    def save_figure(self, fig: Any, path: Path, dpi: int = 110) -> Path:
        """Save a matplotlib figure atomically; returns ``path`` (on every rank).

        Args:
            fig: the figure.
            path: the file; its suffix picks the format (``.png`` without one).
            dpi: dots per inch.
        """
        if self.is_main:
            with atomic_write(path, "wb") as f:
                fig.savefig(f, format=path.suffix.lstrip(".") or "png", dpi=dpi)
        return path

    def render_optional(self, what: str, path: Path, render: Callable[[], float]) -> dict[str, Any]:
        """Render an optional output (a video): its failure is reported and recorded, never
        fatal to the run's other outputs. Returns its status for ``summary.json``.

        Args:
            what: its name in messages (``"video"``).
            path: the file it writes.
            render: renders it and returns frames per second.
        """
        if not self.is_main:
            return {"ok": None, "path": None, "error": "rendered by rank 0"}
        t = time.perf_counter()
        try:
            fps = render()
        except Exception as e:  # an optional output: any failure is reported, the rest stays
            console.print(f"[red]the {what} failed:[/red] {e}", highlight=False)
            return {"ok": False, "path": None, "error": str(e)}
        console.print(f"rendered the {what} in {time.perf_counter() - t:.1f} s")
        return {"ok": True, "path": str(path), "frames_per_second": fps}

    def finish(self, summary: dict[str, Any], video: dict[str, Any] | None) -> dict[str, Any]:
        """Write ``summary.json`` with the video's status, print it, and exit with
        :attr:`ExitCode.OUTPUT_FAILED` if the video failed. Returns the summary.

        Args:
            summary: the run's figures and ``outputs``.
            video: :meth:`render_optional`'s status (``None``: no video was asked for).
        """
        fps = video.get("frames_per_second") if video else None
        summary = {**summary, "render_frames_per_second": fps, "video": video}
        if not self.is_main:
            return summary
        write_summary(self.summary_path, summary)
        console.print_json(data={k: v for k, v in summary.items() if k != "outputs"})
        if video is not None and not video["ok"]:
            console.print(
                f"[red]exit {ExitCode.OUTPUT_FAILED:d}:[/red] the video failed; summary.json and "
                "the other outputs are written"
            )
            sys.exit(int(ExitCode.OUTPUT_FAILED))
        return summary


def setup(args: argparse.Namespace) -> RunContext:
    """Logging, threads, the process group under ``torchrun`` and the run's output folder.

    Without ``--out`` a fresh run gets a new folder of its own and a resumed one its
    checkpoint's run folder (``args.out`` is set to it). A fresh run's folder is claimed at once
    (a folder that holds another run is refused before anything is written; ``--overwrite``
    replaces a run); a resumed run's folder is claimed by the trainer once the checkpoint is
    known to fit, so a failed resume changes nothing. ``--explore`` with ``--resume`` or under
    torchrun is refused here, before anything is written.

    Args:
        args: the flags of a :func:`script_parser` parser.
    """
    if args.explore and args.resume is not None:
        fail("--explore starts fresh runs: drop --resume (or drop --explore to resume the run)")
    try:
        dist = distributed.setup()
    except (RuntimeError, ValueError) as e:  # a rank that never joined, a bad rendezvous
        fail(f"cannot join the torchrun process group: {str(e).splitlines()[0][:200]}")
    if args.explore and dist.active:
        fail("--explore runs in one process: run it without torchrun")
    logging.basicConfig(
        level=logging.INFO if dist.is_main else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    torch.set_num_threads(args.threads)
    torch.backends.mkldnn.enabled = args.onednn
    if args.out is None and args.resume is not None:
        args.out = run_folder_of(args.resume)
    if args.out is None:
        base = getattr(args, "out_base", Path("out"))
        args.out = new_run_folder(base) if dist.is_main else base
        if dist.is_main:
            console.print(f"writing to {args.out}", highlight=False)
    if not dist.is_main:
        return RunContext(args.out, None, dist)
    if args.resume is not None:
        return RunContext(args.out, args.out, dist)
    try:
        return RunContext(args.out, claim_run_dir(args.out, overwrite=args.overwrite), dist)
    except (RunDirError, OSError) as e:
        fail(str(e))


def read_dopesheet(path: Path, steps: int | None) -> Dopesheet:
    """The dopesheet at ``path``, rescaled to ``steps`` if given (``--steps``).

    Args:
        path: the CSV.
        steps: the run's length after rescaling (``None``: as written).
    """
    ds = Dopesheet.from_csv(path, total_steps=steps)  # with --steps, "50%" is half of them
    return ds.scaled(steps) if steps else ds


def load_schedule(path: Path, steps: int | None) -> Timeline:
    """The dopesheet as a timeline, checked before anything trains: every problem is listed
    and the script exits with :attr:`ExitCode.BAD_INPUT`. A sheet with a ``GATE`` column
    follows its gates; one with search cells is refused (search it instead).

    Args:
        path: the CSV (``--schedule``).
        steps: the run's length after rescaling (``--steps``; ``None``: as written).
    """
    try:
        timeline = timeline_for(read_dopesheet(path, steps))
    except DopesheetError as e:
        console.print(f"[red]{path}: the dopesheet has problems; nothing was trained[/red]")
        for p in e.problems:
            console.print(f"  {p}", markup=False, highlight=False)
        if e.total > len(e.problems):
            console.print(
                f"  … and {e.total - len(e.problems):,} more problems ({e.total:,} in all)"
            )
        sys.exit(int(ExitCode.BAD_INPUT))
    except OSError as e:
        console.print(f"[red]cannot read {path}: {e}[/red]")
        sys.exit(int(ExitCode.BAD_INPUT))
    return timeline


def latest_dopesheet(args: argparse.Namespace, first: Dopesheet) -> Callable[[], Dopesheet]:
    """For ``--explore``: the dopesheet each Start/Reset trains on — with ``--watch``,
    ``--schedule`` read again, keeping the last good one while the file cannot be read.

    Args:
        args: the flags of a :func:`script_parser` parser.
        first: the dopesheet the script started with.
    """
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
    """``--watch``: adopt saved edits of ``--schedule`` during the run (rescaled like it).

    Args:
        trainer: the run's trainer.
        args: the flags of a :func:`script_parser` parser.
    """
    if args.watch:
        trainer.add(DopesheetWatcher(args.schedule, load=lambda p: read_dopesheet(p, args.steps)))


def on_start(trainer: Trainer, write: Callable[[], Any]) -> None:
    """Write an output once training starts — after a ``--resume`` checkpoint was checked and
    the folder claimed — so that a resume that fails leaves the folder as it was.

    Args:
        trainer: the run's trainer.
        write: writes the output.
    """
    trainer.on("train-start", lambda event: write())


def follow_gates(trainer: Trainer) -> Trainer:
    """Give a trainer on a gated timeline (a dopesheet with a ``GATE`` column) the
    :class:`GateHandler` that moves its clock, unless it has one; returns the trainer.

    Args:
        trainer: the run's trainer.
    """
    if isinstance(trainer.timeline, GatedTimeline) and not any(
        isinstance(getattr(h, "__self__", None), GateHandler) for h in trainer.bus.handlers()
    ):
        trainer.add(GateHandler(unknown="warn"))  # held-out metrics come from handlers
    return trainer


_PREPARE: ContextVar[tuple[Callable[[Trainer], Any], ...]] = ContextVar("prepare", default=())


@contextlib.contextmanager
def preparing(prepare: Callable[[Trainer], Any]) -> Iterator[None]:
    """While open, :func:`fit` calls ``prepare(trainer)`` before it trains each trainer: how a
    tool that runs a script in this process (the search's ``--prune``) adds handlers to the
    trainer the script builds itself. Nested blocks all apply; other threads are unaffected.

    Args:
        prepare: called with each trainer :func:`fit` is about to train.
    """
    token = _PREPARE.set((*_PREPARE.get(), prepare))
    try:
        yield
    finally:
        _PREPARE.reset(token)


def fit(trainer: Trainer, resume: Path | None) -> FitResult:
    """Train, turning every user-facing failure into a message and an :class:`ExitCode`: a
    mis-wired run, an unusable checkpoint or a full disk (2), non-finite values (3; the state
    from before the failing step is saved); on Ctrl-C it says where the checkpoint is (130).

    Args:
        trainer: the run's trainer (a gated timeline gets a :class:`GateHandler` if it has none).
        resume: a checkpoint file or run folder to resume (``--resume``), or ``None``.
    """
    follow_gates(trainer)
    for prepare in _PREPARE.get():
        prepare(trainer)
    try:
        result = trainer.fit(resume=resume)
    except NonFiniteLossError as e:
        fail(str(e), ExitCode.NON_FINITE)
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
        sys.exit(int(ExitCode.INTERRUPTED if result.interrupted else ExitCode.FAILED))
    return result


def entry(main: Callable[[], Any]) -> None:
    """Run a script's ``main`` as a program: a failure to write an output (a full disk, a
    read-only folder) is a message and :attr:`ExitCode.BAD_INPUT`, never a traceback.

    Args:
        main: the script's ``main`` (it reads ``sys.argv`` itself).
    """
    try:
        main()
    except OutputError as e:
        fail(f"{e.strerror or e}: free some space (or fix the folder) and run again")


def release_memory() -> None:
    """Hand memory freed by training back to the OS before rendering (glibc keeps freed heap
    pages otherwise), so the run's peak is not training's leftovers plus the video's needs."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    """``summary.json`` at ``path``, written atomically (numpy scalars become numbers); use
    :meth:`RunContext.write_summary`, which writes only on the process that writes outputs."""

    def plain(v: Any) -> Any:
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [plain(x) for x in v]
        return v

    write_text(path, json.dumps(plain(summary), indent=2) + "\n")

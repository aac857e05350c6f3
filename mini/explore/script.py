"""A training script's ``--explore``: serve the explorer page for its runs until Ctrl-C.

The other half of :mod:`mini.training.script` (which may not import the explorer): a script
builds its trainer in one function and hands it to :func:`serve` in explore mode and to
:func:`~mini.training.script.fit` otherwise, so every flag means the same in both modes.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mini.explore.controller import Controller
from mini.explore.panel import Panel
from mini.training.script import (
    ExitCode,
    RunContext,
    console,
    fail,
    follow_gates,
    write_summary,
)
from mini.training.trainer import Trainer

__all__ = ["serve"]

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def serve(
    run: RunContext,
    make_trainer: Callable[[Path], Trainer],
    panels: Sequence[Panel],
    *,
    title: str,
    host: str = "127.0.0.1",
    port: int | None = None,
    action_labels: Mapping[str, str] | None = None,
    summary: Callable[[Trainer], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Serve the explorer page until Ctrl-C, then stop training cleanly (the checkpoint and
    ``metrics.jsonl`` are written) and write ``summary.json`` of the run on screen into its
    folder. Each Start/Reset trains ``make_trainer(<out>/run-<k>)`` (on a gated timeline with
    a :class:`~mini.training.GateHandler`, as :func:`~mini.training.script.fit` does). Returns
    the summary; exits with :attr:`~mini.training.script.ExitCode.BAD_INPUT` when the page
    cannot be served and :attr:`~mini.training.script.ExitCode.FAILED` when the run on screen
    failed.

    Args:
        run: what :func:`~mini.training.script.setup` returned.
        make_trainer: builds a fresh trainer writing into the folder it is given.
        panels: the model's views on the page (:class:`~mini.explore.Panel`).
        title: the page's title.
        host: the address the page listens on (``--host``; only this machine by default).
        port: its port (``--port``; ``None``: a free one).
        action_labels: button labels of the dopesheet's actions (``{"refresh": "Refresh"}``).
        summary: the figures of a trained run, added to its ``summary.json``.
    """
    from mini.explore import launch

    folders = (run.out / f"run-{k}" for k in itertools.count(1))
    try:
        controller = Controller(
            lambda: follow_gates(make_trainer(next(folders))), panels, save_dir=run.out,
            action_labels=action_labels,
        )  # fmt: skip
        page = launch(controller, title=title, host=host, port=port)
    except ImportError as e:
        fail(str(e))
    except OSError as e:
        fail(f"cannot serve the explorer on {host}:{port or 'a free port'}: {e}")
    console.print(
        f"explorer: [bold]{page.url}[/bold]  (runs and saved dopesheets go to {run.out}; "
        "Ctrl-C stops training cleanly)",
        highlight=False,
    )
    if host not in LOCAL_HOSTS:
        console.print(
            f"[yellow]warning:[/yellow] --host {host}: the page has no login. Anyone who "
            f"can reach {page.url} can start, pause and reset the run, move its properties, fire "
            f"its actions, save dopesheets into {run.out} and watch its views and losses (no "
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
        fail("aborted by a second Ctrl-C: the step did not finish", ExitCode.INTERRUPTED)
    return _summarize(controller, result, summary)


def _summarize(
    controller: Controller, result: Any, summary: Callable[[Trainer], dict[str, Any]] | None
) -> dict[str, Any]:
    """``summary.json`` of the run on screen, written into its folder."""
    trainer = controller.trainer
    snapshot = controller.snapshot()
    out: dict[str, Any] = {
        "explored": True,
        "run": controller.run_number,
        "status": controller.status,
        "steps_trained": snapshot.step,
        "checkpoint": str(result.checkpoint) if result and result.checkpoint else None,
        "fired": [list(f) for f in trainer.fired],
    }
    if summary is not None and snapshot.step > 0:
        try:
            out.update(summary(trainer))
        except Exception as e:  # e.g. a model that went non-finite: keep the rest
            out["summary_error"] = f"{type(e).__name__}: {e}"
    if snapshot.error:
        out["error"] = snapshot.error
    if trainer.out_dir is not None and trainer.out_dir.is_dir():
        write_summary(trainer.out_dir / "summary.json", out)
        console.print(f"run {controller.run_number}: outputs in {trainer.out_dir}", highlight=False)
    if snapshot.error:
        fail(f"the run on screen failed: {snapshot.error}", ExitCode.FAILED)
    return out

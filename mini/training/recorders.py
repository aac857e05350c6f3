"""Recorders: handlers that keep what a run did, cheaply enough to leave on.

- :class:`MetricsRecorder`: one JSON object per logged step to ``metrics.jsonl`` (step, phase,
  props, losses, extras) and a pandas history.
- :class:`LatentRecorder`: a fixed probe set evaluated at a precomputed list of steps (only the
  outputs are kept — never a copy of the model).
- :class:`SnapshotRecorder`: model weights at chosen steps, within a memory budget.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from mini.atomic import OutputError, describe_os_error, write_text
from mini.training.checks import ConfigError
from mini.training.events import PHASE_END, PRE_STEP, STEP_METRICS, TRAIN_END, Event
from mini.training.modes import eval_mode

if TYPE_CHECKING:
    from mini.training.trainer import Trainer

log = logging.getLogger(__name__)


class MetricsRecorder:
    """Logs every ``every``-th step. Lines are serialised in batches (at phase ends,
    checkpoints and the end of the run), so the per-step cost is appending one tuple.

    Every line has the same keys: ``step`` (int), ``phase`` (str or null), ``props`` (every
    property's value), ``losses`` (``total`` and each computed criterion, ``{}`` on a step
    without any), ``extras`` (what handlers ``record()``-ed that step, ``{}`` if nothing).

    With a ``path``, lines written to the file leave memory and a checkpoint keeps only the
    file's length (resuming truncates the file to it), so memory and checkpoints stay the same
    size however long the run; :meth:`history` reads the file back. Without a path the lines
    stay in memory (and in checkpoints).

    Args:
        path: the ``metrics.jsonl`` file (``None``: keep the lines in memory only).
        every: log every N-th step.
    """

    observes_only = True  # distributed runs need not share its state

    def __init__(self, path: str | os.PathLike[str] | None = None, every: int = 1):
        self.path = Path(path) if path is not None else None
        self.every = every
        self.lines: list[str] = []  # serialised lines not (yet) in the file
        self._pending: list[tuple[Any, ...]] = []
        self._position = 0  # bytes of the file that hold this run's lines
        self._count = 0  # lines in the file
        self._started = False  # the first write of a fresh run replaces any file at once

    def attach(self, trainer: Trainer) -> None:
        trainer.on(STEP_METRICS, self.on_step, every=self.every)
        trainer.on(PHASE_END, lambda e: self.flush())
        trainer.on(TRAIN_END, lambda e: self.flush())

    def on_step(self, event: Event) -> None:
        """Buffer this step's line (a ``step-metrics`` handler).

        Args:
            event: the event (its ``trainer`` and ``step``).
        """
        pending = self._pending
        if len(pending) >= 512:  # keep few live dicts: serialised lines are much smaller
            self._serialise()
        pending.append((event.step, event.phase, event.state.props, event.losses, event.extras))

    def _serialise(self) -> None:
        for step, phase, props, losses, extras in self._pending:
            record = {
                "step": step,
                "phase": phase,
                "props": props,
                "losses": losses or {},
                "extras": extras or {},
            }
            self.lines.append(json.dumps(record))
        self._pending.clear()

    def flush(self) -> None:
        """Serialise pending records and append the new lines to the file."""
        self._serialise()
        if self.path is None or not self.lines:
            return
        text = "".join(line + "\n" for line in self.lines)
        if not self._started:
            write_text(self.path, text)
            self._position = len(text.encode("utf-8"))
        else:
            try:
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write(text)
                    f.flush()
                    self._position = f.tell()
            except OSError as e:
                raise OutputError(e.errno, describe_os_error(e, self.path)) from e
        self._started = True
        self._count += len(self.lines)
        self.lines = []

    def _all_lines(self) -> list[str]:
        self._serialise()
        if self.path is None or not self._started:
            return list(self.lines)
        with open(self.path, "rb") as f:
            logged = f.read(self._position).decode("utf-8").splitlines()
        return [*logged, *self.lines]

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._all_lines()]

    def history(self) -> pd.DataFrame:
        """One row per logged step: ``step``, ``phase``, ``props.<name>``, ``losses.<name>``,
        ``extras.<name>`` (NaN where a term was not computed). Built column by column, so a
        long run's history costs little more memory than the table itself."""
        lines = self._all_lines()
        n = len(lines)
        rows: dict[str, list[int]] = {}
        values: dict[str, list[Any]] = {}
        for i, line in enumerate(lines):
            for key, value in _flatten(json.loads(line)):
                if key not in rows:
                    rows[key], values[key] = [], []
                rows[key].append(i)
                values[key].append(value)
        columns: dict[str, Any] = {}
        for key, idx in rows.items():
            vals = values[key]
            numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals)
            if numeric and len(idx) == n and all(isinstance(v, int) for v in vals):
                columns[key] = np.asarray(vals, dtype=np.int64)
                continue
            col = np.full(n, np.nan) if numeric else np.full(n, None, dtype=object)
            col[idx] = vals
            columns[key] = col
        if not columns:
            return pd.DataFrame({"step": pd.Series(dtype=int)})
        return pd.DataFrame(columns)

    def state_dict(self) -> dict[str, Any]:
        self.flush()
        if self.path is None:
            return {"lines": list(self.lines)}
        return {"position": self._position, "count": self._count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Cut the file back to what was logged at the checkpoint (lines written after it, by a
        run that was killed, go). A checkpoint that holds the lines themselves (no file, or an
        older checkpoint) rewrites the file from them."""
        self._pending.clear()
        self.lines, self._position, self._count, self._started = [], 0, 0, False
        if "lines" in state:
            self.lines = list(state["lines"])
            self.flush()
            return
        if self.path is None:
            return
        position = int(state["position"])
        size = self.path.stat().st_size if self.path.is_file() else -1
        if size < position:
            log.warning(
                "%s holds fewer lines than the checkpoint logged (it resumes from another "
                "folder?): the lines before the resume step stay in that run's metrics.jsonl; "
                "new lines are appended", self.path,
            )  # fmt: skip
            self._position, self._started = max(size, 0), size >= 0
            return
        try:
            with open(self.path, "r+b") as f:
                f.truncate(position)
        except OSError as e:
            raise OutputError(e.errno, describe_os_error(e, self.path)) from e
        self._position, self._count, self._started = position, int(state.get("count", 0)), True


def _flatten(record: dict[str, Any], prefix: str = ""):
    """``{"props": {"lr": 1}}`` → ``("props.lr", 1)`` pairs (like ``pd.json_normalize``)."""
    for key, value in record.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


Probe = Callable[[nn.Module, Any], "Tensor | dict[str, Tensor]"]


def _latents(model: nn.Module, probe: Any) -> Tensor:
    out = model(probe)
    latents = getattr(out, "latents", None)
    if latents is None:
        raise ValueError("the model's result has no latents; pass fn= to LatentRecorder")
    return latents


class LatentRecorder:
    """Evaluates ``fn(model, probe)`` (default: the model's latents) at the given steps, in eval
    mode without gradients, and keeps only the outputs: ``frames[name][k]`` is the output at
    ``steps[k]``. Recording happens at ``pre-step``: frame ``k`` shows the model as it enters
    step ``steps[k]`` (step 0: untrained). ``fn`` may return a tensor or a dict of tensors.

    Args:
        probe: the fixed input to evaluate (a tensor or whatever ``fn`` takes).
        steps: the steps to record at (``mini.render.frame_steps``).
        fn: ``fn(model, probe)`` returns a tensor or a dict of tensors (default: the latents).
    """

    observes_only = True  # distributed runs need not share its state

    def __init__(self, probe: Any, steps: Iterable[int], fn: Probe | None = None):
        self.probe = probe
        self.steps = np.array(sorted(set(int(s) for s in steps)), dtype=np.int64)
        self._index = {int(s): k for k, s in enumerate(self.steps)}
        self.fn = fn or _latents
        self.frames: dict[str, Tensor] = {}
        self.recorded = np.zeros(len(self.steps), dtype=bool)

    def attach(self, trainer: Trainer) -> None:
        trainer.on(PRE_STEP, self.on_step)

    def on_step(self, event: Event) -> None:
        """Record the frame of this step, if it is one (a ``pre-step`` handler).

        Args:
            event: the event (its ``trainer`` and ``step``).
        """
        k = self._index.get(event.step)
        if k is not None:
            self.capture(event.trainer.model, k)

    def capture(self, model: nn.Module, k: int) -> None:
        """Evaluate the probe now and store it as frame ``k``.

        Args:
            model: the model to evaluate.
            k: the frame's index in ``steps``.
        """
        with eval_mode(model):
            out = self.fn(model, self.probe)
        outputs = out if isinstance(out, dict) else {"latents": out}
        for name, value in outputs.items():
            value = value.detach().to("cpu", torch.float32)
            buf = self.frames.get(name)
            if buf is None:
                buf = self.frames[name] = torch.full(
                    (len(self.steps), *value.shape), float("nan"), dtype=torch.float32
                )
            buf[k] = value
        self.recorded[k] = True

    def state_dict(self) -> dict[str, Any]:
        return {
            "frames": dict(self.frames),
            "recorded": torch.from_numpy(self.recorded.copy()),
            "steps": torch.from_numpy(self.steps.copy()),
        }

    def validate_state(self, state: dict[str, Any]) -> None:
        """Refuse a checkpoint recorded at other steps (another ``--frames`` or a schedule of
        another length): its frames would be mislabelled or out of range.

        Args:
            state: the recorder's state in the checkpoint.
        """
        saved = state.get("steps")
        if saved is None:  # older checkpoints: the frame count must at least agree
            n = len(state["recorded"])
            if n != len(self.steps):
                raise ConfigError(_frames_message(n, None, self.steps))
            return
        saved = saved.numpy()
        if not np.array_equal(saved, self.steps):
            raise ConfigError(_frames_message(len(saved), saved, self.steps))

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.validate_state(state)
        self.frames = dict(state["frames"])
        self.recorded = state["recorded"].numpy().astype(bool)


def _frames_message(n: int, saved: np.ndarray | None, steps: np.ndarray) -> str:
    where = f" at steps {_span(saved)}" if saved is not None else ""
    return (
        f"the checkpoint's latent recorder has {n} frames{where}, but this run asks for "
        f"{len(steps)} frames at steps {_span(steps)}: resume with the same --frames and "
        "schedule as the run that wrote the checkpoint, or start a new run"
    )


def _span(steps: np.ndarray) -> str:
    if len(steps) <= 4:
        return str([int(s) for s in steps])
    return f"[{int(steps[0])}, {int(steps[1])}, …, {int(steps[-1])}]"


class SnapshotRecorder:
    """Copies of the model's weights at chosen steps, never more than ``max_bytes`` in memory:
    when the budget is reached every other snapshot is dropped, so coverage thins out evenly.

    Args:
        steps: the steps to copy the weights at.
        max_bytes: the memory budget for all snapshots.
    """

    observes_only = True  # distributed runs need not share its state

    def __init__(self, steps: Iterable[int], max_bytes: int = 256 * 2**20):
        self.steps = set(int(s) for s in steps)
        self.max_bytes = max_bytes
        self.snapshots: dict[int, dict[str, Tensor]] = {}
        self._bytes = 0

    def attach(self, trainer: Trainer) -> None:
        trainer.on(PRE_STEP, self.on_step)

    def on_step(self, event: Event) -> None:
        """Copy the weights if this step is one (a ``pre-step`` handler).

        Args:
            event: the event (its ``trainer`` and ``step``).
        """
        if event.step not in self.steps:
            return
        snap = {
            k: v.detach().to("cpu", copy=True) if isinstance(v, Tensor) else copy.deepcopy(v)
            for k, v in event.trainer.model.state_dict().items()
        }
        size = _nbytes(snap)
        if size > self.max_bytes:
            raise ValueError(
                f"one snapshot needs {size:,} bytes, over max_bytes={self.max_bytes:,}"
            )
        while self._bytes + size > self.max_bytes and self.snapshots:
            self._thin()
        self.snapshots[event.step] = snap
        self._bytes += size

    def _thin(self) -> None:
        for k in sorted(self.snapshots)[1::2]:
            snap = self.snapshots.pop(k)
            self._bytes -= _nbytes(snap)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def state_dict(self) -> dict[str, Any]:
        return {"snapshots": {str(k): v for k, v in self.snapshots.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.snapshots = {int(k): v for k, v in state["snapshots"].items()}
        self._bytes = sum(_nbytes(snap) for snap in self.snapshots.values())


def _nbytes(state: dict[str, Any]) -> int:
    """Bytes of the tensors in a state dict (extra states such as counters are negligible)."""
    return sum(t.numel() * t.element_size() for t in state.values() if isinstance(t, Tensor))

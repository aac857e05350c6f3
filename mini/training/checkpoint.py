"""Checkpoint files: atomic writes, ``weights_only`` loads, naming and retention.

Names say how many steps were trained when the file was written (``step-0001000.pt`` after
steps 0–999): periodic checkpoints (``step-*``) are the only ones retention deletes, and only
those this run wrote; ``phase-end-*`` (one per finished phase), ``best.pt`` and ``fault-*`` are
kept. A corrupt or truncated file never stops a resume when an older intact one exists: the
loader says which file is broken and falls back to the newest intact checkpoint.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from mini.atomic import OutputError, atomic_write
from mini.temporal import Dopesheet, past_edits
from mini.training.resume_checks import fit_problem
from mini.training.rng import rng_payload, rng_state, set_rng_state
from mini.training.run_dir import adopt_run_id, claim_run_dir, run_folder_of

if TYPE_CHECKING:
    from mini.temporal import State
    from mini.training.trainer import Trainer

log = logging.getLogger(__name__)

_CHECKPOINT_FILE = re.compile(r"^(step|phase-end|fault)-(\d+)(?:-[A-Za-z0-9_.-]*)?\.pt$")
FORMAT = 2


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used for resuming (missing, corrupt, or from another run). The
    message says which file and what to do; no traceback is needed for it."""


# -- files ----------------------------------------------------------------------------------------
def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically: a temp file in the same folder, fsync'd, then
    renamed; a crash mid-write never leaves a truncated file under the final name. A full disk
    raises :class:`~mini.atomic.OutputError` ("no space left on device writing ...").

    Args:
        path: the file.
        payload: what to save (tensors, numbers, strings, containers).
    """
    path = Path(path)
    try:
        with atomic_write(path, "wb") as f:
            torch.save(payload, f)
    except RuntimeError as e:  # torch's zip writer reports a failed write as a RuntimeError
        free = shutil.disk_usage(path.parent).free if path.parent.exists() else 0
        if free < 1 << 20:
            raise OutputError(errno.ENOSPC, f"no space left on device writing {path}") from e
        raise OutputError(errno.EIO, f"cannot write {path}: {_short(e)}") from e
    return path


def read_checkpoint(
    path: str | os.PathLike[str],
    map_location: str | torch.device | None = None,
    trainer: bool = False,
) -> dict[str, Any]:
    """Load one checkpoint file (``weights_only=True``); :class:`CheckpointError` if it is
    missing or unreadable (and, with ``trainer``, if it is not a trainer checkpoint)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder; pass a checkpoint file or use load_checkpoint")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as e:
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({_short(e)})") from e
    except Exception as e:  # unpickling of foreign objects is refused by weights_only
        raise CheckpointError(f"checkpoint {path} cannot be read safely ({_short(e)})") from e
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path} does not hold a checkpoint dictionary")
    if trainer and ("model" not in payload or "step" not in payload):
        raise CheckpointError(f"{path} is not a dopesheet trainer checkpoint")
    return payload


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device | None = None
) -> dict[str, Any]:
    """Load a checkpoint file, or the newest intact checkpoint in a folder (a run folder or its
    ``checkpoints/``). A corrupt file is skipped with a warning naming it and the older file used
    instead; :class:`CheckpointError` when nothing intact is left.

    Args:
        path: a checkpoint file or run folder.
        map_location: passed to ``torch.load``.
    """
    return load_newest_intact(path, map_location, trainer=False)[1]


def load_newest_intact(
    path: str | os.PathLike[str],
    map_location: str | torch.device | None = None,
    trainer: bool = True,
) -> tuple[Path, dict[str, Any]]:
    """``(file, payload)`` of ``path`` (a file) or of the newest intact checkpoint in the folder
    ``path``; a corrupt file falls back to the newest older intact one in its folder."""
    path = Path(path)
    if path.is_dir():
        folder = path / "checkpoints" if (path / "checkpoints").is_dir() else path
        candidates = checkpoint_files(folder, include_fault=False)
        if not candidates:
            raise CheckpointError(
                f"no checkpoint in {folder} (looked for step-*.pt and phase-end-*.pt): "
                "start without resuming, or point to the folder of the run you mean"
            )
    else:
        if not path.exists():
            raise CheckpointError(
                f"checkpoint {path} does not exist"
                + (
                    f" (folder {path.parent} has: {_listing(path.parent)})"
                    if path.parent.is_dir()
                    else ""
                )
            )
        older = [
            p for p in checkpoint_files(path.parent, include_fault=False) if _key(p) < _key(path)
        ]
        candidates = [*older, path]
    broken: list[str] = []
    for candidate in reversed(candidates):
        try:
            payload = read_checkpoint(candidate, map_location, trainer)
        except CheckpointError as e:
            broken.append(str(e))
            continue
        for message in broken:
            log.warning("%s — resuming from the previous one, %s", message, candidate)
        return candidate, payload
    raise CheckpointError(
        "no intact checkpoint to resume from: " + "; ".join(broken) + ". Start a new run."
    )


def _listing(folder: Path, limit: int = 5) -> str:
    names = sorted(p.name for p in folder.iterdir() if p.suffix == ".pt")
    if not names:
        return "no .pt files"
    return ", ".join(names[-limit:])


def _key(path: Path) -> tuple[int, int]:
    """Sort key: steps trained, then kind (a phase-end and a periodic file at the same step
    hold the same state; prefer the later-written kinds)."""
    m = _CHECKPOINT_FILE.match(path.name)
    if m is None:
        return (-1, -1)
    order = {"fault": 0, "step": 1, "phase-end": 2}
    return int(m.group(2)), order[m.group(1)]


def checkpoint_files(folder: str | os.PathLike[str], include_fault: bool = True) -> list[Path]:
    """Checkpoint files in ``folder``, oldest first (by steps trained)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [
        p
        for p in folder.iterdir()
        if (m := _CHECKPOINT_FILE.match(p.name)) and (include_fault or m.group(1) != "fault")
    ]
    return sorted(found, key=_key)


def latest_checkpoint(folder: str | os.PathLike[str]) -> Path | None:
    """The newest periodic or phase-end checkpoint file in ``folder`` (not a ``fault-*.pt``), or
    ``None`` when it holds none.

    Args:
        folder: a run folder or its ``checkpoints/``.
    """
    files = checkpoint_files(folder, include_fault=False)
    return files[-1] if files else None


def checkpoint_name(kind: str, steps_trained: int, label: str | None = None) -> str:
    """``step-0001000.pt``, ``phase-end-0001000-warm-up.pt``, ``fault-0000417.pt``."""
    slug = ""
    if label:
        slug = "-" + re.sub(r"[^A-Za-z0-9_.]+", "-", label).strip("-").lower()[:40]
    return f"{kind}-{steps_trained:07d}{slug}.pt"


@dataclass
class Retention:
    """Which periodic checkpoints this run wrote, so that keeping the newest ``keep`` never
    deletes another run's files or the phase-end/best/fault ones. Saved inside each checkpoint,
    so a resumed run keeps managing the files it wrote before."""

    keep: int | None
    written: list[str] = field(default_factory=list)

    def add(self, folder: Path, path: Path) -> list[Path]:
        """Record ``path`` and delete this run's periodic files beyond ``keep``; returns them."""
        if path.name not in self.written:
            self.written.append(path.name)
        if not self.keep or not path.name.startswith("step-"):
            return []
        periodic = [n for n in self.written if n.startswith("step-")]
        drop = periodic[: -self.keep]
        for name in drop:
            (folder / name).unlink(missing_ok=True)
            self.written.remove(name)
        return [folder / n for n in drop]


# -- a trainer's checkpoints: what they hold, writing, resuming -----------------------------------
def capture(trainer: Trainer, completed: int | None = None) -> dict[str, Any]:
    """Everything needed to continue exactly after step ``completed`` (default: the last
    completed step)."""
    completed = trainer._completed if completed is None else completed
    timeline = trainer.timeline.state_dict()
    timeline["step"] = max(completed if completed is not None else 0, 0)
    return {
        "format": FORMAT,
        "run_id": trainer.run.run_id if trainer.run is not None else None,
        "step": -1 if completed is None else completed,
        "model_class": type(trainer.model).__qualname__,
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "scaler": trainer._optimiser.scaler.state_dict()
        if trainer._optimiser.scaler is not None
        else None,
        "timeline": timeline,
        "dopesheet_hash": trainer.timeline.dopesheet.content_hash,
        "data": trainer._iters.state_dict(),
        "rng": rng_state(),
        "handlers": {k: obj.state_dict() for k, obj in trainer._stateful.items()},
        "fired": [[step, action] for step, action in trainer.fired],
        "schedule": {
            **trainer.engine.record_state(),
            "actions": [
                [step, action]
                for step, action in trainer.engine.history
                if completed is not None and step <= completed
            ],
        },
        "best": dict(trainer.best) if trainer.best is not None else None,
        "retention": list(trainer.retention.written),
        "world_size": trainer.dist.world_size,
    }


def fault_state(trainer: Trainer, state: State, after_update: bool) -> dict[str, Any]:
    """The checkpoint of the state before ``state.step`` ran (see :mod:`mini.training.guard`)."""
    snap = trainer._snapshot
    payload = capture(trainer, state.step - 1)
    payload["model"] = snap.model_state(trainer._optimiser.params, after_update)
    payload["optimizer"] = snap.optimizer_state(trainer.optimizer, after_update)
    payload["data"] = trainer._iters.state_dict_with(*snap.data)
    payload["rng"] = rng_payload(snap.rng)
    return payload


def write(
    trainer: Trainer, payload: dict[str, Any], kind: str, steps_trained: int,
    label: str | None = None,
) -> Path:  # fmt: skip
    """Save ``payload`` under ``out_dir/checkpoints`` with its kind's name; periodic files of
    this run beyond ``keep_checkpoints`` are deleted once the new one is safely written."""
    if trainer.out_dir is None:
        raise ValueError("saving a checkpoint needs out_dir")
    folder = trainer.out_dir / "checkpoints"
    path = folder / checkpoint_name(kind, steps_trained, label)
    if kind == "step" and path.name not in trainer.retention.written:
        payload["retention"] = [*trainer.retention.written, path.name]
    save_checkpoint(path, payload)
    if kind == "step":
        trainer.retention.add(folder, path)
    if kind != "fault":
        trainer.last_checkpoint = path
    return path


def update_best(
    trainer: Trainer, state: State, losses: dict[str, float], extras: dict[str, Any]
) -> None:
    """Keep ``checkpoints/best.pt`` at the best value so far of the ``keep_best`` metric (looked
    up in this step's extras — e.g. ``val-total`` at phase ends or a handler's ``record()`` —
    then its losses). Steps without the metric are skipped."""
    name = trainer.keep_best
    value = extras.get(name, losses.get(name)) if name is not None else None
    if not isinstance(value, int | float) or value != value or abs(value) == float("inf"):
        return
    best = trainer.best
    if best is not None:
        better = value < best["value"] if trainer.best_mode == "min" else value > best["value"]
        if not better:
            return
    trainer.best = {"metric": name, "value": float(value), "step": state.step, "path": None}
    if trainer.out_dir is not None:
        path = trainer.out_dir / "checkpoints" / "best.pt"
        trainer.best["path"] = str(path)
        save_checkpoint(path, capture(trainer, state.step))


def claim(trainer: Trainer, resuming: bool, run_id: str | None = None) -> None:
    """Make sure ``trainer.out_dir`` belongs to this run before anything is written to it."""
    if trainer.out_dir is None:
        return
    if trainer.run is not None:
        if resuming and run_id is not None and trainer.run.fresh and run_id != trainer.run.run_id:
            trainer.run = adopt_run_id(trainer.run, run_id)
        elif resuming and run_id is not None and run_id != trainer.run.run_id:
            raise CheckpointError(
                f"the checkpoint belongs to run {run_id} but {trainer.out_dir} holds run "
                f"{trainer.run.run_id}: resume into the checkpoint's own run folder"
            )
        return
    trainer.run = claim_run_dir(
        trainer.out_dir, overwrite=trainer.overwrite, resume_run_id=run_id, resuming=resuming
    )


def restore(trainer: Trainer, path: str | os.PathLike[str]) -> int:
    """Restore a checkpoint into ``trainer``; returns the last completed step it holds.

    Every handler's configuration is checked against the checkpoint first (e.g. a latent
    recorder asked for other frame steps than the checkpointed run), and the run folder is
    claimed, so a resume that cannot work fails before anything is changed."""
    file, ckpt = load_newest_intact(path, map_location=trainer.device)
    for key, obj in trainer._stateful.items():
        check = getattr(obj, "validate_state", None)
        if key in ckpt["handlers"] and callable(check):
            check(ckpt["handlers"][key])
    problem = fit_problem(trainer, ckpt)
    if problem:
        raise CheckpointError(
            f"checkpoint {file} does not fit this model ({problem}): resume with the same example "
            "and model settings as the run that wrote it; nothing was changed"
        )
    claim(trainer, resuming=True, run_id=ckpt.get("run_id"))
    try:
        trainer.model.load_state_dict(ckpt["model"])
        trainer.optimizer.load_state_dict(ckpt["optimizer"])
    except (RuntimeError, ValueError, KeyError) as e:
        raise CheckpointError(
            f"checkpoint {file} does not fit this model/optimizer ({_short(e)}): resume with the "
            "same model settings as the run that wrote it"
        ) from e
    if trainer._optimiser.scaler is not None and ckpt.get("scaler"):
        trainer._optimiser.scaler.load_state_dict(ckpt["scaler"])
    current = trainer.timeline.dopesheet
    edited = ckpt["dopesheet_hash"] != current.content_hash
    engine = trainer.engine
    engine.load_record(ckpt.get("schedule", {}))
    completed = int(ckpt["step"])
    if edited and file.name.startswith("fault-"):
        # "fix the dopesheet and resume": the replayed step takes the edited values at once (a
        # smooth blend would start from the values that faulted and fault again)
        trainer.timeline.seek(max(completed, 0))
        warnings.warn(
            f"{current.source} changed since {file.name}: step {completed + 1} replays on the "
            "edited schedule's own values (no blend from the values that faulted)",
            ResumeWarning, stacklevel=3,
        )  # fmt: skip
    else:
        _, changed = engine.resume_timeline(
            ckpt["timeline"], trainer.on_length_change, trainer._own_timeline
        )
        trainer.timeline = engine.timeline
        edited = edited and trainer.timeline.dopesheet.content_hash != ckpt["dopesheet_hash"]
        if edited:
            _warn_edits(ckpt["timeline"], current, completed, changed)
    trainer._iters.load_state_dict(ckpt["data"])
    _carry_metrics(trainer, file, ckpt["handlers"].get("metrics"))
    for key, obj in trainer._stateful.items():
        if key in ckpt["handlers"]:
            obj.load_state_dict(ckpt["handlers"][key])
        else:
            log.warning("checkpoint has no state for %s; it starts fresh", key)
    set_rng_state(ckpt["rng"])
    trainer.fired = [(int(s), str(a)) for s, a in ckpt.get("fired", [])]
    engine.replay_actions()  # handlers on(..., replay=True) restore their side effects
    trainer.best = ckpt.get("best")
    trainer.retention.written = list(ckpt.get("retention", []))
    trainer.last_checkpoint = file
    saved_world = int(ckpt.get("world_size", 1))
    if saved_world != trainer.dist.world_size:
        log.info(
            "the checkpoint was written by %d process(es), this run has %d: every rank draws the "
            "same global batches, so the run continues with each rank's share re-sliced",
            saved_world, trainer.dist.world_size,
        )  # fmt: skip
    if completed < 0:
        trainer._completed = None
        trainer.timeline.seek(0)
    else:
        trainer._completed = completed
    trainer.current_step = max(completed, 0)
    log.info("resuming from %s after step %d", file, completed)
    return completed


def _carry_metrics(trainer: Trainer, file: Path, state: dict[str, Any] | None) -> None:
    """Resuming into another folder: its ``metrics.jsonl`` starts as the checkpoint's run's,
    up to the position the checkpoint logged (checkpoints keep a position, not the lines)."""
    metrics = getattr(trainer, "metrics", None)
    if not state or "position" not in state or metrics is None or metrics.path is None:
        return
    source = run_folder_of(file) / "metrics.jsonl"
    target, position = metrics.path, int(state["position"])
    if not source.is_file() or source.stat().st_size < position:
        return
    if target.exists() and target.resolve() == source.resolve():
        return
    with open(source, "rb") as src, atomic_write(target, "wb") as dst:
        left = position
        while left > 0 and (chunk := src.read(min(left, 1 << 20))):
            dst.write(chunk)
            left -= len(chunk)


class ResumeWarning(UserWarning):
    """Resuming with a dopesheet that was edited at steps already trained."""


def _warn_edits(saved: dict[str, Any], current: Dopesheet, step: int, changed: list[str]) -> None:
    old = Dopesheet.from_dict(saved["eras"][-1]["dopesheet"])
    past = past_edits(old, current, step)
    msg = f"{current.source} changed since the checkpoint at step {step}. "
    if past:
        msg += f"Edits to steps already trained cannot apply and are ignored: {'; '.join(past)}. "
    msg += f"Edits after step {step} apply" + (
        f" (changed: {', '.join(changed)})" if changed else ""
    )
    warnings.warn(msg + ".", ResumeWarning, stacklevel=4)

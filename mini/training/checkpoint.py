"""Checkpoint files: atomic writes, ``weights_only`` loads, and RNG state capture."""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mini.atomic import atomic_write

_STEP_FILE = re.compile(r"^step-(\d+)\.pt$")


def rng_state() -> dict[str, Any]:
    """Every RNG a training step may draw from (torch, CUDA, numpy, python), as tensors/lists so
    that ``torch.load(weights_only=True)`` can read it back."""
    kind, key, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "key": torch.from_numpy(key.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "python": _python_state_to_list(random.getstate()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        (n["kind"], n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"])
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _python_state_to_list(s: tuple) -> list:
    version, internal, gauss = s
    return [version, list(internal), gauss]


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically: a temp file in the same folder, fsync'd, then
    renamed; a crash mid-write never leaves a truncated file under the final name."""
    path = Path(path)
    with atomic_write(path, "wb") as f:
        torch.save(payload, f)
    return path


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device | None = None
) -> dict[str, Any]:
    """Load a checkpoint file, or the newest ``step-*.pt`` in a folder (``weights_only=True``)."""
    path = Path(path)
    if path.is_dir():
        found = latest_checkpoint(path)
        if found is None:
            raise FileNotFoundError(f"no step-*.pt checkpoint in {path}")
        path = found
    return torch.load(path, map_location=map_location, weights_only=True)


def checkpoint_files(folder: str | os.PathLike[str]) -> list[Path]:
    """``step-*.pt`` files in ``folder``, oldest step first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP_FILE.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(folder: str | os.PathLike[str]) -> Path | None:
    files = checkpoint_files(folder)
    return files[-1] if files else None

"""Every random number generator a training step may draw from (torch, CUDA, numpy, python),
captured and restored in a form ``torch.load(weights_only=True)`` reads back: exact resume."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def rng_state() -> dict[str, Any]:
    """Every RNG a training step may draw from (torch, CUDA, numpy, python), as tensors/lists so
    that ``torch.load(weights_only=True)`` can read it back."""
    return rng_payload(capture_rng())


def capture_rng() -> tuple[Any, ...]:
    """The raw RNG states (no conversion), for :func:`rng_payload`."""
    cuda = None
    if torch.cuda.is_initialized():
        cuda = torch.cuda.get_rng_state_all()
    return torch.get_rng_state(), np.random.get_state(), random.getstate(), cuda


def rng_payload(raw: tuple[Any, ...]) -> dict[str, Any]:
    """:func:`capture_rng`'s states in the checkpoint's ``weights_only``-loadable form."""
    torch_state, np_state, py_state, cuda = raw
    kind, key, pos, has_gauss, cached = np_state if np_state is not None else np.random.get_state()
    version, internal, gauss = py_state if py_state is not None else random.getstate()
    state: dict[str, Any] = {
        "torch": torch_state,
        "numpy": {
            "kind": kind,
            "key": torch.from_numpy(key.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "python": [version, list(internal), gauss],
    }
    if cuda is not None:
        state["cuda"] = cuda
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

"""``eval_mode``: evaluate a model without gradients and put its training flag back after."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``with eval_mode(model): ...`` — eval mode and ``torch.no_grad()`` inside; the model's
    previous train/eval mode is restored afterwards, even on error.

    Args:
        model: the module to put in eval mode.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)

"""Loss criteria: plain callables ``(batch, result) -> Tensor`` or special criteria.

A criterion's name is a dopesheet property; its value that step is the criterion's weight, and a
weight of 0 skips the term and its compute. A *special* criterion runs its own forward on its own
data (the anchor regulariser does), may subscribe to events, and may keep state that checkpoints
save and restore.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch.nn.functional as F
from torch import Tensor, nn

if TYPE_CHECKING:
    from mini.training.trainer import Trainer

Criterion = Callable[[Any, Any], Tensor]


def batch_inputs(batch: Any) -> Any:
    """The model input of a batch: the batch itself, or its first item for
    ``(inputs, targets, ...)``."""
    return batch[0] if isinstance(batch, tuple | list) else batch


def default_forward(model: nn.Module, batch: Any) -> Any:
    """The trainer's default forward: ``model(batch_inputs(batch))``.

    Args:
        model: the model.
        batch: the batch (its inputs are the first item of a tuple or list).
    """
    return model(batch_inputs(batch))


def reconstruction_mse(batch: Any, result: Any) -> Tensor:
    """Mean squared error between the model's ``outputs`` and the batch's inputs (the
    reconstruction term of every autoencoder here).

    Args:
        batch: the batch (its inputs are the first item).
        result: the model's output.
    """
    return F.mse_loss(result.outputs, batch_inputs(batch))


class SpecialCriterion(ABC):
    """Base for loss terms that compute on their own data: ``__call__(model, trainer)``.

    Override :meth:`attach` to subscribe to events (``trainer.on("action:anchor", ...)``) and
    :meth:`state_dict`/:meth:`load_state_dict` to have checkpoints keep your state.
    """

    @abstractmethod
    def __call__(self, model: nn.Module, trainer: Trainer) -> Tensor:
        """The unweighted loss term; the trainer multiplies it by the property's value."""

    def attach(self, trainer: Trainer) -> None:
        """Called once when the trainer is built."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        del state

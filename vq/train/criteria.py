"""Loss criteria for VQ autoencoders: ``(batch, result) -> Tensor`` callables for the trainer.

The quantizer's loss reaches the trainer through the model's ``Result.extras``. Wire it one of
two ways, not both (that would weight the commitment twice):

- ``criteria={"recon": recon_mse, "vq": vq_loss}`` and bind the ``commitment`` property to the
  quantizer attribute (``trainer.bind("commitment", lambda v: setattr(vq, "commitment", v))``);
  ``vq_loss`` is already weighted by it, so key ``vq`` at 1.
- ``criteria={"recon": recon_mse, "commitment": vq_term("commitment")}``: the trainer weights
  the raw term by the ``commitment`` property (a weight of 0 skips it); leave the quantizer's
  own ``commitment`` attribute alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor

from mini.training.criteria import reconstruction_mse
from mini.training.result import Result

recon_mse = reconstruction_mse  # the reconstruction term, under the name the VQ schedules use


def vq_loss(batch: Any, result: Result) -> Tensor:
    """The quantizer's loss, weighted by its own ``commitment``/``codebook_weight``.

    Args:
        batch: the batch (unused).
        result: the model's output; its quantizer ``loss``.
    """
    del batch
    return result.extras["vq_loss"]


def vq_term(name: str) -> Callable[[Any, Result], Tensor]:
    """A criterion returning one unweighted quantizer term (``commitment`` or ``codebook``).

    Args:
        name: the quantizer loss term (``commitment``, ``codebook``).
    """

    def criterion(batch: Any, result: Result) -> Tensor:
        del batch
        return result.extras["losses"][name]

    criterion.__name__ = f"vq_term_{name}"
    criterion.__doc__ = f"The quantizer's unweighted {name!r} loss term."
    return criterion

"""Loss terms for the colour curriculum: reconstruction and the latent-space regularisers.

Plain criteria are ``(batch, result) -> Tensor`` (a scalar, averaged over the batch so that the
dopesheet weights mean the same whatever the batch size); :class:`Anchor` is a special criterion
that runs the model on its own reference colours.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mini.training.criteria import SpecialCriterion, batch_inputs, reconstruction_mse
from mini.training.result import Result, as_result

if TYPE_CHECKING:
    from mini.training.events import Event
    from mini.training.trainer import Trainer

log = logging.getLogger(__name__)


def _latents(result: Result) -> Tensor:
    if result.latents is None:
        raise ValueError("this regulariser needs latents; the model's Result has none")
    return result.latents


reconstruction = reconstruction_mse  # the colour curriculum's ``loss-recon`` term


def unitarity(batch: Any, result: Result) -> Tensor:
    """Mean of (‖z‖ − 1)²: pulls latents onto the unit hypersphere.

    Args:
        batch: the batch (unused: the term reads the latents).
        result: the model's output; its ``latents`` are penalised.
    """
    del batch
    norms = torch.linalg.vector_norm(_latents(result), dim=-1)
    return F.mse_loss(norms, torch.ones_like(norms))


def planarity(batch: Any, result: Result) -> Tensor:
    """Mean of z[2:]² over batch and dims: pulls latents into the plane of dims 0 and 1
    (zero when the latents have only two dims).

    Args:
        batch: the batch (unused: the term reads the latents).
        result: the model's output; its ``latents`` are penalised.
    """
    del batch
    z = _latents(result)
    if z.shape[-1] <= 2:
        return z.new_zeros(())
    return z[..., 2:].square().mean()


class Separate:
    """Inverse-square repulsion between every pair of latents, in the chosen ``channels``.

    The loss is the mean of 1 / (‖zᵢ − zⱼ‖² + ε) over ordered pairs i ≠ j (the diagonal is left
    out, not just masked to a large constant). Identical points (sampling with replacement) add
    a constant 1/ε with no gradient.

    Args:
        channels: the latent dims the repulsion acts in.
        epsilon: keeps coincident points finite.
    """

    def __init__(self, channels: Sequence[int] = (0, 1), epsilon: float = 1e-6):
        self.channels = tuple(channels)
        self.epsilon = epsilon
        self._index = torch.tensor(self.channels, dtype=torch.long)

    def __call__(self, batch: Any, result: Result) -> Tensor:
        del batch
        z = _latents(result)
        points = z.index_select(-1, self._index.to(z.device))
        n = points.shape[0]
        if n < 2:
            return z.new_zeros(())
        diffs = points.unsqueeze(1) - points.unsqueeze(0)
        sq = (diffs**2).sum(-1)
        off_diagonal = ~torch.eye(n, dtype=torch.bool, device=z.device)
        return (1.0 / (sq[off_diagonal] + self.epsilon)).mean()

    def __repr__(self) -> str:
        return f"Separate(channels={self.channels})"


class Anchor(SpecialCriterion):
    """Keeps reference colours where they were when the ``anchor`` action fired.

    On ``action:anchor`` it captures the current latents of ``ref_data``; from then on the loss
    is the mean squared distance of their current latents from the captured ones. Before the
    capture the loss is zero. The captured anchors are checkpointed through ``state_dict``.

    Args:
        ref_data: the reference colours to keep in place.
        action: the dopesheet action that captures them.
    """

    def __init__(self, ref_data: Tensor, action: str = "anchor"):
        self.ref_data = ref_data
        self.action = action
        self.anchors: Tensor | None = None
        self.captured_at: int | None = None
        self._stash: Tensor | None = None

    def attach(self, trainer: Trainer) -> None:
        trainer.on(f"action:{self.action}", self.on_anchor, optional=True)  # or fired at runtime

    def on_anchor(self, event: Event) -> None:
        """Capture the anchors (the ``action:anchor`` handler).

        Args:
            event: the action event (its trainer's model is captured).
        """
        self.capture(event.trainer.model, step=event.step)

    @torch.no_grad()
    def capture(self, model: nn.Module, step: int | None = None) -> Tensor:
        """Record the reference colours' current latents (and return them).

        Args:
            model: the model whose latents to record.
            step: the step of the capture (kept in checkpoints).
        """
        self.anchors = self._latents(model).detach().clone()
        self.captured_at = step
        log.info("anchored %d reference colours at step %s", len(self.anchors), step)
        return self.anchors

    def _latents(self, model: nn.Module) -> Tensor:
        param = next(model.parameters(), None)
        if param is not None and self.ref_data.device != param.device:
            self.ref_data = self.ref_data.to(param.device)
        return _latents(as_result(model(self.ref_data)))

    def __call__(self, model: nn.Module, trainer: Trainer | None = None) -> Tensor:
        del trainer
        if self.anchors is None:
            return self.ref_data.new_zeros(())
        z, self._stash = self._stash, None
        if z is None:
            z = self._latents(model)
        return F.mse_loss(z, self.anchors.to(z.device))  # one autograd node, not three

    def forward(self, model: nn.Module, batch: Any) -> Result:
        """A trainer ``forward`` that runs the reference colours in the same pass as the batch.

        Once anchors exist (and gradients are on) it appends ``ref_data`` to the batch's inputs,
        keeps their latents for the next :meth:`__call__` and returns the batch's part of the
        result; one pass over B + 6 rows costs far less than a second pass over 6. Without it,
        ``__call__`` runs its own forward; the loss is the same.

        Args:
            model: the model.
            batch: the batch (its inputs are the first item).
        """
        x = batch_inputs(batch)
        self._stash = None
        if self.anchors is None or not torch.is_grad_enabled():
            return as_result(model(x))
        if self.ref_data.device != x.device:
            self.ref_data = self.ref_data.to(x.device)
        n = x.shape[0]
        res = as_result(model(torch.cat([x, self.ref_data])))
        z = _latents(res)
        self._stash = z[n:]
        return Result(res.outputs[:n], z[:n], res.extras)

    def state_dict(self) -> dict[str, Any]:
        return {"anchors": self.anchors, "captured_at": self.captured_at}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        anchors = state.get("anchors")
        self.anchors = None if anchors is None else anchors.detach().clone()
        self.captured_at = state.get("captured_at")

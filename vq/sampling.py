"""Drawing codes at a temperature: inverse-CDF sampling and the Gumbel-softmax draw."""

from __future__ import annotations

import torch
from torch import Tensor


def draw(log_weights: Tensor) -> Tensor:
    """One draw per row from ``softmax(log_weights)`` ``(N, K)``, whose rows peak at 0, by inverse
    CDF: one uniform per row instead of the ``N×K`` noise of the Gumbel-max trick (CPU random
    numbers are the slow part). Log-weights under −80 are floored there (``exp`` of smaller
    numbers takes a slow path on CPUs) and ``u ≥ 2⁻²⁴``, so floored codes (total mass under
    ``K·e⁻⁸⁰``) are never drawn. Overwrites ``log_weights``."""
    cdf = log_weights.clamp_min_(-80.0).exp_().cumsum_(-1)
    u = torch.rand(cdf.shape[0], 1, dtype=cdf.dtype, device=cdf.device).clamp_min_(2**-24)
    return (
        torch.searchsorted(cdf, u * cdf[:, -1:], right=True).squeeze(1).clamp_max(cdf.shape[1] - 1)
    )


def gumbel_sample(logits: Tensor, temperature: float) -> tuple[Tensor, Tensor]:
    """One Gumbel-softmax draw per row: ``(codes, y_soft)`` with ``codes = argmax(logits + g)``
    (a draw from ``softmax(logits)``) and ``y_soft = softmax((logits + g) / temperature)``, the
    relaxation whose gradient the straight-through estimator passes back. The noise is drawn as
    in ``F.gumbel_softmax`` (``g = −log E``, ``E ~ Exp(1)``), so under one seed both pick the
    same codes."""
    gumbels = -torch.empty_like(logits).exponential_().log()
    y_soft = ((logits + gumbels) / temperature).softmax(-1)
    return y_soft.detach().argmax(-1), y_soft

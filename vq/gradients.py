"""How gradients cross the non-differentiable code lookup.

Both estimators return the code vectors ``q`` in the forward pass; they differ in what the
encoder receives in the backward pass:

- :func:`straight_through` copies the decoder's gradient to the encoder unchanged (identity).
- :func:`rotation_trick` (Fifty et al., 2024, "Restructuring Vector Quantization with the
  Rotation Trick") sends it through the rotation-and-rescale that maps ``z`` onto ``q``, so the
  encoder learns how its output sits relative to the chosen code, not just where the code is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

_EPS = 1e-8


def straight_through(z: Tensor, q: Tensor) -> Tensor:
    """``q`` forward, identity gradient to ``z``; ``q`` itself gets no gradient."""
    return z + (q - z).detach()


def rotation_trick(z: Tensor, q: Tensor) -> Tensor:
    """``q`` forward; backward multiplies the incoming gradient by ``λ Rᵀ`` where ``R`` rotates
    ``ẑ`` onto ``q̂`` (a Householder-style rotation in their common plane) and ``λ = |q|/|z|``.

    ``R`` and ``λ`` are treated as constants, as in the paper; ``q`` gets no gradient.
    """
    z_norm = z.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    q_norm = q.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    u = (z / z_norm).detach()
    q_hat = (q / q_norm).detach()
    w = F.normalize(u + q_hat, dim=-1, eps=_EPS)
    rotated = z - 2 * (z * w).sum(-1, keepdim=True) * w + 2 * (z * u).sum(-1, keepdim=True) * q_hat
    return rotated * (q_norm / z_norm).detach()


def rotation_matrix(z: Tensor, q: Tensor) -> Tensor:
    """The explicit ``λR`` of :func:`rotation_trick` for one pair of vectors (for tests/plots)."""
    u = z / z.norm().clamp_min(_EPS)
    q_hat = q / q.norm().clamp_min(_EPS)
    w = F.normalize(u + q_hat, dim=-1, eps=_EPS)
    eye = torch.eye(z.shape[-1], dtype=z.dtype, device=z.device)
    r = eye - 2 * torch.outer(w, w) + 2 * torch.outer(q_hat, u)
    return r * (q.norm() / z.norm().clamp_min(_EPS))

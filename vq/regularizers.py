"""Differentiable codebook and latent regularisers, as trainer criteria
``(batch, result) -> Tensor``.

:func:`orthogonality_penalty` is the training-time counterpart of the orthogonality metric
(:func:`vq.metrics.codebook_orthogonality`). An EMA codebook is a buffer — each code is the
running mean of the encoder outputs assigned to it — so no gradient can reach it; what the
encoder *can* move is where those means lie. The penalty therefore works on each level's batch
centroids: the mean input of every code the batch uses, a differentiable function of the
encoder. Pushing the centroids towards mutually orthogonal directions moves the codes, which
follow them, the same way; for a loss-learned codebook (``learn="loss"``) the codebook term
pulls the codes onto the same centroids.

:func:`topographic_penalty` is the counterpart of the topographic correlation
(:func:`vq.metrics.topographic_correlation`): ``1 −`` the Pearson correlation between the
batch's pairwise input distances and pairwise latent distances.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from mini.training.criteria import batch_inputs
from mini.training.result import Result
from vq.quantizer import VectorQuantizer
from vq.residual import ResidualVQ, quantizer_levels


def centroid_orthogonality(inputs: Tensor, codes: Tensor, codebook_size: int) -> Tensor:
    """Mean ``|cos|`` between the distinct batch centroids of ``inputs`` ``(N, D)`` grouped by
    ``codes`` ``(N,)`` (codes the batch does not use are left out); differentiable in
    ``inputs``. Zero with fewer than two codes in use.

    Computed over all ``codebook_size`` slots without reading a count back to the host (an
    unused code's centroid is the zero vector, whose cosines are 0), so on an accelerator the
    step never waits for it. The gradient is written out by hand (:class:`_CentroidOrthogonality`):
    the same values and gradient as autograd through the formula, in a third of the kernels."""
    return _CentroidOrthogonality.apply(inputs, codes, codebook_size)


class _CentroidOrthogonality(torch.autograd.Function):
    """``(Σ_{i≠j} |Gᵢⱼ|) / (k(k−1))`` with ``G = U Uᵀ``, ``U`` the unit centroids and ``k`` the
    codes in use. Backward: ``dG = sign(G)`` off the diagonal, ``dU = (dG + dGᵀ) U``, then the
    normalisation's and the mean's Jacobians and a gather by code — what autograd would chain
    through some forty small kernels (most of this regulariser's cost on small codebooks)."""

    @staticmethod
    def forward(ctx: Any, inputs: Tensor, codes: Tensor, codebook_size: int) -> Tensor:
        sums = inputs.new_zeros(codebook_size, inputs.shape[1]).index_add_(0, codes, inputs)
        counts = torch.bincount(codes, minlength=codebook_size).to(inputs.dtype)
        size = counts.clamp_min(1.0).unsqueeze(1)
        centroids = sums.div_(size)
        length = centroids.norm(dim=1, keepdim=True)
        norm = length.clamp_min(1e-8)
        unit = centroids.div_(norm)
        gram = unit @ unit.T
        sign = gram.sign()
        cos = gram.abs_()
        k = (counts > 0).sum().to(inputs.dtype)
        denom = (k * (k - 1)).clamp_min(1.0)
        ctx.save_for_backward(codes, unit, sign, size, norm, length, denom)
        return (cos.sum() - cos.diagonal().sum()) / denom

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, None, None]:
        codes, unit, sign, size, norm, length, denom = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None
        d_gram = (sign * (grad / denom)).fill_diagonal_(0.0)
        d_unit = torch.addmm(d_gram @ unit, d_gram.T, unit)
        # through unit = c / max(|c|, 1e-8): the radial part drops out where |c| is clamped
        radial = (unit * d_unit).sum(1, keepdim=True).masked_fill_(length <= 1e-8, 0.0)
        d_sums = d_unit.sub_(unit * radial).div_(norm * size)
        return d_sums.index_select(0, codes), None, None


def orthogonality_penalty(
    quantizer: VectorQuantizer | ResidualVQ,
) -> Callable[[Any, Result], Tensor]:
    """A criterion (key it by a dopesheet column such as ``reg-orthogonality``, whose value is
    its weight) returning the mean over levels of :func:`centroid_orthogonality` of each level's
    inputs — the encoder outputs for level 0, the residuals ``z − q₀ − …`` for later levels —
    grouped by the codes the step chose. Reads ``result.latents`` and ``result.extras["codes"]``
    (what :class:`vq.VQAutoencoder` returns).

    Args:
        quantizer: the quantizer whose codes to push apart.
    """
    levels = quantizer_levels(quantizer)

    def criterion(batch: Any, result: Result) -> Tensor:
        del batch
        if result.latents is None or "codes" not in result.extras:
            raise ValueError("orthogonality_penalty needs result.latents and extras['codes']")
        residual = result.latents.reshape(-1, levels[0].dim)
        codes = result.extras["codes"].reshape(residual.shape[0], -1)
        terms = []
        for i, q in enumerate(levels):
            if q.distance == "cosine":
                residual = torch.nn.functional.normalize(residual, dim=-1)
            terms.append(centroid_orthogonality(residual, codes[:, i], q.codebook_size))
            if i + 1 < len(levels):  # the next level's inputs
                residual = residual - q.lookup(codes[:, i]).detach()
        return terms[0] if len(terms) == 1 else torch.stack(terms).mean()

    criterion.__name__ = "orthogonality_penalty"
    return criterion


def topographic_penalty(sample: int = 128) -> Callable[[Any, Result], Tensor]:
    """A criterion (e.g. a ``reg-topographic`` column) returning ``1 − r``, ``r`` the Pearson
    correlation between pairwise distances of the batch's inputs and of its pre-quantization
    latents (``result.latents``) over the first ``sample`` rows (batches are shuffled): 0 when
    the latent distances are an affine function of the input distances. Differentiable in the
    encoder.

    Args:
        sample: rows per batch it compares.
    """

    def criterion(batch: Any, result: Result) -> Tensor:
        if result.latents is None:
            raise ValueError("topographic_penalty needs result.latents")
        x = batch_inputs(batch)
        n = min(sample, x.shape[0])
        dx = torch.pdist(x[:n].reshape(n, -1).detach())
        dz = torch.pdist(result.latents[:n].reshape(n, -1))
        dx = dx - dx.mean()
        dz = dz - dz.mean()
        r = (dx * dz).sum() / (dx.norm() * dz.norm()).clamp_min(1e-12)
        return 1.0 - r

    criterion.__name__ = "topographic_penalty"
    return criterion

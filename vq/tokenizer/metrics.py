"""Losses and held-out metrics of the categorical tokenizer.

Definitions (also in ``docs/categorical.md``):

- **inter-category orthogonality**: for two categories ``k ≠ l`` with latents ``Q_k, Q_l``
  (``N × D`` quantized vectors over the validation rows, each coordinate centred), the mean
  ``|cosine|`` between a coordinate of ``Q_k`` and one of ``Q_l`` — i.e. the mean absolute
  Pearson correlation across the categories' latent coordinates — averaged over all pairs of
  categories. 0: the categories' tokens carry unrelated information; 1: duplicates.
  :func:`canonical_correlation` is the stricter rotation-invariant version (the largest
  correlation between any direction of one category's latent and any of another's).
- **topographic correlation**: :func:`vq.metrics.topographic_correlation` between the
  normalised features and all categories' quantized latents side by side (Pearson correlation
  of pairwise distances).
- **reconstruction quality**: :func:`vq.metrics.reconstruction_quality` on normalised features
  (``1 − MSE/variance``, every feature weighted equally).
- **utilization**: per category and level, the fraction of codes the validation rows use;
  averaged over categories and levels (``utilization_levels``: per live category, keyed by its
  name ``c<index>``, the fraction per level).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mini.training.criteria import batch_inputs
from mini.training.modes import eval_mode
from mini.training.result import Result
from vq.metrics import reconstruction_quality, topographic_correlation
from vq.tokenizer.assignment import assignment_imbalance, assignment_overlap, near_hard_fraction


def _standardised(latents: Tensor, eps: float = 1e-8) -> Tensor:
    """``(N, K, D)`` → coordinates centred and scaled to unit norm over the rows."""
    c = latents - latents.mean(0, keepdim=True)
    return c / c.norm(dim=0, keepdim=True).clamp_min(eps)


def cross_category_correlations(latents: Tensor) -> Tensor:
    """``(K·D, K·D)`` Pearson correlations between all latent coordinates, with the blocks
    inside one category zeroed; ``latents`` is ``(N, K, D)``."""
    n, k, d = latents.shape
    s = _standardised(latents).reshape(n, k * d)
    corr = s.t() @ s
    block = torch.block_diag(*[torch.ones(d, d, device=latents.device)] * k).bool()
    return corr.masked_fill(block, 0.0)


def inter_category_orthogonality(latents: Tensor) -> float:
    """Mean ``|correlation|`` between coordinates of different categories (module docstring).

    Args:
        latents: per-category latents ``(B, K, D)``.
    """
    _, k, d = latents.shape
    if k < 2:
        return 0.0
    corr = cross_category_correlations(latents.double())
    return float(corr.abs().sum() / (k * (k - 1) * d * d))


def canonical_correlation(latents: Tensor) -> float:
    """The largest first canonical correlation over pairs of categories (rotation-invariant).

    Args:
        latents: per-category latents ``(B, K, D)``.
    """
    _, k, _ = latents.shape
    best = 0.0
    bases = []
    for i in range(k):
        c = latents[:, i].double() - latents[:, i].double().mean(0)
        u, s, _ = torch.linalg.svd(c, full_matrices=False)
        bases.append(u[:, s > s.max() * 1e-6] if s.max() > 0 else u[:, :0])
    for i in range(k):
        for j in range(i + 1, k):
            if bases[i].shape[1] and bases[j].shape[1]:
                sv = torch.linalg.svdvals(bases[i].t() @ bases[j])
                best = max(best, float(sv.max()))
    return best


# -- criteria (the trainer weights each by the dopesheet column of its name) ------------------------
def recon_criterion(batch: Any, result: Result) -> Tensor:
    return F.mse_loss(result.outputs, batch_inputs(batch))


def commitment_criterion(batch: Any, result: Result) -> Tensor:
    del batch
    return result.extras["commitment"]


def orthogonality_criterion(batch: Any, result: Result) -> Tensor:
    """Squared correlations between latent coordinates of different categories, summed over
    coordinate pairs (so a duplicated direction costs ~1) and averaged over category pairs."""
    del batch
    q = result.extras["quantized"]
    k = q.shape[1]
    corr = cross_category_correlations(q)
    return corr.square().sum() / max(k * (k - 1), 1)


def topographic_criterion(batch: Any, result: Result) -> Tensor:
    """``1 −`` Pearson correlation of the batch's pairwise input and latent distances."""
    dx = torch.pdist(batch_inputs(batch))
    dz = torch.pdist(result.latents)
    dx, dz = dx - dx.mean(), dz - dz.mean()
    return 1.0 - (dx * dz).sum() / (dx.norm() * dz.norm()).clamp_min(1e-8)


def assign_orthogonality_criterion(batch: Any, result: Result) -> Tensor:
    del batch
    return assignment_overlap(result.extras["assignment"])


def assign_balance_criterion(batch: Any, result: Result) -> Tensor:
    del batch
    return assignment_imbalance(result.extras["assignment"])


CRITERIA = {
    "recon": recon_criterion,
    "commitment": commitment_criterion,
    "orthogonality": orthogonality_criterion,
    "topographic": topographic_criterion,
    "assign-orthogonality": assign_orthogonality_criterion,
    "assign-balance": assign_balance_criterion,
}
ASSIGN_CRITERIA = ("assign-orthogonality", "assign-balance")


# -- the held-out report ----------------------------------------------------------------------------
def adjusted_rand(groups: np.ndarray | None, categories: np.ndarray) -> float | None:
    """ARI between the planted groups and the categories, over the grouped features (the
    distractors, ``groups == -1``, belong to no group); ``None`` without ground truth."""
    if groups is None:
        return None
    from sklearn.metrics import adjusted_rand_score

    grouped = groups >= 0
    return float(adjusted_rand_score(groups[grouped], categories[grouped]))


def validation_report(
    model: Any, x_val: Tensor, groups: np.ndarray | None = None, seed: int = 0
) -> dict[str, Any]:
    """Every held-out figure of the tokenizer on the normalised validation rows ``x_val``
    (eval mode, nearest codes), over the categories that own features."""
    with eval_mode(model):
        a = model.assignment()
        soft = model.assignment.soft()
        result = model(x_val)
        codes = result.extras["codes"]
    live = model.live_categories()
    q = result.extras["quantized"][:, live]
    cats = model.assignment.categories().cpu().numpy()
    per_category = []
    for k in live.tolist():
        used = [
            int(torch.unique(codes[:, k, lv]).numel())
            / model.quantizers[k].quantizers[lv].codebook_size
            for lv in range(codes.shape[2])
        ]
        per_category.append(used)
    util = [float(np.mean(u)) for u in per_category]
    gen = torch.Generator().manual_seed(seed)
    return {
        "k": len(live),
        "ari": adjusted_rand(groups, cats),
        "near_hard_fraction": near_hard_fraction(soft),
        "recon_quality": reconstruction_quality(x_val, result.outputs),
        "utilization": float(np.mean(util)) if util else 0.0,
        "utilization_per_category": util,
        "utilization_levels": {
            f"c{k}": u for k, u in zip(live.tolist(), per_category, strict=True)
        },
        "orthogonality": inter_category_orthogonality(q),
        "canonical_correlation": canonical_correlation(q),
        "topographic_correlation": topographic_correlation(
            x_val, q.flatten(1), sample=512, generator=gen
        ),
        "val_loss": float(F.mse_loss(result.outputs, x_val) + result.extras["commitment"]),
        "assign_overlap": float(assignment_overlap(a)),
        "assign_imbalance": float(assignment_imbalance(a)),
    }

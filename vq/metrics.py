"""Codebook and latent-space health metrics: small functions on tensors, returning floats.

They run off the hot path (every N steps, on a window of usage counts or a sample of a batch),
so each may synchronise with the device.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import torch
from torch import Tensor


def code_counts(codes: Tensor, codebook_size: int) -> Tensor:
    """How many times each code index occurs in ``codes`` (any shape), as floats.

    Args:
        codes: code indices, any shape.
        codebook_size: the number of codes.
    """
    return torch.bincount(codes.reshape(-1), minlength=codebook_size).to(torch.float32)


def utilization(counts: Tensor, threshold: float = 1.0) -> float:
    """Fraction of codes used at least ``threshold`` times.

    Args:
        counts: uses per code.
        threshold: uses for a code to count.
    """
    return float((counts >= threshold).float().mean())


def dead_codes(counts: Tensor, threshold: float = 1.0) -> int:
    """Number of codes used fewer than ``threshold`` times.

    Args:
        counts: uses per code.
        threshold: uses for a code to be alive.
    """
    return int((counts < threshold).sum())


def perplexity(counts: Tensor) -> float:
    """``exp`` of the entropy of code usage: K for uniform use of K codes, 1 for one code.
    ``nan`` when nothing was counted.

    Args:
        counts: uses per code.
    """
    total = counts.sum()
    if total <= 0:
        return float("nan")
    p = counts[counts > 0] / total
    return float(torch.exp(-(p * p.log()).sum()))


def effective_rank(x: Tensor, center: bool = True) -> float:
    """Roy & Vetterli's effective rank of a batch ``x`` of shape ``(N, D)``: ``exp`` of the
    entropy of the singular values normalised to sum 1. Between 1 (a line) and ``min(N, D)``.

    Centred by default so that a cloud sitting away from the origin does not count its offset
    as a direction.

    Args:
        x: a batch ``(N, D)``.
        center: subtract the mean first.
    """
    x = x.reshape(x.shape[0], -1).double()
    if center:
        x = x - x.mean(0, keepdim=True)
    s = torch.linalg.svdvals(x)
    total = s.sum()
    if total <= 0:
        return 0.0
    p = s[s > 0] / total
    return float(torch.exp(-(p * p.log()).sum()))


def _pearson(a: Tensor, b: Tensor) -> float:
    a = a - a.mean()
    b = b - b.mean()
    denom = a.norm() * b.norm()
    if denom == 0:
        return float("nan")
    return float((a * b).sum() / denom)


def _ranks(x: Tensor) -> Tensor:
    """Average ranks (ties share the mean of their ranks), as Spearman needs."""
    sorted_x, order = torch.sort(x)
    ranks = torch.empty_like(x)
    ranks[order] = torch.arange(len(x), dtype=x.dtype, device=x.device)
    _, inverse, counts = torch.unique_consecutive(sorted_x, return_inverse=True, return_counts=True)
    if len(counts) == len(x):
        return ranks
    ends = torch.cumsum(counts, 0).to(x.dtype)
    mean_rank = ends - (counts.to(x.dtype) + 1) / 2
    ranks[order] = mean_rank[inverse]
    return ranks


def topographic_correlation(
    inputs: Tensor,
    latents: Tensor,
    sample: int = 256,
    method: Literal["pearson", "spearman"] = "pearson",
    generator: torch.Generator | None = None,
) -> float:
    """Correlation between pairwise input distances and pairwise latent distances on a random
    sample of at most ``sample`` rows: near 1 when the latent space keeps the data's
    neighbourhoods. ``method`` is ``"pearson"`` or ``"spearman"`` (rank correlation).

    Args:
        inputs: rows of inputs ``(N, ...)``.
        latents: their latents ``(N, D)``.
        sample: at most this many rows.
        method: ``"pearson"`` or ``"spearman"``.
        generator: the random generator (default: torch's global one).
    """
    if method not in ("pearson", "spearman"):
        raise ValueError(f"method must be 'pearson' or 'spearman', got {method!r}")
    n = inputs.shape[0]
    if latents.shape[0] != n:
        raise ValueError(f"inputs have {n} rows but latents have {latents.shape[0]}")
    x = inputs.reshape(n, -1).double()
    z = latents.reshape(n, -1).double()
    if n > sample:
        idx = torch.randperm(n, generator=generator)[:sample].to(x.device)
        x, z = x[idx], z[idx]
    dx, dz = torch.pdist(x), torch.pdist(z)
    if method == "spearman":
        dx, dz = _ranks(dx), _ranks(dz)
    return _pearson(dx, dz)


def _unit_rows(x: Tensor) -> Tensor:
    x = x.reshape(x.shape[0], -1).double()
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


def codebook_orthogonality(codes: Tensor) -> float:
    """Mean ``|cos|`` between distinct rows of ``codes`` ``(K, D)``, taken about the origin:
    0 when the codes are mutually orthogonal, 1 when they all lie on one line. ``nan`` with fewer
    than two codes. Pass the codes a split actually uses (see :mod:`vq.train.heldout`); a zero code
    counts as orthogonal to every other. ``K`` codes in ``D < K`` dimensions cannot all be
    orthogonal: random directions give about ``sqrt(2 / (π D))``.

    Args:
        codes: the code vectors ``(K, D)``.
    """
    k = codes.shape[0]
    if k < 2:
        return float("nan")
    u = _unit_rows(codes)
    cos = (u @ u.T).abs()
    return float((cos.sum() - cos.diagonal().sum()) / (k * (k - 1)))


def cross_orthogonality(a: Tensor, b: Tensor) -> float:
    """Mean ``|cos|`` between every row of ``a`` ``(K_a, D)`` and every row of ``b``
    ``(K_b, D)``: how far two codebooks (e.g. two residual levels) point along the same
    directions. 0 when every code of one is orthogonal to every code of the other; ``nan`` when
    either is empty.

    Args:
        a: code vectors ``(K_a, D)``.
        b: code vectors ``(K_b, D)``.
    """
    if a.shape[0] == 0 or b.shape[0] == 0:
        return float("nan")
    return float((_unit_rows(a) @ _unit_rows(b).T).abs().mean())


def reconstruction_quality(target: Tensor, output: Tensor) -> float:
    """``1 − MSE / variance of the data`` (the R² score): 1 for a perfect reconstruction, 0 for
    always predicting the per-feature mean, negative when worse than that.

    Args:
        target: the inputs.
        output: their reconstructions.
    """
    target = target.reshape(target.shape[0], -1).double()
    output = output.reshape(output.shape[0], -1).double()
    if target.shape != output.shape:
        raise ValueError(f"target {tuple(target.shape)} and output {tuple(output.shape)} differ")
    sse = ((target - output) ** 2).sum()
    sst = ((target - target.mean(0, keepdim=True)) ** 2).sum()
    if sst == 0:
        return float("nan")
    return float(1 - sse / sst)


@dataclass(frozen=True, slots=True)
class CodebookHealth:
    """One codebook's usage over its window: what a health monitor records and checks.

    Attributes:
        codes: the codebook's size.
        active: codes used at least the threshold.
        dead: the others.
        utilization: ``active / codes``.
        perplexity: ``exp`` of the usage entropy.
    """

    codes: int
    active: int
    dead: int
    utilization: float
    perplexity: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def codebook_health(counts: Tensor, threshold: float = 1.0) -> CodebookHealth:
    """Summarise usage ``counts`` (one per code); a code is active when used ≥ ``threshold``.

    Args:
        counts: uses per code.
        threshold: uses for a code to count as active.
    """
    k = int(counts.numel())
    dead = dead_codes(counts, threshold)
    return CodebookHealth(k, k - dead, dead, (k - dead) / k, perplexity(counts))

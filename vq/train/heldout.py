"""Held-out codebook metrics: what a VQ model does on data it never trained on.

The quantizer's own usage window counts the codes the *training* batches chose (sampled codes
while the temperature is up, and recently refreshed codes that training has not yet reached
count as dead); those numbers flatter a run. :func:`heldout_metrics` assigns every held-out row
its nearest code per level (eval mode, no gradients) and measures:

- per level: ``active``/``dead`` codes (chosen by ≥ ``threshold`` held-out rows or not),
  ``utilization`` (active / codes), ``perplexity`` of the held-out assignment and
  ``orthogonality`` (mean ``|cos|`` between distinct *used* codes of the level,
  :func:`vq.metrics.codebook_orthogonality`);
- ``utilization``: the levels' mean; ``orthogonality``: the *worst* (largest) level's, so a
  bound on it holds on every level; ``cross_level_orthogonality`` (residual VQ): mean over pairs
  of levels ``i < j`` of the mean ``|cos|`` between every used code of level ``i`` and every used
  code of level ``j`` (:func:`vq.metrics.cross_orthogonality`);
- ``recon_quality``: ``1 − MSE / variance`` of the reconstructions;
- ``topographic_correlation``: Pearson correlation of pairwise input distances with pairwise
  pre-quantization latent distances (:func:`vq.metrics.topographic_correlation`);
- ``effective_rank`` of the pre-quantization latents.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

import torch
from torch import Tensor, nn

from mini.training.criteria import batch_inputs
from mini.training.modes import eval_mode
from mini.training.result import Result, as_result
from vq.metrics import (
    code_counts,
    codebook_health,
    codebook_orthogonality,
    cross_orthogonality,
    effective_rank,
    reconstruction_quality,
    topographic_correlation,
)
from vq.quantizer import VectorQuantizer
from vq.residual import ResidualVQ, quantizer_levels

Forward = Callable[[nn.Module, Any], Any]


@dataclass(frozen=True, slots=True)
class LevelMetrics:
    """One level's codebook on held-out data."""

    codes: int
    active: int
    dead: int
    utilization: float
    perplexity: float
    orthogonality: float


@dataclass(frozen=True)
class HeldOutMetrics:
    """Everything :func:`heldout_metrics` measures (see the module docstring).

    Attributes:
        levels: each level's metrics.
        recon_quality: reconstruction quality.
        topographic_correlation: input vs latent distances.
        effective_rank: of the latents.
        cross_level_orthogonality: between residual levels (``None``: one level).
    """

    levels: list[LevelMetrics]
    recon_quality: float
    topographic_correlation: float
    effective_rank: float
    cross_level_orthogonality: float | None  # None for a single codebook

    @property
    def utilization(self) -> float:
        return sum(lv.utilization for lv in self.levels) / len(self.levels)

    @property
    def orthogonality(self) -> float:
        values = [lv.orthogonality for lv in self.levels]
        return float("nan") if any(math.isnan(v) for v in values) else max(values)

    def records(self, prefix: str = "vq/") -> dict[str, float]:
        """Flat metric names for ``trainer.record``: ``vq/l{i}/active`` … ``vq/utilization``.

        Args:
            prefix: put before every name.
        """
        out: dict[str, float] = {}
        for i, lv in enumerate(self.levels):
            for key in ("active", "dead", "utilization", "perplexity", "orthogonality"):
                out[f"{prefix}l{i}/{key}"] = getattr(lv, key)
        out[f"{prefix}utilization"] = self.utilization
        out[f"{prefix}orthogonality"] = self.orthogonality
        if self.cross_level_orthogonality is not None:
            out[f"{prefix}cross_level_orthogonality"] = self.cross_level_orthogonality
        out[f"{prefix}recon_quality"] = self.recon_quality
        out[f"{prefix}topographic"] = self.topographic_correlation
        out[f"{prefix}effective_rank"] = self.effective_rank
        return out

    def summary(self) -> dict[str, Any]:
        """The plain keys of ``summary.json``."""
        out: dict[str, Any] = {
            "levels": [asdict(lv) for lv in self.levels],
            "utilization": self.utilization,
            "recon_quality": self.recon_quality,
            "topographic_correlation": self.topographic_correlation,
            "orthogonality": self.orthogonality,
            "effective_rank": self.effective_rank,
        }
        if self.cross_level_orthogonality is not None:
            out["cross_level_orthogonality"] = self.cross_level_orthogonality
        return out


def level_codes(quantizer: VectorQuantizer | ResidualVQ, result: Result) -> Tensor:
    """The codes ``(N, levels)`` of a result: ``extras["codes"]`` when the model put them there
    (as :class:`vq.VQAutoencoder` does), else the quantizer's nearest codes for its latents."""
    codes = result.extras.get("codes")
    if codes is None:
        if result.latents is None:
            raise ValueError("the result has neither extras['codes'] nor latents to quantize")
        with eval_mode(quantizer):
            codes = quantizer(result.latents).codes
    n = result.outputs.shape[0]
    return codes.reshape(n, -1)


def heldout_metrics(
    quantizer: VectorQuantizer | ResidualVQ,
    inputs: Tensor,
    result: Result,
    *,
    threshold: float = 1.0,
    sample: int = 512,
    generator: torch.Generator | None = None,
) -> HeldOutMetrics:
    """Metrics of an eval-mode ``result`` of the model on held-out ``inputs`` (see the module
    docstring). A code is active when at least ``threshold`` rows chose it; the topographic
    correlation uses at most ``sample`` rows (all of them when there are fewer).

    Args:
        quantizer: the model's quantizer.
        inputs: the held-out inputs.
        result: the model's eval-mode output on them.
        threshold: rows for a code to count as active.
        sample: rows for the topographic correlation.
        generator: the random generator (default: torch's global one).
    """
    levels = quantizer_levels(quantizer)
    codes = level_codes(quantizer, result)
    if codes.shape[1] != len(levels):
        raise ValueError(f"{codes.shape[1]} code columns for {len(levels)} quantizer levels")
    used: list[Tensor] = []
    stats: list[LevelMetrics] = []
    for i, q in enumerate(levels):
        counts = code_counts(codes[:, i], q.codebook_size)
        h = codebook_health(counts, threshold)
        live = q.codebook.detach()[counts >= threshold]
        used.append(live)
        stats.append(
            LevelMetrics(
                h.codes, h.active, h.dead, h.utilization, h.perplexity,
                codebook_orthogonality(live),
            )
        )  # fmt: skip
    cross = None
    if len(levels) > 1:
        pairs = [cross_orthogonality(a, b) for a, b in combinations(used, 2)]
        cross = sum(pairs) / len(pairs)
    x = inputs.detach()
    quality = float("nan")
    if result.outputs.shape == x.shape:
        quality = reconstruction_quality(x, result.outputs.detach())
    topo = rank = float("nan")
    if result.latents is not None:
        z = result.latents.detach().reshape(x.shape[0], -1)
        topo = topographic_correlation(x, z, sample, generator=generator)
        rank = effective_rank(z)
    return HeldOutMetrics(stats, quality, topo, rank, cross)


def evaluate_heldout(
    model: nn.Module,
    quantizer: VectorQuantizer | ResidualVQ,
    batch: Any,
    forward: Forward | None = None,
    **kwargs: Any,
) -> tuple[Result, HeldOutMetrics]:
    """Run ``model`` on the held-out ``batch`` in eval mode without gradients and measure it.
    ``forward(model, batch)`` defaults to ``model(inputs)``; ``kwargs`` go to
    :func:`heldout_metrics`."""
    x = batch_inputs(batch)
    with eval_mode(model):
        result = as_result(forward(model, batch) if forward is not None else model(x))
    return result, heldout_metrics(quantizer, x, result, **kwargs)

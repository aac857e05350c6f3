"""Keeping a :class:`~vq.quantizer.VectorQuantizer`'s codebook: the usage window and the ring
of recent inputs, the EMA update, k-means seeding, dead-code refresh, and (under ``torchrun``)
rank 0's codebook for every rank.

The bodies of the quantizer's ``initialize``/``refresh`` and of the tracking its ``forward``
does while training, kept apart from :mod:`vq.quantizer` so that the module holds how inputs
are quantized, and this one how the codebook is kept healthy.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from vq import distributed
from vq.kmeans import kmeans_centroids

if TYPE_CHECKING:
    from vq.quantizer import VectorQuantizer

log = logging.getLogger("vq.quantizer")  # the quantizer's messages


@torch.no_grad()
def track(q: VectorQuantizer, flat: Tensor, codes: Tensor) -> None:
    """Usage window, recent inputs and (for EMA) the codebook update, in place: the step's
    code counts land in the usage window's row and the EMA sums take ``index_add_`` straight
    into ``embed_sum`` (no per-step ``(K, dim)`` temporaries).

    Args:
        q: the quantizer.
        flat: the step's inputs ``(N, dim)`` as quantized, detached.
        codes: their codes ``(N,)``.
    """
    ema = q.learn == "ema"
    row = q.usage[q._steps % q.window]
    if distributed.active():  # every rank updates with the statistics of the global batch
        counts = torch.bincount(codes, minlength=q.codebook_size).to(flat.dtype)
        sums = torch.zeros_like(q.embed_sum).index_add_(0, codes, flat) if ema else None
        counts, *rest = distributed.sum_over_ranks(counts, *([sums] if ema else []))
        row.copy_(counts)
    else:
        row.copy_(torch.bincount(codes, minlength=q.codebook_size))
        rest = []
    q._steps += 1
    _remember(q, flat)
    if ema:
        decay = q.decay
        q.cluster_size.mul_(decay).add_(row, alpha=1.0 - decay)
        q.embed_sum.mul_(decay)
        if rest:
            q.embed_sum.add_(rest[0], alpha=1.0 - decay)
        else:
            q.embed_sum.index_add_(0, codes, flat, alpha=1.0 - decay)
        _sync_codebook(q)


def _remember(q: VectorQuantizer, flat: Tensor) -> None:
    """Copy the batch into the ring of recent inputs (at most two slice copies)."""
    cap = q.recent
    rows = flat[-cap:]
    n, i = rows.shape[0], q._recent_next
    first = min(n, cap - i)
    q.recent_buf[i : i + first].copy_(rows[:first])
    if first < n:
        q.recent_buf[: n - first].copy_(rows[first:])
    q._recent_next = (i + n) % cap
    q._recent_filled = min(cap, q._recent_filled + n)


def _sync_codebook(q: VectorQuantizer) -> None:
    """codebook = embed_sum / cluster_size where a code has mass; codes without mass keep
    their place (dividing two decayed numbers would only add noise)."""
    new = q.embed_sum / q.cluster_size.clamp_min(q.eps).unsqueeze(1)
    if q._cosine:
        new = F.normalize(new, dim=-1)
    alive = (q.cluster_size > q.eps).unsqueeze(1)
    q.codebook.copy_(torch.where(alive, new, q.codebook))


@torch.no_grad()
def initialize(q: VectorQuantizer, samples: Tensor, generator: torch.Generator | None) -> None:
    """:meth:`VectorQuantizer.initialize`: seed every code by k-means on ``samples``.

    Args:
        q: the quantizer.
        samples: latents ``(N, dim)``.
        generator: the random generator (``None``: torch's global one).
    """
    x = distributed.gather_rows(samples.detach().reshape(-1, q.dim))
    if q._cosine:
        x = F.normalize(x, dim=-1)
    centroids = kmeans_centroids(x, q.codebook_size, q.kmeans_iters, generator)
    _replace(q, torch.arange(q.codebook_size, device=x.device), centroids)
    _from_rank0(q)
    q._initialized = True
    log.debug("codebook of %d codes seeded by k-means on %d samples", len(centroids), len(x))


@torch.no_grad()
def refresh(
    q: VectorQuantizer,
    threshold: float | None,
    samples: Tensor | None,
    generator: torch.Generator | None,
) -> Tensor:
    """:meth:`VectorQuantizer.refresh`: re-seed every dead code, k-means++ style.

    Args:
        q: the quantizer.
        threshold: uses below which a code is dead (``None``: ``dead_threshold``).
        samples: seeds to draw from (``None``: the recent inputs).
        generator: the random generator (``None``: torch's global one).
    """
    dead = q.dead_codes(threshold)
    if dead.numel() == 0:
        return dead
    pool = q.recent_inputs() if samples is None else samples.reshape(-1, q.dim)
    pool = distributed.gather_rows(pool)  # under torchrun: the recent inputs of every rank
    if pool.shape[0] == 0:
        log.warning("refresh: no recent inputs to seed %d dead codes from", dead.numel())
        return dead[:0]
    if q._cosine:
        pool = F.normalize(pool, dim=-1)
    live = torch.ones(q.codebook_size, dtype=torch.bool, device=dead.device)
    live[dead] = False
    weights = torch.ones(pool.shape[0], device=pool.device)
    if live.any():
        d = q._distances(pool, q.codebook[live], full=True).min(-1).values
        if (d > 0).sum() >= dead.numel():
            weights = d
    replacement = dead.numel() > int((weights > 0).sum())
    picks = torch.multinomial(weights, dead.numel(), replacement, generator=generator)
    _replace(q, dead, pool[picks])
    q.usage[:, dead] = 0.0
    _from_rank0(q)
    log.info("refreshed %d dead codes", dead.numel())
    return dead


def _from_rank0(q: VectorQuantizer) -> None:
    """Under torchrun, take rank 0's codebook state (after seeding or refreshing)."""
    if distributed.active():
        state = [q.codebook.data, q.usage]
        if q.learn == "ema":
            state += [q.cluster_size, q.embed_sum]
        distributed.from_rank0(*state)


def _replace(q: VectorQuantizer, idx: Tensor, vectors: Tensor) -> None:
    """Put ``vectors`` at codes ``idx`` (normalised for cosine; EMA sums restart from them)."""
    vectors = vectors.to(q.codebook.dtype)
    if q._cosine:
        vectors = F.normalize(vectors, dim=-1)
    q.codebook[idx] = vectors
    if q.learn == "ema":
        q.cluster_size[idx] = 1.0
        q.embed_sum[idx] = vectors

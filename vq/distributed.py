"""What a quantizer needs from ``torch.distributed``: every rank ends each step with the same
codebook. EMA statistics are summed over ranks before the update, k-means seeding and dead-code
refresh draw from the samples of all ranks, and their results are taken from rank 0.

Without an initialised process group every function is the identity (one process).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def sum_over_ranks(*tensors: Tensor) -> tuple[Tensor, ...]:
    """The tensors summed over all ranks, in one collective (flattened together)."""
    if not active():
        return tensors
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat)
    out, i = [], 0
    for t in tensors:
        out.append(flat[i : i + t.numel()].view_as(t))
        i += t.numel()
    return tuple(out)


def gather_rows(x: Tensor) -> Tensor:
    """The rows of ``x`` from every rank, in rank order (ranks may hold different numbers)."""
    if not active():
        return x
    n = torch.tensor([x.shape[0]], device=x.device)
    sizes = [torch.zeros_like(n) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, n)
    most = int(max(int(s) for s in sizes))
    padded = x.new_zeros((most, *x.shape[1:]))
    padded[: x.shape[0]] = x
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded)
    return torch.cat([p[: int(s)] for p, s in zip(parts, sizes, strict=True)])


def from_rank0(*tensors: Tensor) -> None:
    """Overwrite the tensors (in place) with rank 0's."""
    if not active():
        return
    for t in tensors:
        dist.broadcast(t, 0)

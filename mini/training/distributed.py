"""Running the trainer under ``torch.distributed`` (``torchrun``, DDP), with nothing invented.

Every rank walks the same timeline, so properties, phases and actions agree by construction.
Data: every rank draws the same *global* batch (same loaders, same seeds) and trains on its own
slice of it (:class:`RankSlices`) — so a 2-process run with batch B is the 1-process run with
batch B, split, and its loss curve matches it (a loader over a ``DistributedSampler`` already
yields one rank's share and is used as it is, with ``set_epoch`` called each pass); the colour
sampler's dynamic weights are set identically on every rank by the same properties. Gradients are averaged by
``DistributedDataParallel``; logged losses are averaged across ranks; after a step with actions
(anchor capture, dead-code refresh) the model and the handlers' state are broadcast from rank 0,
so every rank holds identical state. Only rank 0 writes files. Collectives time out (default
120 s, ``DOPESHEET_DIST_TIMEOUT``) so a rank that dies stops the others with an error instead of
a hang. Backend: NCCL with CUDA (device ``cuda:LOCAL_RANK``), gloo otherwise.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from mini.training.data import per_rank

log = logging.getLogger(__name__)


class DistributedError(RuntimeError):
    """A distributed run cannot continue (a rank died, or ranks disagree)."""


CPU = torch.device("cpu")


@dataclass(frozen=True)
class Distributed:
    """The process group a run is part of (``world_size`` 1: not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = CPU

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def setup(timeout_s: float | None = None) -> Distributed:
    """Join the process group ``torchrun`` describes (or the one already initialised) and return
    this process's place in it; a plain ``python`` run gets the single-process default.

    Args:
        timeout_s: the collectives' timeout (default ``DOPESHEET_DIST_TIMEOUT`` or 120 s).
    """
    if not dist.is_available():
        return Distributed()
    if not dist.is_initialized():
        if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) < 2:
            return Distributed()
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        seconds = timeout_s or float(os.environ.get("DOPESHEET_DIST_TIMEOUT", 120))
        dist.init_process_group(
            "nccl" if cuda else "gloo", timeout=datetime.timedelta(seconds=seconds)
        )
    rank, world = dist.get_rank(), dist.get_world_size()
    local = int(os.environ.get("LOCAL_RANK", rank))
    device = torch.device(f"cuda:{local}") if dist.get_backend() == "nccl" else torch.device("cpu")
    return Distributed(rank, world, local, device)


def current() -> Distributed:
    """The process group already joined (single-process default if none)."""
    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
        local = int(os.environ.get("LOCAL_RANK", rank))
        device = (
            torch.device(f"cuda:{local}") if dist.get_backend() == "nccl" else torch.device("cpu")
        )
        return Distributed(rank, world, local, device)
    return Distributed()


def shard(batch: Any, rank: int, world: int) -> Any:
    """Rank ``rank``'s contiguous slice of a batch (tensors, and tuples/lists/dicts of them,
    sliced along the first dimension; other values kept whole)."""
    if isinstance(batch, Tensor):
        n = batch.shape[0]
        if n < world:
            raise DistributedError(
                f"a batch of {n} rows cannot be split over {world} processes: use a batch size "
                f">= the number of processes"
            )
        lo, hi = rank * n // world, (rank + 1) * n // world
        return batch[lo:hi]
    if isinstance(batch, tuple | list):
        return type(batch)(shard(b, rank, world) for b in batch)
    if isinstance(batch, dict):
        return {k: shard(v, rank, world) for k, v in batch.items()}
    return batch


class RankSlices:
    """A loader seen by one rank: each global batch, sliced to this rank's part."""

    def __init__(self, loader: Iterable[Any], rank: int, world: int):
        self.loader, self.rank, self.world = loader, rank, world

    def __iter__(self) -> Iterator[Any]:
        for batch in self.loader:
            yield shard(batch, self.rank, self.world)


class StatefulRankSlices(RankSlices):
    """:class:`RankSlices` of a loader with state: checkpoints keep the wrapped loader's state,
    which is the same on every rank (so a checkpoint resumes under any world size)."""

    def state_dict(self) -> dict[str, Any]:
        return self.loader.state_dict()  # type: ignore[attr-defined]

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.loader.load_state_dict(state)  # type: ignore[attr-defined]


def slice_loader(loader: Iterable[Any], ctx: Distributed) -> Iterable[Any]:
    """``loader`` as this rank sees it: itself when not distributed or when it already yields
    this rank's share (a ``DataLoader`` over a ``DistributedSampler``), else
    :class:`RankSlices` of its global batches."""
    if not ctx.active or per_rank(loader):
        return loader
    stateful = callable(getattr(loader, "state_dict", None))
    return (StatefulRankSlices if stateful else RankSlices)(loader, ctx.rank, ctx.world_size)


def wrap_model(model: nn.Module, ctx: Distributed, **ddp_kwargs: Any) -> nn.Module:
    """``DistributedDataParallel(model)`` on the run's device (the model is moved there).

    ``find_unused_parameters`` is on by default: in a curriculum, parameters sit idle for whole
    phases (a criterion weighted 0, an assignment made hard), which plain DDP refuses."""
    if not ctx.active:
        return model
    model.to(ctx.device)
    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    ddp_kwargs.setdefault("find_unused_parameters", True)
    return nn.parallel.DistributedDataParallel(model, device_ids=ids, **ddp_kwargs)


def mean_losses(losses: dict[str, float], ctx: Distributed) -> dict[str, float]:
    """Each logged loss averaged over the ranks (one small all-reduce)."""
    if not ctx.active or not losses:
        return losses
    names = sorted(losses)
    t = torch.tensor([losses[n] for n in names], dtype=torch.float64, device=ctx.device)
    _collective(dist.all_reduce, t)
    t /= ctx.world_size
    return dict(zip(names, t.tolist(), strict=True))


def broadcast_module(model: nn.Module, ctx: Distributed) -> None:
    """Parameters and buffers from rank 0 to every rank (after data-dependent actions)."""
    if not ctx.active:
        return
    with torch.no_grad():
        for t in [*model.parameters(), *model.buffers()]:
            _collective(dist.broadcast, t.data, 0)
        if hasattr(model, "_load_from_state_dict"):  # modules mirroring buffers in Python
            model.load_state_dict(model.state_dict())


def broadcast_objects(objects: dict[str, Any], ctx: Distributed) -> dict[str, Any]:
    """``objects`` (picklable: handler states) as rank 0 has them."""
    if not ctx.active:
        return objects
    box = [objects if ctx.is_main else None]
    _collective(dist.broadcast_object_list, box, 0)
    return box[0]  # type: ignore[return-value]


def sync_from_main(model: nn.Module, stateful: dict[str, Any], ctx: Distributed) -> None:
    """After data-dependent actions (anchor capture, dead-code refresh) every rank takes rank
    0's model and the state of every handler/criterion that shapes training (recorders, which
    only observe, are left alone: their histories can be large)."""
    broadcast_module(model, ctx)
    keep = {k: o for k, o in stateful.items() if not getattr(o, "observes_only", False)}
    states = broadcast_objects({k: o.state_dict() for k, o in keep.items()}, ctx)
    if not ctx.is_main:
        for k, o in keep.items():
            o.load_state_dict(states[k])


def barrier(ctx: Distributed) -> None:
    if ctx.active:
        _collective(dist.barrier)


_COLLECTIVE_SIGNS = (
    "gloo", "nccl", "timed out", "timeout", "connection closed", "connection reset",
    "broken pipe", "collective", "process group", "socket", "store",
)  # fmt: skip


def is_collective_failure(error: BaseException) -> bool:
    """Whether ``error`` is a failed or timed-out collective (a peer died or stalled) — raised
    by torch's backends inside DDP's backward or a broadcast, not by our own code."""
    if isinstance(error, DistributedError):
        return True
    backend = getattr(dist, "DistError", ())
    if backend and isinstance(error, backend):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and any(s in text for s in _COLLECTIVE_SIGNS)


def failure_message(error: BaseException, ctx: Distributed) -> str:
    """One line for a rank that stops because the process group failed."""
    if isinstance(error, DistributedError):
        return f"rank {ctx.rank}: {error}"
    first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
    return (
        f"rank {ctx.rank}: a distributed collective failed or timed out ({first}): another "
        "process probably stopped or stalled (see its output; the wait is "
        "DOPESHEET_DIST_TIMEOUT seconds, 120 by default); this one stops too"
    )


def _collective(fn, *args: Any) -> Any:
    try:
        return fn(*args)
    except (RuntimeError, dist.DistBackendError) as e:
        raise DistributedError(
            f"a distributed collective failed ({str(e).splitlines()[0][:200]}): another process "
            "probably stopped (see its output); this one stops too"
        ) from e


def slice_phases(data: dict[Any, Any], ctx: Distributed) -> dict[Any, Any]:
    """Every phase's training loader sliced for this rank; phases that share a loader keep
    sharing one (so they keep sharing its position)."""
    if not ctx.active:
        return data
    from dataclasses import replace

    wrapped: dict[int, Iterable[Any]] = {}
    out = {}
    for phase, pd in data.items():
        key = id(pd.train)
        if key not in wrapped:
            wrapped[key] = slice_loader(pd.train, ctx)
        out[phase] = replace(pd, train=wrapped[key])
    return out

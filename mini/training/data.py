"""Per-phase data: loaders cycled without caching, with state that checkpoints can restore.

Each phase name maps to a :class:`PhaseData` (a training iterable plus a validation batch). The
iterable is re-iterated every epoch (never cached, so samplers can change their weights between
batches). For exact resume, a loader that has ``state_dict``/``load_state_dict`` saves its own
position; any other loader is replayed: the torch RNG state before ``iter()`` and the number of
batches taken are saved, and on resume the iterator is rebuilt and fast-forwarded under that RNG
state. (Replay is exact for loaders whose randomness comes from the torch RNG at ``iter()`` and
first ``next()`` — ``DataLoader(shuffle=True, num_workers=0)``, plain lists and tensors.)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data.distributed import DistributedSampler

from mini.temporal import Dopesheet, Timeline, timeline_for


@dataclass
class PhaseData:
    """Training batches for a phase (any re-iterable) and what validates it: one fixed batch
    (``val``) or a whole loader (``val_loader``, iterated completely at each validation; the
    criteria are averaged over its batches weighted by batch size).

    Attributes:
        train: the phase's training batches (any re-iterable).
        val: one fixed validation batch.
        val_loader: a whole validation loader instead (iterated completely each time).
    """

    train: Iterable[Any]
    val: Any = None
    val_loader: Iterable[Any] | None = None

    def __post_init__(self) -> None:
        if self.val is not None and self.val_loader is not None:
            raise ValueError("give PhaseData either val (one batch) or val_loader, not both")


def stateful(obj: Any) -> bool:
    """Whether ``obj`` has ``state_dict()`` and ``load_state_dict()``."""
    return callable(getattr(obj, "state_dict", None)) and callable(
        getattr(obj, "load_state_dict", None)
    )


def epoch_sampler(loader: Any) -> Any:
    """The sampler of ``loader`` that wants ``set_epoch`` (a ``DistributedSampler``, say), or
    ``None``: such a sampler reshuffles only when told the epoch."""
    for sampler in (
        getattr(loader, "sampler", None),
        getattr(getattr(loader, "batch_sampler", None), "sampler", None),
    ):
        if callable(getattr(sampler, "set_epoch", None)):
            return sampler
    return None


def per_rank(loader: Any) -> bool:
    """Whether ``loader`` already yields one rank's share (its sampler is a
    ``DistributedSampler``), so a distributed run must not slice its batches again."""
    return any(
        isinstance(s, DistributedSampler)
        for s in (
            getattr(loader, "sampler", None),
            getattr(getattr(loader, "batch_sampler", None), "sampler", None),
        )
    )


class _Cycle:
    """An endless iterator over one loader, re-iterating it each epoch."""

    def __init__(self, name: str | None, loader: Iterable[Any]):
        self.name = name
        self.loader = loader
        self.stateful = stateful(loader)
        self.epoch = 0
        self.taken = 0  # batches taken from the current epoch's iterator
        self.rng_at_iter: torch.Tensor | None = None
        self.it: Iterator[Any] | None = None
        self.sampler = epoch_sampler(loader)

    def _start_epoch(self) -> None:
        if self.sampler is not None:  # as Lightning does: a new order each pass
            self.sampler.set_epoch(self.epoch)
        if not self.stateful:
            self.rng_at_iter = torch.get_rng_state()
        self.it = iter(self.loader)
        self.taken = 0

    def next(self) -> Any:
        if self.it is None:
            self._start_epoch()
        try:
            batch = next(self.it)  # type: ignore[arg-type]
        except StopIteration:
            self.epoch += 1
            self._start_epoch()
            try:
                batch = next(self.it)  # type: ignore[arg-type]
            except StopIteration:
                raise RuntimeError(
                    f"the training data of phase {self.name!r} yields no batches"
                ) from None
        self.taken += 1
        return batch

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "epoch": self.epoch,
            "taken": self.taken,
            "started": self.it is not None,
        }
        if self.stateful:
            state["loader"] = self.loader.state_dict()  # type: ignore[attr-defined]
        elif self.rng_at_iter is not None:
            state["rng_at_iter"] = self.rng_at_iter
        return state

    def snapshot(self) -> tuple[Any, ...]:
        """What :meth:`state_dict` needs, as cheaply as possible (taken every step by the
        non-finite guard; turned into a state dict only after a fault)."""
        loader = self.loader.state_dict() if self.stateful else None  # type: ignore[attr-defined]
        return self.epoch, self.taken, self.it is not None, self.rng_at_iter, loader

    @staticmethod
    def state_from(snapshot: tuple[Any, ...], stateful: bool) -> dict[str, Any]:
        epoch, taken, started, rng_at_iter, loader = snapshot
        state: dict[str, Any] = {"epoch": epoch, "taken": taken, "started": started}
        if stateful:
            state["loader"] = loader
        elif rng_at_iter is not None:
            state["rng_at_iter"] = rng_at_iter
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = int(state["epoch"])
        if self.stateful:
            self.loader.load_state_dict(state["loader"])  # type: ignore[attr-defined]
            self.it = iter(self.loader) if state["started"] else None
            self.taken = int(state["taken"])
            return
        self.it = None
        self.taken = 0
        if not state["started"]:
            return
        outer = torch.get_rng_state()
        torch.set_rng_state(state["rng_at_iter"])
        self._start_epoch()
        for _ in range(int(state["taken"])):
            self.next()
        torch.set_rng_state(outer)


class PhaseIterators:
    """One endless batch iterator per loader; phases that share a loader share its iterator."""

    def __init__(self, data: dict[str | None, PhaseData]):
        self.data = data
        loaders: list[Iterable[Any]] = []
        self._index: dict[str | None, int] = {}
        for phase, pd in data.items():
            for i, loader in enumerate(loaders):
                if loader is pd.train:
                    self._index[phase] = i
                    break
            else:
                self._index[phase] = len(loaders)
                loaders.append(pd.train)
        self._loaders = loaders
        self._cycles: dict[int, _Cycle] = {}

    def next(self, phase: str | None) -> Any:
        i = self._index[phase]
        cycle = self._cycles.get(i)
        if cycle is None:
            cycle = self._cycles[i] = _Cycle(phase, self._loaders[i])
        return cycle.next()

    def state_dict(self) -> dict[str, Any]:
        return {"cycles": [[i, c.state_dict()] for i, c in self._cycles.items()]}

    def cycle_state(self, phase: str | None) -> tuple[int, tuple[Any, ...] | None]:
        """A snapshot of the one iterator ``phase`` draws from (``None``: not started) — all a
        step can change, so the non-finite guard takes only this, every step."""
        i = self._index[phase]
        cycle = self._cycles.get(i)
        return i, None if cycle is None else cycle.snapshot()

    def state_dict_with(self, index: int, snapshot: tuple[Any, ...] | None) -> dict[str, Any]:
        """:meth:`state_dict` with iterator ``index`` as :meth:`cycle_state` captured it."""
        cycles = [[i, c.state_dict()] for i, c in self._cycles.items() if i != index]
        if snapshot is not None:
            stateful_ = stateful(self._loaders[index])
            cycles.append([index, _Cycle.state_from(snapshot, stateful_)])
        return {"cycles": cycles}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._cycles = {}
        names = {i: phase for phase, i in reversed(self._index.items())}
        for i, cycle_state in state["cycles"]:
            cycle = self._cycles[i] = _Cycle(names[i], self._loaders[i])
            cycle.load_state_dict(cycle_state)


def model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters live (CPU for a model without parameters)."""
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def to_device(batch: Any, device: torch.device) -> Any:
    """A batch (tensor, or tuples/lists/dicts of them) moved to ``device``."""
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, tuple | list):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def run_timeline(
    schedule: Timeline | Dopesheet | str | os.PathLike[str], data: Any,
    steps_per_epoch: int | None, total_steps: int | None,
) -> Timeline:  # fmt: skip
    """The run's timeline. A CSV path is read with the units the run knows: ``2ep`` steps use
    ``steps_per_epoch`` (default: the number of batches of the first phase's loader, when it
    has a length), ``50%`` steps use ``total_steps``."""
    if isinstance(schedule, Timeline):
        return schedule
    if isinstance(schedule, Dopesheet):
        return timeline_for(schedule)
    if steps_per_epoch is None:
        first = data if isinstance(data, PhaseData) else next(iter(data.values()), None)
        try:
            steps_per_epoch = len(first.train) if first is not None else None  # type: ignore[arg-type]
        except TypeError:  # an endless or sized-by-nothing iterable
            steps_per_epoch = None
    return timeline_for(
        Dopesheet.from_csv(schedule, steps_per_epoch=steps_per_epoch, total_steps=total_steps)
    )

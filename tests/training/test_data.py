"""Per-phase data: loaders over a ``DistributedSampler`` (reshuffled each pass, never sliced
again under torchrun) and exact resume of their position."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

from mini.training.data import PhaseData, PhaseIterators, _Cycle, epoch_sampler, per_rank
from mini.training.distributed import Distributed, RankSlices, slice_loader

DATA = TensorDataset(torch.arange(16.0))


def sharded(rank: int = 0, replicas: int = 2) -> DataLoader:
    sampler = DistributedSampler(DATA, num_replicas=replicas, rank=rank, shuffle=True, seed=3)
    return DataLoader(DATA, batch_size=4, sampler=sampler)


def order(sampler: DistributedSampler, epoch: int) -> list[float]:
    sampler.set_epoch(epoch)
    return [float(DATA[i][0]) for i in sampler]


def test_each_pass_sets_the_samplers_epoch_so_the_order_changes() -> None:
    loader = sharded()
    cycle = _Cycle("main", loader)
    seen = [torch.cat([cycle.next()[0] for _ in range(2)]).tolist() for _ in range(3)]
    sampler = DistributedSampler(DATA, num_replicas=2, rank=0, shuffle=True, seed=3)
    assert seen == [order(sampler, e) for e in range(3)]  # epochs 0, 1, 2 in turn
    assert seen[0] != seen[1]  # without set_epoch every pass would repeat epoch 0's order


def test_resume_mid_pass_continues_with_the_same_epochs_order() -> None:
    first = PhaseIterators({"main": PhaseData(sharded())})
    for _ in range(3):  # into the second pass (2 batches a pass on this rank)
        first.next("main")
    state = first.state_dict()
    expected = [first.next("main")[0].tolist() for _ in range(3)]
    again = PhaseIterators({"main": PhaseData(sharded())})
    again.load_state_dict(state)
    assert [again.next("main")[0].tolist() for _ in range(3)] == expected


def test_a_per_rank_loader_is_not_sliced_again_under_torchrun() -> None:
    ctx = Distributed(rank=1, world_size=2)
    mine = sharded(rank=1)
    assert per_rank(mine) and slice_loader(mine, ctx) is mine
    plain = DataLoader(DATA, batch_size=4)
    assert not per_rank(plain) and isinstance(slice_loader(plain, ctx), RankSlices)
    assert epoch_sampler(plain) is None and epoch_sampler(mine) is mine.sampler

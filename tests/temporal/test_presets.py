"""The presets shipped in the package (``Dopesheet.preset``; the same files as in
schedules/presets/) give PyTorch's own schedulers' learning rates, step by step.

Each test runs the torch scheduler on a dummy optimizer and compares the LR it sets before every
optimizer step with the preset's realized ``lr`` column (relative error ≤ 1e-9).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as sched

from mini.temporal import Dopesheet, DopesheetWarning, realize
from mini.temporal.presets import preset_names

PRESETS = Path(__file__).resolve().parents[2] / "schedules" / "presets"
SHIPPED = Path(__file__).resolve().parents[2] / "mini" / "temporal" / "presets"


def load(name: str) -> Dopesheet:
    """The shipped preset; a warning (a curve or a jump that has no effect) fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DopesheetWarning)
        return Dopesheet.preset(name.removesuffix(".csv"))


def torch_lrs(
    make: Callable[[torch.optim.Optimizer], object], base_lr: float, n: int
) -> np.ndarray:
    """The LR torch's scheduler sets for each of ``n`` optimizer steps."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
    scheduler = make(opt)
    lrs = []
    for _ in range(n):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return np.array(lrs)


def linear_warmup(opt, then, warmup=100):
    first = sched.LinearLR(opt, start_factor=0.01, end_factor=1.0, total_iters=warmup)
    return sched.SequentialLR(opt, [first, then(opt)], milestones=[warmup])


CASES = {
    "cosine.csv": (lambda o: sched.CosineAnnealingLR(o, T_max=1000, eta_min=1e-5), 1e-3, 1001),
    "one-cycle.csv": (
        lambda o: sched.OneCycleLR(o, max_lr=1e-2, total_steps=1000, anneal_strategy="cos",
                                   cycle_momentum=False),
        1e-2, 1000,
    ),
    "cosine-warm-restarts.csv": (
        lambda o: sched.CosineAnnealingWarmRestarts(o, T_0=200, T_mult=2, eta_min=1e-5),
        1e-3, 1400,
    ),
    "linear-warmup-decay.csv": (
        lambda o: linear_warmup(
            o, lambda o: sched.LinearLR(o, start_factor=1.0, end_factor=0.01, total_iters=900)
        ),
        1e-3, 1001,
    ),
    "linear-warmup-cosine.csv": (
        lambda o: linear_warmup(o, lambda o: sched.CosineAnnealingLR(o, T_max=900, eta_min=1e-5)),
        1e-3, 1001,
    ),
    "exponential.csv": (lambda o: sched.ExponentialLR(o, gamma=0.995), 1e-3, 1001),
    "step-decay.csv": (
        lambda o: sched.MultiStepLR(o, milestones=[300, 600, 900], gamma=0.1), 1e-3, 1000,
    ),
}  # fmt: skip


def test_every_preset_has_a_torch_comparison():
    assert sorted(f"{n}.csv" for n in preset_names()) == sorted(CASES)


def test_the_repositorys_copies_are_the_shipped_files():
    shipped = {p.name: p.read_bytes() for p in SHIPPED.glob("*.csv")}
    assert {p.name: p.read_bytes() for p in PRESETS.glob("*.csv")} == shipped


def test_a_preset_for_the_runs_length_and_peak_matches_torch():
    ds = Dopesheet.preset("one-cycle", total_steps=1000, max_lr=3e-3)
    expected = torch_lrs(
        lambda o: sched.OneCycleLR(o, max_lr=3e-3, total_steps=1000, cycle_momentum=False),
        3e-3, 1000,
    )  # fmt: skip
    rel = np.abs(realize(ds)["lr"].to_numpy() - expected) / expected
    assert rel.max() <= 1e-9
    with pytest.raises(ValueError, match="did you mean 'one-cycle'"):
        Dopesheet.preset("one-cylce")


@pytest.mark.parametrize("name", sorted(CASES))
def test_preset_matches_torch_scheduler(name):
    make, base_lr, n = CASES[name]
    expected = torch_lrs(make, base_lr, n)
    ours = realize(load(name))["lr"].to_numpy()[:n]
    rel = np.abs(ours - expected) / expected
    assert rel.max() <= 1e-9, f"{name}: max relative error {rel.max():.2e}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_preset_survives_every_round_trip_bit_for_bit(name, tmp_path):
    ds = load(name)
    lr = realize(ds)["lr"].to_numpy()
    ds.to_csv(tmp_path / name)
    again = [
        Dopesheet.from_csv(tmp_path / name),
        Dopesheet.from_df(ds.as_df()),
        Dopesheet.from_dict(json.loads(json.dumps(ds.to_dict()))),
    ]
    for back in again:
        assert back == ds and np.array_equal(realize(back)["lr"].to_numpy(), lr)


def test_warm_restarts_are_written_as_jump_keys():
    ds = load("cosine-warm-restarts.csv")
    assert ds.keyframes("lr") == [(0, 1e-3), (200, 1e-3), (600, 1e-3), (1400, 1e-5)]
    assert ds.key_arrivals("lr") == [None, 1e-5, 1e-5, None]
    lr = realize(ds)["lr"]
    assert lr[199] < 1.01e-5 and lr[200] == 1e-3 and lr[599] < 1.01e-5 and lr[600] == 1e-3


def test_presets_rescale_with_steps():
    quick = load("one-cycle.csv").scaled(100)
    assert [s for s, _ in quick.keyframes("lr")] == [0, 30, 99]
    expected = torch_lrs(
        lambda o: sched.OneCycleLR(o, max_lr=1e-2, total_steps=100, cycle_momentum=False),
        1e-2, 100,
    )  # fmt: skip
    ours = realize(quick)["lr"].to_numpy()
    assert ours[[0, -1]] == pytest.approx(expected[[0, -1]], rel=1e-9)
    assert np.max(np.abs(ours - expected) / expected) < 0.1  # the peak moves to the nearest step

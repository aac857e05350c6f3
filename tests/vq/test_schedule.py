"""The shipped VQ curriculum parses and says what the issue asks of it."""

from __future__ import annotations

import warnings
from pathlib import Path

from mini.temporal import Dopesheet, Timeline, realize
from vq import VectorQuantizer

SCHEDULE = Path(__file__).parents[2] / "schedules" / "vq-curriculum.csv"


def _load() -> Dopesheet:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no unkeyed columns
        return Dopesheet.from_csv(SCHEDULE)


def test_curriculum_phases_props_and_actions() -> None:
    ds = _load()
    assert [p.name for p in ds.phases] == ["Warm-up", "Soft-codes", "Hard-codes"]
    assert set(ds.specs) == {
        "lr", "recon", "vq-blend", "temperature", "commitment", "ema-decay",
        "reg-orthogonality", "reg-topographic",
    }  # fmt: skip
    assert ds.specs["temperature"].space == "log" and ds.specs["lr"].space == "log"
    refresh_steps = [s for s, a in ds.actions if a == "refresh"]
    assert len(refresh_steps) >= 2
    assert all(ds.phase_at(s).name in ("Soft-codes", "Hard-codes") for s in refresh_steps)


def test_curriculum_values_by_phase() -> None:
    ds = _load()
    df = realize(ds)
    hard_below = VectorQuantizer(2, 2).hard_below
    warm, soft, hard = ds.phases
    # warm-up: a plain autoencoder, no commitment
    assert df["vq-blend"][warm.start : warm.end + 1].max() == 0.0
    assert df["commitment"][warm.start : warm.end + 1].max() == 0.0
    # soft codes: sampled codes, quantization blended in, commitment ramped up
    assert df["temperature"][soft.start : soft.end + 1].min() > hard_below
    assert df["vq-blend"][soft.end] == 1.0
    assert df["commitment"][soft.end] > df["commitment"][soft.start]
    temp = df["temperature"][soft.start : soft.end + 1].to_numpy()
    assert (temp[1:] <= temp[:-1] + 1e-12).all()  # annealed, never raised
    # the regularisers: topography from the start, orthogonality ramped in with the commitment
    assert df["reg-topographic"].min() > 0
    assert df["reg-orthogonality"][warm.start : warm.end + 1].max() == 0.0
    assert df["reg-orthogonality"][soft.end] > 0
    assert df["reg-orthogonality"].iloc[-1] == df["reg-orthogonality"][soft.end]
    # hard codes: the temperature ends at or below the quantizer's hard threshold, lr decayed
    assert df["temperature"].iloc[-1] <= hard_below
    assert df["lr"].iloc[-1] < df["lr"][hard.start] / 5
    assert len(Timeline(ds)) == ds.n_steps

"""Frame schedules: exact count, bounds, order, and denser early than late."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mini.render import frame_steps

sizes = st.integers(min_value=2, max_value=200_000)


@given(n_steps=sizes, n_frames=st.integers(2, 2_000), power=st.floats(1.0, 6.0))
def test_sorted_unique_bounded_with_both_ends(n_steps: int, n_frames: int, power: float) -> None:
    steps = frame_steps(n_steps, n_frames, power=power)
    assert steps.dtype == np.int64
    assert len(steps) == min(n_frames, n_steps)
    assert steps[0] == 0
    assert steps[-1] == n_steps - 1
    assert np.all(np.diff(steps) >= 1)  # strictly increasing, hence unique


@given(n_steps=st.integers(1_000, 100_000), n_frames=st.integers(20, 500), power=st.floats(1.5, 4))
def test_denser_early_than_late(n_steps: int, n_frames: int, power: float) -> None:
    steps = frame_steps(n_steps, n_frames, power=power)
    gaps = np.diff(steps)
    quarter = len(gaps) // 4
    assert gaps[:quarter].mean() < gaps[-quarter:].mean()
    # More than half the frames show the first half of the run.
    assert np.count_nonzero(steps < n_steps / 2) > len(steps) / 2
    # Gaps never shrink by more than rounding as the run goes on.
    assert np.all(np.diff(gaps) >= -1)


@given(n_steps=st.integers(2, 50_000), n_frames=st.integers(2, 300))
def test_power_one_is_uniform(n_steps: int, n_frames: int) -> None:
    gaps = np.diff(frame_steps(n_steps, n_frames, power=1.0))
    assert gaps.max() - gaps.min() <= 1


def test_larger_power_crowds_the_start() -> None:
    mild = frame_steps(20_001, 100, power=1.5)
    strong = frame_steps(20_001, 100, power=3.0)
    assert np.all(strong <= mild)
    assert strong[50] < mild[50]


def test_start_takes_consecutive_steps_where_the_curve_is_flat() -> None:
    steps = frame_steps(20_001, 600, power=2.0)
    assert steps[:10].tolist() == list(range(10))
    assert len(steps) == 600


def test_small_cases() -> None:
    assert frame_steps(1, 1).tolist() == [0]
    assert frame_steps(1, 50).tolist() == [0]
    assert frame_steps(5, 50).tolist() == [0, 1, 2, 3, 4]
    assert frame_steps(7, 2).tolist() == [0, 6]


@pytest.mark.parametrize(
    ("n_steps", "n_frames", "power"),
    [(0, 10, 2.0), (10, 1, 2.0), (10, 0, 2.0), (10, 5, 0.5), (10, 5, float("nan"))],
)
def test_rejects_bad_arguments(n_steps: int, n_frames: int, power: float) -> None:
    with pytest.raises(ValueError):
        frame_steps(n_steps, n_frames, power=power)

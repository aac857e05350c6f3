from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from ex_color.data import (
    ColorCube,
    DynamicWeightedRandomBatchSampler,
    SampledBatches,
    arange_cyclic,
    levels,
    vibrancy,
)


# -- arange_cyclic ---------------------------------------------------------------------------------
def test_arange_cyclic_has_no_wrapped_duplicate():
    hues = arange_cyclic(10 / 360)
    assert len(hues) == 36
    np.testing.assert_allclose(hues[:3], [0, 10 / 360, 20 / 360])
    assert hues.max() < 1.0
    np.testing.assert_allclose(arange_cyclic(1 / 6), np.arange(6) / 6)


def test_arange_cyclic_wraps_from_an_offset():
    hues = arange_cyclic(0.25, lower=0.5)
    np.testing.assert_allclose(hues, [0.5, 0.75, 0.0, 0.25])


@given(st.integers(1, 720))
def test_arange_cyclic_count(n):
    assert len(arange_cyclic(1 / n)) == n


def test_arange_cyclic_rejects_bad_step():
    with pytest.raises(ValueError):
        arange_cyclic(0)


# -- ColorCube -------------------------------------------------------------------------------------
def test_hsv_cube_primaries_in_hue_order():
    cube = ColorCube.from_hsv(arange_cyclic(1 / 6), [1.0], [1.0])
    expected = [[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1], [1, 0, 1]]
    np.testing.assert_allclose(cube.colors().numpy(), expected, atol=1e-6)
    assert cube.shape == (6, 1, 1)
    assert cube.space == "hsv"


def test_hsv_cube_shapes_and_grid_layout():
    h, s, v = arange_cyclic(10 / 360), np.linspace(0, 1, 10), np.linspace(0, 1, 10)
    cube = ColorCube.from_hsv(h, s, v)
    assert cube.rgb_grid.shape == (36, 10, 10, 3)
    assert cube.bias.shape == (36, 10, 10)
    # V = 0 is black whatever the hue and saturation; S = 0 is grey.
    np.testing.assert_allclose(cube.rgb_grid[:, :, 0], 0)
    np.testing.assert_allclose(cube.rgb_grid[7, 0, 4], [v[4]] * 3)
    assert cube.colors().shape == (3600, 3)
    assert cube.colors().dtype == torch.float32


def test_hsv_bias_corrects_crowding():
    n_h, n_s = 36, 10
    cube = ColorCube.from_hsv(arange_cyclic(1 / n_h), np.linspace(0, 1, n_s), np.linspace(0, 1, 10))
    assert cube.bias[0, -1, -1] == pytest.approx(1.0)  # vibrant
    assert cube.bias[0, 0, -1] == pytest.approx(1 / n_h)  # white
    np.testing.assert_allclose(cube.bias[:, :, 0], 1 / (n_h * n_s))  # black
    # Every copy of black together weighs as much as one vibrant cell; same for white.
    assert cube.bias[:, :, 0].sum() == pytest.approx(1.0)
    assert cube.bias[:, 0, -1].sum() == pytest.approx(1.0)
    assert (cube.bias > 0).all()


def test_rgb_cube_is_uniform_and_ordered():
    axis = np.linspace(0, 1, 10)
    cube = ColorCube.from_rgb(axis, axis, axis)
    assert cube.space == "rgb"
    np.testing.assert_array_equal(cube.bias, np.ones((10, 10, 10)))
    colors = cube.colors().numpy()
    assert len(np.unique(colors.round(6), axis=0)) == 1000
    np.testing.assert_allclose(cube.rgb_grid[2, 5, 9], [axis[2], axis[5], 1.0])


def test_cube_rejects_out_of_range_hsv():
    with pytest.raises(ValueError):
        ColorCube.from_hsv([0.0, 1.5], [1.0], [1.0])


def test_vibrancy_is_s_times_v():
    s = np.linspace(0, 1, 5)
    v = np.linspace(0, 1, 4)
    cube = ColorCube.from_hsv(arange_cyclic(1 / 3), s, v)
    vib = vibrancy(cube)
    assert vib.shape == cube.shape
    np.testing.assert_allclose(vib[1], np.outer(s, v))
    with pytest.raises(ValueError, match="HSV"):
        vibrancy(ColorCube.from_rgb(s, s, s))


# -- levels ----------------------------------------------------------------------------------------
def test_levels_maps_and_clamps():
    x = np.array([-1.0, 0.0, 0.25, 0.5, 1.0, 2.0])
    np.testing.assert_allclose(levels(x), [0, 0, 0.25, 0.5, 1, 1])
    np.testing.assert_allclose(levels(x, in_low=0.5), [0, 0, 0, 0, 1, 1])
    np.testing.assert_allclose(levels(x, out_low=0.5), [0.5, 0.5, 0.625, 0.75, 1, 1])
    np.testing.assert_allclose(levels(x, 0.0, 0.5, 0.2, 0.4), [0.2, 0.2, 0.3, 0.4, 0.4, 0.4])


def test_levels_threshold_when_input_range_is_empty():
    x = np.array([0.2, 0.5, 0.7])
    np.testing.assert_allclose(levels(x, 0.5, 0.5, 0.1, 0.9), [0.1, 0.9, 0.9])
    assert levels(0.4, 0.5, 0.5) == 0.0
    with pytest.raises(ValueError):
        levels(x, 0.6, 0.5)


@given(
    st.lists(st.floats(-2, 2), min_size=1, max_size=20),
    st.floats(0, 0.9),
    st.floats(0.05, 1),
    st.floats(0, 1),
    st.floats(0, 1),
)
def test_levels_numpy_torch_and_float_agree(xs, in_low, width, out_low, out_high):
    in_high = in_low + width
    a = levels(np.array(xs), in_low, in_high, out_low, out_high)
    t = levels(torch.tensor(xs, dtype=torch.float64), in_low, in_high, out_low, out_high)
    f = [levels(x, in_low, in_high, out_low, out_high) for x in xs]
    np.testing.assert_allclose(a, t.numpy(), atol=1e-12)
    np.testing.assert_allclose(a, f, atol=1e-12)
    lo, hi = min(out_low, out_high), max(out_low, out_high)
    assert ((a >= lo - 1e-12) & (a <= hi + 1e-12)).all()
    # Monotone in x (non-decreasing when out_high >= out_low).
    order = np.argsort(xs, kind="stable")
    d = np.diff(a[order]) * np.sign(out_high - out_low or 1)
    assert (d >= -1e-12).all()


# -- sampler ---------------------------------------------------------------------------------------
def make_sampler(n=50, batch_size=8, steps=5, seed=0, weights=None):
    bias = np.linspace(0.1, 1.0, n)
    return DynamicWeightedRandomBatchSampler(bias, batch_size, steps, weights=weights, seed=seed)


def test_sampler_yields_fixed_batches_per_epoch():
    sampler = make_sampler(batch_size=8, steps=5)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 5
    for b in batches:
        assert b.shape == (8,)
        assert b.dtype == torch.long
        assert ((b >= 0) & (b < 50)).all()
    assert len(list(sampler)) == 5  # a second epoch


def test_sampler_never_draws_zero_weight_cells():
    weights = np.zeros(50)
    weights[[3, 17, 49]] = 1.0
    sampler = make_sampler(batch_size=256, steps=20, weights=weights)
    drawn = torch.cat(list(sampler)).unique().tolist()
    assert set(drawn) == {3, 17, 49}


def test_sampler_frequencies_follow_bias_times_weights():
    n = 6
    bias = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    weights = np.array([1.0, 1.0, 0.5, 0.0, 2.0, 1.0])
    sampler = DynamicWeightedRandomBatchSampler(bias, 1000, 200, weights=weights, seed=1)
    counts = torch.bincount(torch.cat(list(sampler)), minlength=n).double()
    expected = bias * weights / (bias * weights).sum()
    np.testing.assert_allclose(sampler.probabilities.numpy(), expected, atol=1e-12)
    freq = (counts / counts.sum()).numpy()
    # 200,000 draws: the standard error of each frequency is below 0.0011.
    np.testing.assert_allclose(freq, expected, atol=0.005)
    assert counts[3] == 0


def test_sampler_weights_apply_to_the_next_batch():
    sampler = make_sampler(batch_size=64, steps=4)
    it = iter(sampler)
    next(it)
    only = np.zeros(50)
    only[7] = 1.0
    sampler.weights = only
    assert (next(it) == 7).all()


def test_sampler_rejects_all_zero_or_mis_sized_weights():
    sampler = make_sampler()
    with pytest.raises(ValueError, match="positive"):
        sampler.weights = np.zeros(50)
    with pytest.raises(ValueError, match="cells"):
        sampler.weights = np.ones(49)
    with pytest.raises(ValueError):
        make_sampler(steps=0)
    with pytest.raises(ValueError):
        make_sampler(batch_size=0)


def test_sampler_is_seeded():
    a = torch.stack(list(make_sampler(seed=3)))
    b = torch.stack(list(make_sampler(seed=3)))
    c = torch.stack(list(make_sampler(seed=4)))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def _stream(sampler):
    """Batches forever, re-iterating at epoch ends (the way a trainer cycles a loader)."""
    while True:
        yield from sampler


def _take(it, n):
    return [next(it) for _ in range(n)]


@pytest.mark.parametrize("interrupt_at", [1, 4, 5, 7, 10])
def test_sampler_state_dict_resumes_exactly(interrupt_at):
    """Interrupted mid-epoch, at an epoch end or in a later epoch, a sampler restored from the
    state dict (through torch.save/load) draws the batches the uninterrupted one would have."""
    reference = _take(_stream(make_sampler(steps=5)), 14)
    first = make_sampler(steps=5)
    head = _take(_stream(first), interrupt_at)
    buf = io.BytesIO()
    torch.save(first.state_dict(), buf)
    buf.seek(0)
    resumed = make_sampler(steps=5, seed=99)  # a different seed: the state must win
    resumed.load_state_dict(torch.load(buf, weights_only=True))
    tail = _take(_stream(resumed), 14 - interrupt_at)
    assert all(torch.equal(a, b) for a, b in zip(reference, head + tail, strict=True))


def test_resumed_sampler_finishes_the_interrupted_epoch():
    first = make_sampler(steps=5)
    it = iter(first)
    _take(it, 3)
    resumed = make_sampler(steps=5)
    resumed.load_state_dict(first.state_dict())
    assert len(list(resumed)) == 2
    assert len(list(resumed)) == 5


def test_sampler_state_keeps_weights():
    sampler = make_sampler()
    w = np.zeros(50)
    w[:5] = 1
    sampler.weights = w
    other = make_sampler()
    other.load_state_dict(sampler.state_dict())
    assert torch.equal(other.weights, sampler.weights)
    assert torch.equal(other.probabilities, sampler.probabilities)


def test_sampled_batches_index_the_data():
    data = torch.arange(50, dtype=torch.float32).unsqueeze(1).repeat(1, 3)
    batches = SampledBatches(data, make_sampler(steps=3))
    idx = list(make_sampler(steps=3))
    got = list(batches)
    assert len(got) == len(batches) == 3
    for i, b in zip(idx, got, strict=True):
        assert torch.equal(b, data[i])
    with pytest.raises(ValueError):
        SampledBatches(data[:10], make_sampler())


def test_sampler_set_cumulative_matches_weights_and_round_trips():
    bias = np.linspace(0.1, 1.0, 50)
    w = np.where(np.arange(50) % 3 == 0, 0.0, np.linspace(0, 2, 50))
    by_weights = make_sampler(weights=w)
    by_cumulative = make_sampler()
    by_cumulative.set_cumulative(torch.cumsum(torch.from_numpy(bias * w), 0) * 7.0)
    torch.testing.assert_close(by_cumulative.probabilities, by_weights.probabilities)
    assert by_cumulative.weights is None
    assert all(torch.equal(a, b) for a, b in zip(by_weights, by_cumulative, strict=True))
    restored = make_sampler()
    restored.load_state_dict(by_cumulative.state_dict())
    assert restored.weights is None
    assert torch.equal(restored.probabilities, by_cumulative.probabilities)
    with pytest.raises(ValueError, match="positive"):
        by_cumulative.set_cumulative(torch.zeros(50, dtype=torch.float64))
    with pytest.raises(ValueError, match="cells"):
        by_cumulative.set_cumulative(torch.ones(3, dtype=torch.float64))

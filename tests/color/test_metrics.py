from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from ex_color.metrics import anchor_drift, hue_order, recon_mse, ring_norm_error


def ring(angles_deg, radius=1.0, extra_dims=2) -> torch.Tensor:
    a = torch.tensor(angles_deg, dtype=torch.float64) * math.pi / 180
    xy = torch.stack([torch.cos(a), torch.sin(a)], dim=-1) * radius
    return torch.cat([xy, torch.zeros(len(angles_deg), extra_dims, dtype=torch.float64)], dim=-1)


def test_recon_mse():
    x = torch.zeros(10, 3)
    y = torch.full((10, 3), 0.1)
    assert recon_mse(x, y) == pytest.approx(0.01)
    assert recon_mse(x, x) == 0.0


@pytest.mark.parametrize("sign", [1, -1])
@pytest.mark.parametrize("offset", [0, 45, 170, -100])
def test_hue_order_perfect_hexagon_either_direction(sign, offset):
    order = hue_order(ring([offset + sign * 60 * i for i in range(6)]))
    assert order.ok
    np.testing.assert_allclose(order.gaps_deg, [60] * 6, atol=1e-9)


def test_hue_order_uneven_but_within_bounds():
    angles = np.cumsum([0, 35, 85, 60, 50, 70])  # last gap back to start: 360 - 300 = 60
    order = hue_order(ring(angles.tolist()))
    assert order.ok
    np.testing.assert_allclose(order.gaps_deg, [35, 85, 60, 50, 70, 60], atol=1e-9)
    assert sum(order.gaps_deg) == pytest.approx(360)


def test_hue_order_detects_swaps_and_crowding():
    swapped = [0, 120, 60, 180, 240, 300]  # yellow and green swapped
    assert not hue_order(ring(swapped)).ok
    crowded = [0, 20, 40, 60, 80, 100]  # in order but squashed to one side
    order = hue_order(ring(crowded))
    assert not order.ok
    assert max(order.gaps_deg) == pytest.approx(260)


def test_hue_order_ignores_radius_and_other_dims_but_not_the_origin():
    z = ring([60 * i for i in range(6)], radius=0.2)
    z[:, 2:] = 5.0
    assert hue_order(z).ok
    z[3, :2] = 0
    assert not hue_order(z).ok


def test_hue_order_other_dims_and_numpy_input():
    z = ring([60 * i for i in range(6)]).numpy()[:, [2, 0, 3, 1]]  # the ring is in dims 1 and 3
    assert hue_order(z, dims=(1, 3)).ok
    assert not hue_order(z, dims=(0, 2)).ok


@given(st.floats(-180, 180), st.lists(st.floats(31, 89), min_size=5, max_size=5))
def test_hue_order_accepts_any_valid_ring(offset, gaps):
    assume(30 <= 360 - sum(gaps) <= 90)
    angles = offset + np.concatenate([[0], np.cumsum(gaps)])
    order = hue_order(ring(angles.tolist()))
    assert order.ok
    assert sum(order.gaps_deg) == pytest.approx(360)


def test_ring_norm_error():
    z = torch.tensor([[1.0, 0, 0, 0], [0, 0.9, 0, 0], [0, 0, 0, 1.2]])
    assert ring_norm_error(z) == pytest.approx((0 + 0.1 + 0.2) / 3)
    assert ring_norm_error(ring(list(range(0, 360, 10)))) == pytest.approx(0, abs=1e-6)


def test_anchor_drift_is_mean_euclidean_distance():
    a = torch.zeros(6, 4)
    b = a.clone()
    assert anchor_drift(a, b) == 0.0
    b[0] = torch.tensor([0.3, 0.4, 0, 0])  # moved 0.5
    b[5] = torch.tensor([0, 0, 0, 0.1])  # moved 0.1
    assert anchor_drift(a, b) == pytest.approx(0.6 / 6)

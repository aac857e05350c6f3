"""The feature → category assignment and its two losses, on hand-built matrices."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vq.tokenizer.assignment import (
    FeatureAssignment,
    assignment_imbalance,
    assignment_overlap,
    near_hard_fraction,
)


def one_hot(categories: list[int], k: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(categories), k).float()


def test_identity_like_assignment_has_zero_overlap() -> None:
    a = one_hot([0, 1, 2, 3, 0, 1, 2, 3], 4)
    assert float(assignment_overlap(a)) == 0.0
    assert float(assignment_imbalance(a)) == pytest.approx(0.0)


def test_all_features_in_one_category_is_maximal_imbalance() -> None:
    a = one_hot([2] * 10, 5)
    assert float(assignment_imbalance(a)) == pytest.approx(1.0)
    assert float(assignment_overlap(a)) == 0.0  # one owner per feature: no sharing


def test_uniform_assignment_is_maximal_overlap_and_balanced() -> None:
    a = torch.full((12, 4), 0.25)
    assert float(assignment_overlap(a)) == pytest.approx(1.0)
    assert float(assignment_imbalance(a)) == pytest.approx(0.0)


def test_overlap_is_one_minus_row_purity_rescaled() -> None:
    a = torch.tensor([[0.5, 0.5, 0.0], [0.9, 0.05, 0.05], [0.0, 0.0, 1.0]])
    purity = (a * a).sum(1).mean()
    assert float(assignment_overlap(a)) == pytest.approx(float((1 - purity) / (1 - 1 / 3)))


@settings(max_examples=50, deadline=None)
@given(
    st.integers(2, 12).flatmap(
        lambda f: st.tuples(st.just(f), st.integers(2, 6), st.integers(0, 2**31 - 1))
    )
)
def test_losses_stay_in_unit_interval(shape: tuple[int, int, int]) -> None:
    f, k, seed = shape
    gen = torch.Generator().manual_seed(seed)
    a = torch.softmax(torch.randn(f, k, generator=gen) * 3, dim=1)
    for loss in (assignment_overlap(a), assignment_imbalance(a)):
        assert -1e-6 <= float(loss) <= 1 + 1e-6


def test_near_hard_fraction_counts_rows_at_or_above_the_threshold() -> None:
    a = torch.tensor([[0.95, 0.05], [0.9, 0.1], [0.6, 0.4], [0.02, 0.98]])
    assert near_hard_fraction(a, 0.9) == pytest.approx(0.75)


def test_temperature_sharpens_the_soft_assignment() -> None:
    m = FeatureAssignment(6, 3, init_scale=1.0, generator=torch.Generator().manual_seed(0))
    m.temperature = 1.0
    soft = m().max(1).values
    m.temperature = 0.1
    sharp = m().max(1).values
    assert torch.all(sharp >= soft) and torch.allclose(m().sum(1), torch.ones(6))


def test_hard_flag_survives_a_state_dict_round_trip() -> None:
    m = FeatureAssignment(5, 3, init_scale=1.0)
    m.hard = True
    fresh = FeatureAssignment(5, 3)
    fresh.load_state_dict(m.state_dict())
    assert fresh.hard and torch.equal(fresh(), m())
    assert set(fresh().sum(1).tolist()) == {1.0}


def test_fixed_assignment_is_hard_and_has_no_parameters() -> None:
    m = FeatureAssignment(4, 2, fixed=torch.tensor([0, 1, 1, 0]))
    assert m.hard and not list(m.parameters())
    assert torch.equal(m.categories(), torch.tensor([0, 1, 1, 0]))
    with pytest.raises(ValueError, match="category indices"):
        FeatureAssignment(4, 2, fixed=torch.tensor([0, 2, 1, 0]))

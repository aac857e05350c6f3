"""ResidualVQ: each level quantizes the residual of the previous ones."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vq import ResidualVQ, VectorQuantizer


def _data(n: int = 512) -> torch.Tensor:
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(3)) * 2


def test_levels_quantize_successive_residuals() -> None:
    rvq = ResidualVQ(3, dim=2, codebook_size=8)
    z = _data()
    rvq(z)  # k-means seeds each level on its residuals
    rvq.eval()
    out = rvq(z)
    assert out.codes.shape == (512, 3)
    residual = z
    total = torch.zeros_like(z)
    for i, q in enumerate(rvq.quantizers):
        assert torch.equal(out.codes[:, i], q.nearest(residual))
        step = q.lookup(out.codes[:, i])
        torch.testing.assert_close(out.levels[i].quantized, step)
        residual = residual - step
        total = total + step
    torch.testing.assert_close(out.quantized, total)
    torch.testing.assert_close(rvq.lookup(out.codes), total)


def test_more_levels_leave_smaller_residuals() -> None:
    rvq = ResidualVQ(3, dim=2, codebook_size=8)
    z = _data()
    rvq.initialize(z)
    rvq.eval()
    out = rvq(z)
    errors = []
    partial = torch.zeros_like(z)
    for level in out.levels:
        partial = partial + level.quantized
        errors.append(((z - partial) ** 2).mean().item())
    assert errors[0] > errors[1] > errors[2]


def test_whole_stack_gets_one_straight_through_gradient() -> None:
    rvq = ResidualVQ(2, dim=3, codebook_size=4)
    z = torch.randn(20, 3, requires_grad=True)
    out = rvq(z)
    grad = torch.randn(20, 3)
    out.quantized.backward(grad)
    torch.testing.assert_close(z.grad, grad)  # identity, not one copy per level


def test_losses_sum_over_levels() -> None:
    rvq = ResidualVQ(2, dim=2, codebook_size=4, commitment=0.5, decay=1.0)
    z = _data(64)
    out = rvq(z)
    expected = sum(level.losses["commitment"] for level in out.levels)
    torch.testing.assert_close(out.losses["commitment"], expected)
    torch.testing.assert_close(out.loss, 0.5 * expected)
    m = out.metrics()
    assert {"batch_perplexity/0", "batch_perplexity/1", "commitment"} <= set(m)


def test_knobs_broadcast_and_levels_keep_their_own() -> None:
    rvq = ResidualVQ(2, dim=2, codebook_size=[4, 6])
    assert [q.codebook_size for q in rvq.quantizers] == [4, 6]
    rvq.temperature = 0.3
    rvq.commitment = 0.7
    rvq.decay = 0.5
    assert [(q.temperature, q.commitment, q.decay) for q in rvq.quantizers] == [(0.3, 0.7, 0.5)] * 2
    rvq.quantizers[1].temperature = 0.0
    assert rvq.quantizers[0].temperature == 0.3
    assert rvq.temperature == 0.3


def test_per_level_health_and_refresh() -> None:
    rvq = ResidualVQ(2, dim=1, codebook_size=4, kmeans_init=False, decay=1.0)
    with torch.no_grad():
        for q in rvq.quantizers:
            q.codebook.copy_(torch.tensor([[0.0], [10.0], [20.0], [30.0]]))
            q.embed_sum.copy_(q.codebook)
    rvq(torch.tensor([[0.0], [10.0], [20.0]]))  # level 0 uses 0,1,2; residuals are all 0
    health = rvq.health()
    assert [h.active for h in health] == [3, 1]
    refreshed = rvq.refresh()
    assert [r.tolist() for r in refreshed] == [[3], [1, 2, 3]]


def test_ready_made_levels_and_validation() -> None:
    levels = [VectorQuantizer(2, 4), VectorQuantizer(2, 8)]
    rvq = ResidualVQ(levels)
    assert len(rvq) == 2 and rvq.codebook_size == 8
    with pytest.raises(ValueError, match="one dim"):
        ResidualVQ([VectorQuantizer(2, 4), VectorQuantizer(3, 4)])
    with pytest.raises(ValueError, match="euclidean"):
        ResidualVQ(2, dim=2, codebook_size=4, distance="cosine")
    with pytest.raises(ValueError, match="dim and codebook_size"):
        ResidualVQ(2)


def test_gumbel_levels_add_their_relaxation_gradient() -> None:
    rvq = ResidualVQ(2, dim=2, codebook_size=6, temperature=0.5, relaxation="gumbel")
    z = torch.randn(50, 2, requires_grad=True)
    out = rvq(z)
    torch.testing.assert_close(out.quantized, sum(level.quantized for level in out.levels).detach())
    out.quantized.sum().backward()
    assert not torch.allclose(z.grad, torch.ones_like(z))


@settings(max_examples=20, deadline=None)
@given(
    levels=st.integers(1, 4), dim=st.integers(1, 5), k=st.integers(1, 9), seed=st.integers(0, 999)
)
def test_lookup_of_the_codes_is_the_quantized_output(
    levels: int, dim: int, k: int, seed: int
) -> None:
    """Decoding from indices gives back exactly what the forward pass quantized (eval mode)."""
    gen = torch.Generator().manual_seed(seed)
    rvq = ResidualVQ(levels, dim=dim, codebook_size=k, kmeans_init=False)
    with torch.no_grad():
        for q in rvq.quantizers:
            q.codebook.copy_(torch.randn(k, dim, generator=gen))
    rvq.eval()
    z = torch.randn(3, 7, dim, generator=gen)
    out = rvq(z)
    assert out.codes.shape == (3, 7, levels)
    torch.testing.assert_close(rvq.lookup(out.codes), out.quantized, rtol=0, atol=1e-6)

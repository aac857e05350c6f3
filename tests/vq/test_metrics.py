"""Codebook and latent metrics on hand-built inputs."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vq.metrics import (
    code_counts,
    codebook_health,
    dead_codes,
    effective_rank,
    perplexity,
    reconstruction_quality,
    topographic_correlation,
    utilization,
)


def test_code_counts() -> None:
    codes = torch.tensor([[0, 2], [2, 2]])
    assert code_counts(codes, 4).tolist() == [1.0, 0.0, 3.0, 0.0]


@given(k=st.integers(1, 500), per=st.integers(1, 20))
def test_perplexity_of_uniform_usage_is_k(k: int, per: int) -> None:
    assert perplexity(torch.full((k,), float(per))) == pytest.approx(k, rel=1e-5)


def test_perplexity_hand_values() -> None:
    assert perplexity(torch.tensor([7.0, 0.0, 0.0])) == pytest.approx(1.0)
    # p = (1/2, 1/4, 1/4): H = 1.5 ln 2 → exp(H) = 2^1.5
    assert perplexity(torch.tensor([2.0, 1.0, 1.0])) == pytest.approx(2**1.5)
    assert math.isnan(perplexity(torch.zeros(4)))


def test_utilization_and_dead_codes() -> None:
    counts = torch.tensor([0.0, 1.0, 5.0, 0.0, 2.0])
    assert utilization(counts) == pytest.approx(3 / 5)
    assert dead_codes(counts) == 2
    assert utilization(counts, threshold=2.0) == pytest.approx(2 / 5)
    assert dead_codes(counts, threshold=2.0) == 3
    h = codebook_health(counts, threshold=2.0)
    assert (h.codes, h.active, h.dead) == (5, 2, 3)
    assert h.utilization == pytest.approx(0.4)
    assert h.as_dict()["perplexity"] == pytest.approx(perplexity(counts))


@pytest.mark.parametrize("dim", [1, 2, 8, 16])
def test_effective_rank_of_isotropic_gaussian_is_dim(dim: int) -> None:
    x = torch.randn(20_000, dim, generator=torch.Generator().manual_seed(dim))
    assert effective_rank(x) == pytest.approx(dim, rel=0.01)


def test_effective_rank_hand_values() -> None:
    line = torch.linspace(-1, 1, 100)[:, None] * torch.tensor([[1.0, 2.0, -1.0]])
    assert effective_rank(line) == pytest.approx(1.0)
    # singular values in ratio 1 : 3 → p = (1/4, 3/4)
    x = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 3.0], [0.0, -3.0]])
    h = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert effective_rank(x) == pytest.approx(math.exp(h))
    # centring: a constant offset is not a direction
    assert effective_rank(line + 5.0) == pytest.approx(1.0, abs=1e-4)
    assert effective_rank(line + 5.0, center=False) > 1.0
    assert effective_rank(torch.zeros(10, 3)) == 0.0


def test_topographic_correlation() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(300, 5, generator=gen)
    # a similarity transform keeps every distance ratio
    q, _ = torch.linalg.qr(torch.randn(5, 5, generator=gen))
    assert topographic_correlation(x, 3 * x @ q + 1) == pytest.approx(1.0, abs=1e-9)
    unrelated = torch.randn(300, 2, generator=gen)
    assert abs(topographic_correlation(x, unrelated, generator=gen)) < 0.1
    # Spearman only needs the distance order: an arc of a circle keeps it (chord = 2 sin(Δ/2))
    t = torch.rand(60, 1, generator=gen, dtype=torch.float64) * 3
    arc = torch.cat([t.cos(), t.sin()], 1)
    assert topographic_correlation(t, arc, method="spearman") == pytest.approx(1.0)
    assert topographic_correlation(t, arc) < 0.995
    with pytest.raises(ValueError, match="rows"):
        topographic_correlation(x, unrelated[:10])


def test_topographic_correlation_spearman_with_ties() -> None:
    x = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    z = torch.tensor([[0.0], [0.0], [1.0], [1.0]])  # tied latent distances
    expected_pairs = torch.pdist(x.double()), torch.pdist(z.double())
    from scipy.stats import spearmanr

    rho = spearmanr(expected_pairs[0].numpy(), expected_pairs[1].numpy()).statistic
    assert topographic_correlation(x, z, method="spearman") == pytest.approx(rho)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 30), d=st.integers(1, 6), seed=st.integers(0, 1000))
def test_reconstruction_quality_bounds(n: int, d: int, seed: int) -> None:
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(seed))
    assert reconstruction_quality(x, x) == pytest.approx(1.0)
    mean = x.mean(0, keepdim=True).expand_as(x)
    assert reconstruction_quality(x, mean) == pytest.approx(0.0, abs=1e-9)


def test_reconstruction_quality_hand_value() -> None:
    x = torch.tensor([[0.0], [2.0]])  # variance sum 2
    out = torch.tensor([[0.5], [2.0]])  # squared error 0.25
    assert reconstruction_quality(x, out) == pytest.approx(1 - 0.25 / 2)
    with pytest.raises(ValueError, match="differ"):
        reconstruction_quality(x, torch.zeros(2, 2))

"""The categorical VQ model: shapes, tokens round-trip, pruning, gating, metrics definitions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mini.training.modes import eval_mode
from vq.tokenizer.metrics import (
    CRITERIA,
    canonical_correlation,
    inter_category_orthogonality,
    validation_report,
)
from vq.tokenizer.model import CategoricalConfig, CategoricalVQ, GroupedLinear


def small(fixed: list[int] | None = None, k: int = 3) -> CategoricalVQ:
    cfg = CategoricalConfig(n_features=6, n_categories=k, latent_dim=2, levels=2, codes=8, hidden=8)
    return CategoricalVQ(cfg, None if fixed is None else torch.tensor(fixed), seed=0)


def test_grouped_linear_matches_separate_layers() -> None:
    layer = GroupedLinear(3, 4, 5, torch.Generator().manual_seed(0))
    x = torch.randn(7, 3, 4)
    expected = torch.stack([x[:, k] @ layer.weight[k] + layer.bias[k] for k in range(3)], 1)
    torch.testing.assert_close(layer(x), expected)


def test_forward_shapes_and_extras() -> None:
    m = small()
    r = m(torch.randn(16, 6))
    assert r.outputs.shape == (16, 6) and r.latents.shape == (16, 3 * 2)
    assert r.extras["codes"].shape == (16, 3, 2) and r.extras["assignment"].shape == (6, 3)
    total = sum(fn(torch.randn(16, 6), r) for fn in CRITERIA.values())
    total.backward()
    assert m.assignment.logits.grad is not None and m.enc1.weight.grad is not None


def test_encode_then_decode_is_the_reconstruction() -> None:
    m = small([0, 0, 1, 1, 2, 2])
    x = torch.randn(64, 6)
    m(x)  # a training step seeds the codebooks
    with eval_mode(m):
        expected = m(x).outputs
        codes = m.encode(x)
        assert codes.shape == (64, 3, 2) and codes.dtype == torch.long
        torch.testing.assert_close(m.decode(codes), expected)
        torch.testing.assert_close(codes, m(x).extras["codes"])


def test_a_hard_category_reconstructs_only_its_own_features() -> None:
    m = small([0, 0, 1, 1, 2, 2])
    x = torch.randn(8, 6)
    with eval_mode(m):
        codes = m.encode(x)
        other = codes.clone()
        other[:, 1] = (other[:, 1] + 1) % 8  # change category 1's tokens only
        a, b = m.decode(codes), m.decode(other)
    assert torch.equal(a[:, [0, 1, 4, 5]], b[:, [0, 1, 4, 5]])
    assert not torch.equal(a[:, [2, 3]], b[:, [2, 3]])


def test_pruning_drops_empty_categories_and_keeps_the_function() -> None:
    m = small(k=4)
    with torch.no_grad():
        m.assignment.logits.copy_(
            torch.nn.functional.one_hot(torch.tensor([0, 0, 2, 2, 3, 0]), 4) * 5.0
        )
    x = torch.randn(32, 6)
    m(x)
    m.assignment.hard = True
    pruned, kept = m.pruned()
    assert kept == [0, 2, 3] and pruned.n_categories == 3
    assert pruned.assignment.categories().tolist() == [0, 0, 1, 1, 2, 0]
    assert len(pruned.quantizers) == 3 and pruned.enc1.weight.shape[0] == 3
    with eval_mode(m), eval_mode(pruned):
        torch.testing.assert_close(pruned(x).outputs, m(x).outputs)


def test_leak_noise_limits_what_a_category_reads_of_features_it_does_not_own() -> None:
    m = small()
    a = torch.tensor([[1.0, 0.0, 0.0]] * 6)
    x = torch.zeros(4, 6)
    m.leak_noise = 0.0
    z0 = m.encode_latents(x, a)
    m.leak_noise = 1.0
    z1 = m.encode_latents(x, a)
    assert torch.equal(z0[:, 0], z1[:, 0])  # owned fully: no noise
    assert not torch.equal(z0[:, 1], z1[:, 1])  # owns nothing: reads noise only
    m.eval()
    torch.testing.assert_close(m.encode_latents(x, a), m.encode_latents(x, a))  # seeded in eval


def test_orthogonality_metric_on_constructed_latents() -> None:
    gen = torch.Generator().manual_seed(0)
    u = torch.randn(2000, 1, 2, generator=gen)
    independent = torch.cat([u, torch.randn(2000, 1, 2, generator=gen)], 1)
    duplicated = torch.cat([u, u], 1)
    assert inter_category_orthogonality(independent) < 0.05
    assert canonical_correlation(independent) < 0.1
    assert canonical_correlation(duplicated) == pytest.approx(1.0, abs=1e-6)
    rotated = torch.cat([u, u @ torch.tensor([[0.6, -0.8], [0.8, 0.6]])], 1)
    assert canonical_correlation(rotated) == pytest.approx(1.0, abs=1e-6)


def test_validation_report_counts_live_categories_and_planted_groups() -> None:
    m = small([0, 0, 1, 1, 1, 0], k=3)  # category 2 owns nothing
    x = torch.randn(200, 6)
    m(x)
    r = validation_report(m, x, np.array([0, 0, 1, 1, 1, -1]))
    assert r["k"] == 2 and r["ari"] == 1.0 and r["near_hard_fraction"] == 1.0
    assert 0 < r["utilization"] <= 1 and len(r["utilization_per_category"]) == 2
    assert r["assign_overlap"] == 0.0

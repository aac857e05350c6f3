"""Held-out metrics (vq.train.heldout), the orthogonality metric and its regulariser."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mini.training.result import Result
from vq import (
    HealthMonitor,
    ResidualVQ,
    VectorQuantizer,
    VQAutoencoder,
    codebook_orthogonality,
    cross_orthogonality,
    heldout_metrics,
    orthogonality_penalty,
    topographic_correlation,
    topographic_penalty,
)
from vq.regularizers import centroid_orthogonality

from .conftest import FakeTrainer


# -- the orthogonality metric ----------------------------------------------------------------
def test_orthogonal_codes_score_zero_and_parallel_codes_one() -> None:
    eye = torch.eye(4) * torch.tensor([[1.0], [2.0], [0.5], [3.0]])  # scale does not matter
    assert codebook_orthogonality(eye) == pytest.approx(0.0)
    same = torch.tensor([[1.0, 2.0, 3.0]]).repeat(5, 1)
    assert codebook_orthogonality(same) == pytest.approx(1.0)
    flipped = torch.tensor([[1.0, 2.0], [-2.0, -4.0]])  # |cos| = 1 for opposite codes too
    assert codebook_orthogonality(flipped) == pytest.approx(1.0)


def test_orthogonality_hand_value_and_edge_cases() -> None:
    # 0°, 60°, 90°: |cos| of the pairs 1/2 (0°, 60°), 0 (0°, 90°), √3/2 (60°, 90°)
    codes = torch.tensor([[1.0, 0.0], [0.5, math.sqrt(3) / 2], [0.0, 1.0]])
    assert codebook_orthogonality(codes) == pytest.approx((0.5 + math.sqrt(3) / 2) / 3)
    assert math.isnan(codebook_orthogonality(torch.ones(1, 3)))
    assert cross_orthogonality(torch.eye(4)[:2], torch.eye(4)[2:]) == pytest.approx(0.0)
    assert cross_orthogonality(torch.eye(3), torch.eye(3)) == pytest.approx(1 / 3)
    assert math.isnan(cross_orthogonality(torch.eye(3)[:0], torch.eye(3)))


# -- held-out vs training window --------------------------------------------------------------
def _line_quantizer() -> VectorQuantizer:
    """8 codes at 0, 1, …, 7 on a line; training has used only codes 0–3 for a full window."""
    vq = VectorQuantizer(1, 8, kmeans_init=False, window=4, decay=1.0)
    with torch.no_grad():
        vq.codebook.copy_(torch.arange(8.0)[:, None])
        vq.embed_sum.copy_(vq.codebook)
    for _ in range(4):
        vq(torch.tensor([[0.0], [1.0], [2.0], [3.0]]))
    return vq


def test_held_out_metrics_differ_from_the_training_window(trainer: FakeTrainer) -> None:
    vq = _line_quantizer()
    trainer.model = VQAutoencoder(nn.Identity(), vq, nn.Identity())
    held_out = torch.tensor([[5.0], [6.0], [6.1], [7.0], [7.2], [6.9]])  # codes 5, 6, 7 only
    monitor = HealthMonitor(vq, every=1, validation=held_out)
    monitor.attach(trainer)
    trainer.emit("step-metrics", 0, batch=None, result=None)
    rec = trainer.records[-1]
    assert rec["vq/train/l0/active"] == 4 and rec["vq/train/l0/utilization"] == 0.5
    assert rec["vq/l0/active"] == 3 and rec["vq/l0/dead"] == 5
    assert rec["vq/l0/utilization"] == pytest.approx(3 / 8)
    # held-out use 1, 2, 3 of codes 5, 6, 7: perplexity of (1/6, 2/6, 3/6)
    p = torch.tensor([1 / 6, 2 / 6, 3 / 6])
    assert rec["vq/l0/perplexity"] == pytest.approx(float(torch.exp(-(p * p.log()).sum())))
    assert rec["vq/train/l0/perplexity"] == pytest.approx(4.0)
    assert rec["vq/l0/orthogonality"] == pytest.approx(1.0)  # 1-D codes are all parallel
    assert rec["vq/recon_quality"] < 1.0  # quantized reconstructions of the held-out rows
    assert trainer.model.training  # evaluation put the mode back


def test_heldout_metrics_count_only_the_used_codes() -> None:
    vq = VectorQuantizer(2, 3, kmeans_init=False, decay=1.0)
    with torch.no_grad():  # code 2 is parallel to code 0 but nothing held-out is near it
        vq.codebook.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [10.0, 0.0]]))
    x = torch.tensor([[1.0, 0.1], [0.1, 1.0], [0.9, 0.0]])
    model = VQAutoencoder(nn.Identity(), vq, nn.Identity()).eval()
    with torch.no_grad():
        m = heldout_metrics(vq, x, model(x))
    (level,) = m.levels
    assert (level.active, level.dead) == (2, 1)
    assert level.orthogonality == pytest.approx(0.0)  # codes 0 and 1 only
    assert m.cross_level_orthogonality is None
    assert m.records()["vq/orthogonality"] == pytest.approx(0.0)


def test_residual_levels_report_each_level_and_their_cross_orthogonality() -> None:
    rvq = ResidualVQ(2, dim=2, codebook_size=2, kmeans_init=False, decay=1.0)
    with torch.no_grad():
        rvq.quantizers[0].codebook.copy_(torch.tensor([[4.0, 0.0], [-4.0, 0.0]]))
        rvq.quantizers[1].codebook.copy_(torch.tensor([[0.0, 1.0], [0.0, -1.0]]))
    x = torch.tensor([[4.0, 1.0], [-4.0, -1.0], [4.0, -1.0], [-4.0, 1.0]])
    model = VQAutoencoder(nn.Identity(), rvq, nn.Identity()).eval()
    with torch.no_grad():
        m = heldout_metrics(rvq, x, model(x))
    assert [lv.active for lv in m.levels] == [2, 2]
    assert [lv.orthogonality for lv in m.levels] == [pytest.approx(1.0)] * 2
    assert m.cross_level_orthogonality == pytest.approx(0.0)  # level 1 is orthogonal to level 0
    assert m.recon_quality == pytest.approx(1.0)
    rec = m.records()
    assert rec["vq/cross_level_orthogonality"] == pytest.approx(0.0)
    assert {"vq/l1/orthogonality", "vq/topographic", "vq/utilization"} <= set(rec)


def test_heldout_metrics_quantize_latents_when_the_result_has_no_codes() -> None:
    vq = _line_quantizer()
    z = torch.tensor([[0.1], [6.8], [7.1]])
    m = heldout_metrics(vq, z, Result(outputs=z, latents=z))
    assert m.levels[0].active == 2 and m.recon_quality == pytest.approx(1.0)


# -- the regulariser --------------------------------------------------------------------------
def test_centroid_orthogonality_groups_by_code_and_ignores_unused_codes() -> None:
    x = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    codes = torch.tensor([0, 0, 2, 3])  # centroids (2, 0), (0, 2), (1, 1); code 1 unused
    # |cos| pairs: 0, 1/√2, 1/√2 → mean √2/3
    value = centroid_orthogonality(x, codes, 5)
    assert float(value) == pytest.approx(math.sqrt(2) / 3)
    assert float(centroid_orthogonality(x, torch.zeros(4, dtype=torch.long), 5)) == 0.0


def test_orthogonality_penalty_gradient_spreads_the_code_centroids() -> None:
    torch.manual_seed(0)
    vq = VectorQuantizer(8, 6, kmeans_init=False, decay=1.0)
    z = (torch.randn(120, 8) * 0.3 + 2.0).requires_grad_()  # one cone: |cos| near 1
    codes = torch.arange(120) % 6
    penalty = orthogonality_penalty(vq)
    result = Result(outputs=z, latents=z, extras={"codes": codes})
    before = float(penalty(None, result).detach())
    opt = torch.optim.Adam([z], lr=0.05)
    for _ in range(100):
        opt.zero_grad()
        penalty(None, Result(outputs=z, latents=z, extras={"codes": codes})).backward()
        opt.step()
    after = float(penalty(None, Result(outputs=z, latents=z, extras={"codes": codes})).detach())
    assert before > 0.8 and after < 0.3


def test_orthogonality_penalty_reads_each_residual_level() -> None:
    rvq = ResidualVQ(2, dim=2, codebook_size=2, kmeans_init=False, decay=1.0)
    with torch.no_grad():
        rvq.quantizers[0].codebook.copy_(torch.tensor([[4.0, 0.0], [0.0, 4.0]]))
    z = torch.tensor([[4.0, 1.0], [0.0, 5.0], [4.0, -1.0], [1.0, 4.0]])
    codes = torch.tensor([[0, 0], [1, 0], [0, 1], [1, 1]])
    value = orthogonality_penalty(rvq)(None, Result(z, z, {"codes": codes}))
    level0 = centroid_orthogonality(z, codes[:, 0], 2)
    residual = z - rvq.quantizers[0].codebook[codes[:, 0]]
    level1 = centroid_orthogonality(residual, codes[:, 1], 2)
    torch.testing.assert_close(value, (level0 + level1) / 2)
    with pytest.raises(ValueError, match="latents"):
        orthogonality_penalty(rvq)(None, Result(z))


def test_topographic_penalty_is_one_minus_the_distance_correlation() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(50, 6, generator=gen)
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=gen))
    penalty = topographic_penalty(sample=50)
    isometric = Result(x, latents=2 * x @ q + 3)  # distances scaled: correlation 1
    assert float(penalty((x, None), isometric)) == pytest.approx(0.0, abs=1e-6)
    z = torch.randn(50, 2, generator=gen, requires_grad=True)
    value = penalty(x, Result(x, latents=z))
    expected = 1 - topographic_correlation(x, z.detach(), sample=50)
    assert float(value.detach()) == pytest.approx(expected, rel=1e-5)
    value.backward()
    assert z.grad is not None and z.grad.abs().sum() > 0

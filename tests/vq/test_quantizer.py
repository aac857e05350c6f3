"""VectorQuantizer: lookup, gradient estimators, EMA, temperature, usage window, refresh."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from vq import VectorQuantizer
from vq.gradients import rotation_matrix, rotation_trick
from vq.sampling import draw


def _set_codebook(vq: VectorQuantizer, codes: torch.Tensor) -> None:
    """Put ``codes`` in the codebook as if they had one sample of EMA mass each."""
    with torch.no_grad():
        vq.codebook.copy_(codes)
        if vq.learn == "ema":
            vq.embed_sum.copy_(codes)
            vq.cluster_size.fill_(1.0)


# -- nearest-code lookup -------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 40),
    dim=st.integers(1, 6),
    k=st.integers(1, 12),
    seed=st.integers(0, 2**16),
    cosine=st.booleans(),
)
def test_lookup_matches_brute_force(n: int, dim: int, k: int, seed: int, cosine: bool) -> None:
    gen = torch.Generator().manual_seed(seed)
    vq = VectorQuantizer(dim, k, distance="cosine" if cosine else "euclidean", kmeans_init=False)
    codebook = torch.randn(k, dim, generator=gen, dtype=torch.float64).float()
    if cosine:
        codebook = F.normalize(codebook, dim=-1)
    _set_codebook(vq, codebook)
    z = torch.randn(n, dim, generator=gen)
    vq.eval()
    out = vq(z)
    zz = F.normalize(z, dim=-1) if cosine else z
    brute = torch.stack(
        [torch.stack([((a.double() - c.double()) ** 2).sum() for c in codebook]) for a in zz]
    )
    best = brute.min(1).values
    chosen = brute[torch.arange(n), out.codes]
    # The chosen code is a nearest one (ties may pick any of the tied codes).
    torch.testing.assert_close(chosen, best, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out.quantized, codebook[out.codes])
    assert torch.equal(vq.nearest(z), out.codes)


def test_lookup_keeps_leading_shape() -> None:
    vq = VectorQuantizer(3, 5, kmeans_init=False)
    z = torch.randn(2, 4, 7, 3)
    out = vq(z)
    assert out.quantized.shape == z.shape
    assert out.codes.shape == (2, 4, 7)
    assert out.codes.dtype == torch.long
    with pytest.raises(ValueError, match="last dimension 3"):
        vq(torch.randn(4, 2))


# -- gradients -----------------------------------------------------------------------------------
def test_straight_through_gradient_is_identity() -> None:
    vq = VectorQuantizer(4, 8, kmeans_init=False)
    codebook = vq.codebook.clone()  # the EMA moves it during the forward
    z = torch.randn(32, 4, requires_grad=True)
    out = vq(z)
    grad = torch.randn(32, 4)
    out.quantized.backward(grad)
    assert torch.equal(z.grad, grad)
    torch.testing.assert_close(out.quantized.detach(), codebook[out.codes])


def test_rotation_trick_forward_is_the_code_and_backward_is_lambda_r_transpose() -> None:
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(5, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    q = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    out = rotation_trick(z, q)
    torch.testing.assert_close(out, q)
    g = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    out.backward(g)
    for i in range(5):
        m = rotation_matrix(z[i].detach(), q[i])
        torch.testing.assert_close(m @ z[i].detach(), q[i])  # λR maps z onto q
        torch.testing.assert_close(z.grad[i], m.T @ g[i])


def test_rotation_gradient_option_in_the_quantizer() -> None:
    vq = VectorQuantizer(3, 6, gradient="rotation", kmeans_init=False, decay=1.0)
    z = torch.randn(10, 3, requires_grad=True)
    out = vq(z)
    torch.testing.assert_close(out.quantized, vq.codebook[out.codes])
    out.quantized.sum().backward()
    assert not torch.allclose(z.grad, torch.ones_like(z))  # not the straight-through identity


# -- EMA -----------------------------------------------------------------------------------------
def test_ema_update_hand_computed() -> None:
    vq = VectorQuantizer(1, 2, decay=0.5, kmeans_init=False)
    _set_codebook(vq, torch.tensor([[0.0], [10.0]]))
    vq(torch.tensor([[1.0], [3.0], [9.0]]))  # codes 0, 0, 1
    # cluster_size = .5·1 + .5·[2, 1] = [1.5, 1];  embed_sum = .5·[0, 10] + .5·[4, 9] = [2, 9.5]
    torch.testing.assert_close(vq.cluster_size, torch.tensor([1.5, 1.0]))
    torch.testing.assert_close(vq.embed_sum, torch.tensor([[2.0], [9.5]]))
    torch.testing.assert_close(vq.codebook, torch.tensor([[4 / 3], [9.5]]))
    vq.decay = 0.75  # settable between steps
    vq(torch.tensor([[2.0], [2.0]]))  # both to code 0; code 1 gets nothing
    # code 0: cs = .75·1.5 + .25·2 = 1.625, sum = .75·2 + .25·4 = 2.5; code 1 decays in place
    torch.testing.assert_close(vq.codebook, torch.tensor([[2.5 / 1.625], [9.5]]))


def test_eval_mode_changes_nothing() -> None:
    vq = VectorQuantizer(2, 4, kmeans_init=False, temperature=1.0)
    before = copy.deepcopy(vq.state_dict())
    vq.eval()
    vq(torch.randn(50, 2))
    for k, v in vq.state_dict().items():
        assert torch.equal(v, before[k]) if isinstance(v, torch.Tensor) else v == before[k], k
    assert vq.tracked_steps == 0


# -- losses --------------------------------------------------------------------------------------
def test_commitment_loss_and_its_weight() -> None:
    vq = VectorQuantizer(2, 4, kmeans_init=False, commitment=0.3, decay=1.0)
    z = torch.randn(16, 2, requires_grad=True)
    out = vq(z)
    expected = ((z.detach() - vq.codebook[out.codes]) ** 2).mean()
    torch.testing.assert_close(out.losses["commitment"], expected)
    torch.testing.assert_close(out.loss, 0.3 * expected)
    assert set(out.losses) == {"commitment"}
    vq.commitment = 0.0
    assert float(vq(z).loss.detach()) == 0.0


def test_codebook_learned_by_loss() -> None:
    vq = VectorQuantizer(2, 4, learn="loss", kmeans_init=False, commitment=0.5)
    assert isinstance(vq.codebook, torch.nn.Parameter)
    z = torch.randn(16, 2)
    out = vq(z)
    expected = ((z - vq.codebook[out.codes]) ** 2).mean()
    torch.testing.assert_close(out.losses["codebook"], expected)
    torch.testing.assert_close(out.loss, 0.5 * out.losses["commitment"] + expected)
    out.loss.backward()
    used = torch.unique(out.codes)
    assert vq.codebook.grad[used].abs().sum() > 0
    unused = torch.ones(4, dtype=torch.bool)
    unused[used] = False
    assert torch.all(vq.codebook.grad[unused] == 0)


# -- temperature ---------------------------------------------------------------------------------
def test_temperature_zero_is_deterministic_nearest() -> None:
    vq = VectorQuantizer(3, 10, kmeans_init=False, temperature=0.0, decay=1.0)
    z = torch.randn(200, 3)
    nearest = vq.nearest(z)
    a = vq(z).codes
    b = vq(z).codes
    assert torch.equal(a, nearest)
    assert torch.equal(b, nearest)
    vq.temperature = vq.hard_below  # at the threshold: still hard
    assert torch.equal(vq(z).codes, nearest)


def test_positive_temperature_samples_from_the_softmax() -> None:
    k = 5
    vq = VectorQuantizer(2, k, kmeans_init=False, temperature=0.7, decay=1.0)
    _set_codebook(vq, torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [-1.5, 0.0], [3, 3]]))
    point = torch.tensor([[0.4, 0.1]])
    d = ((point - vq.codebook) ** 2).sum(-1)
    expected = torch.softmax(-d / (0.7 * d.min()), 0)  # scale = mean nearest distance
    codes = vq(point.repeat(40_000, 1)).codes
    freq = torch.bincount(codes, minlength=k).float() / len(codes)
    torch.testing.assert_close(freq, expected, atol=0.01, rtol=0)


def test_large_temperature_approaches_uniform_use() -> None:
    k = 8
    vq = VectorQuantizer(4, k, kmeans_init=False, temperature=1e6)
    z = torch.randn(40_000, 4)
    freq = torch.bincount(vq(z).codes, minlength=k).float() / len(z)
    torch.testing.assert_close(freq, torch.full((k,), 1 / k), atol=0.01, rtol=0)
    vq.eval()  # evaluation ignores the temperature
    assert torch.equal(vq(z).codes, vq.nearest(z))


def test_unscaled_temperature() -> None:
    vq = VectorQuantizer(1, 2, kmeans_init=False, temperature=0.5, temperature_scale="none")
    _set_codebook(vq, torch.tensor([[0.0], [1.0]]))
    codes = vq(torch.full((40_000, 1), 0.25)).codes
    # d = [1/16, 9/16]: p(code 1) = sigmoid(-(9/16 - 1/16)/0.5) = sigmoid(-1)
    assert abs(codes.float().mean().item() - 1 / (1 + math.e)) < 0.01


def test_gumbel_relaxation_forwards_hard_codes_with_soft_gradients() -> None:
    vq = VectorQuantizer(2, 6, kmeans_init=False, temperature=0.5, relaxation="gumbel", decay=1.0)
    z = torch.randn(64, 2, requires_grad=True)
    out = vq(z)
    assert torch.equal(out.quantized.detach(), vq.codebook[out.codes])  # exactly the codes
    out.quantized.pow(2).sum().backward()
    assert z.grad.abs().sum() > 0
    assert out.extras["relaxed"]
    vq.temperature = 0.0  # hard again: plain straight-through
    z.grad = None
    out = vq(z)
    assert not out.extras["relaxed"]
    out.quantized.sum().backward()
    assert torch.equal(z.grad, torch.ones_like(z))


def _gumbel_case(temperature: float) -> tuple[VectorQuantizer, torch.Tensor]:
    vq = VectorQuantizer(
        2, 5, kmeans_init=False, temperature=temperature, relaxation="gumbel", decay=1.0
    )
    _set_codebook(vq, torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [-1.5, 0.0], [3, 3]]))
    return vq, torch.tensor([[0.4, 0.1]])


@pytest.mark.parametrize("temperature", [0.1, 0.5, 5.0])
def test_gumbel_codes_are_draws_from_the_softmax_of_the_logits(temperature: float) -> None:
    """Textbook Gumbel-max: argmax(logits + g) ~ softmax(logits), whatever the temperature
    (it only sharpens the relaxation). Chi-square goodness of fit, seeded."""
    from scipy.stats import chisquare

    vq, point = _gumbel_case(temperature)
    expected = vq.logits(point)[0].double().softmax(-1)
    expected = expected / expected.sum()
    n = 20_000
    torch.manual_seed(1234)
    codes = vq(point.repeat(n, 1)).codes
    observed = torch.bincount(codes, minlength=5).double()
    assert chisquare(observed.numpy(), (expected * n).numpy()).pvalue > 1e-3
    # and the reference implementation's hard samples have the same law
    torch.manual_seed(1234)
    ref = F.gumbel_softmax(vq.logits(point).repeat(n, 1), tau=temperature, hard=True)
    ref_counts = ref.sum(0).double()
    assert chisquare(ref_counts.numpy(), (expected * n).numpy()).pvalue > 1e-3


def test_gumbel_matches_torch_gumbel_softmax_under_one_seed() -> None:
    """Same noise → same codes and the same gradient as ``F.gumbel_softmax(hard=True) @ C``."""
    vq, _ = _gumbel_case(0.7)
    z = torch.randn(300, 2, dtype=torch.float64)
    vq.double()
    codebook = vq.codebook.clone()
    g = torch.randn(300, 2, dtype=torch.float64)
    ours = z.clone().requires_grad_()
    torch.manual_seed(7)
    out = vq(ours)
    (out.quantized * g).sum().backward()
    theirs = z.clone().requires_grad_()
    torch.manual_seed(7)
    y = F.gumbel_softmax(vq.logits(theirs, codebook), tau=0.7, hard=True)
    (y @ codebook * g).sum().backward()
    assert torch.equal(out.codes, y.argmax(-1))
    torch.testing.assert_close(out.quantized.detach(), (y @ codebook).detach())
    torch.testing.assert_close(ours.grad, theirs.grad)


def test_gumbel_gradient_is_the_straight_through_softmax_gradient_by_hand() -> None:
    """1-D, codes at 0 and 1, unscaled logits −(z − c)²: the forward value is the sampled code
    and dq/dz = Σ_k c_k ∂y_k/∂z with y = softmax((logits + g) / τ), so
    ∂y_k/∂z = y_k (ℓ'_k − Σ_j y_j ℓ'_j) / τ and ℓ'_k = −2 (z − c_k)."""
    tau, zv = 0.5, 0.3
    vq = VectorQuantizer(
        1, 2, kmeans_init=False, temperature=tau, relaxation="gumbel", decay=1.0,
        temperature_scale="none",
    )  # fmt: skip
    _set_codebook(vq, torch.tensor([[0.0], [1.0]]))
    torch.manual_seed(3)
    g = -torch.empty(1, 2).exponential_().log()[0]  # the noise the forward will draw
    z = torch.tensor([[zv]], requires_grad=True)
    torch.manual_seed(3)
    out = vq(z)
    out.quantized.sum().backward()
    c = torch.tensor([0.0, 1.0])
    logits = -((zv - c) ** 2)
    y = ((logits + g) / tau).softmax(-1)
    assert out.codes.item() == int(torch.argmax(logits + g))
    assert out.quantized.item() == c[out.codes.item()].item()
    dlogits = -2 * (zv - c)
    expected = float((c * y * (dlogits - (y * dlogits).sum()) / tau).sum())
    assert z.grad.item() == pytest.approx(expected, rel=1e-5)


def test_soft_relaxation_forwards_the_expectation() -> None:
    vq = VectorQuantizer(2, 4, kmeans_init=False, temperature=0.3, relaxation="soft")
    z = torch.randn(32, 2)
    cb = vq.codebook.clone()
    out = vq(z)
    d = torch.cdist(z, cb) ** 2
    w = torch.softmax(-d / (0.3 * d.min(1).values.mean()), 1)
    torch.testing.assert_close(out.quantized, w @ cb, atol=1e-5, rtol=1e-4)
    assert torch.equal(out.codes, d.argmin(1))


def test_cosine_distance_normalises_codes_and_outputs() -> None:
    vq = VectorQuantizer(3, 8, distance="cosine")
    out = vq(torch.randn(100, 3) * 5)
    torch.testing.assert_close(vq.codebook.norm(dim=-1), torch.ones(8))
    torch.testing.assert_close(out.quantized.norm(dim=-1), torch.ones(100))


# -- k-means init, usage window ------------------------------------------------------------------
def test_kmeans_init_from_first_batch_finds_the_clusters() -> None:
    centres = torch.tensor([[5.0, 5.0], [-5.0, 5.0], [5.0, -5.0], [-5.0, -5.0]])
    z = (centres.repeat(50, 1) + 0.1 * torch.randn(200, 2)).requires_grad_()
    vq = VectorQuantizer(2, 4)
    assert not vq._initialized
    vq(z)
    found = vq.codebook[torch.cdist(centres, vq.codebook).argmin(1)]
    torch.testing.assert_close(found, centres, atol=0.1, rtol=0)
    assert vq.health().active == 4


def test_usage_window_covers_the_last_steps_only() -> None:
    vq = VectorQuantizer(1, 3, kmeans_init=False, window=4, decay=1.0)
    _set_codebook(vq, torch.tensor([[0.0], [10.0], [20.0]]))
    vq(torch.tensor([[20.0]] * 7))  # one step on code 2, soon out of the window
    for _ in range(4):
        vq(torch.tensor([[0.0], [0.0], [10.0]]))
    torch.testing.assert_close(vq.usage_counts(), torch.tensor([8.0, 4.0, 0.0]))
    assert vq.tracked_steps == 5
    assert vq.dead_codes().tolist() == [2]
    h = vq.health()
    assert (h.active, h.dead, h.codes) == (2, 1, 3)
    assert h.utilization == pytest.approx(2 / 3)


# -- refresh -------------------------------------------------------------------------------------
def test_refresh_replaces_exactly_the_dead_codes() -> None:
    k = 8
    vq = VectorQuantizer(2, k, kmeans_init=False, decay=0.9)
    grid = torch.tensor([[float(i), 0.0] for i in range(k)])
    _set_codebook(vq, grid)
    dead = [1, 4, 6]
    alive = [i for i in range(k) if i not in dead]
    batch = grid[alive].repeat(20, 1) + 0.01 * torch.randn(20 * len(alive), 2)
    vq(batch)
    before = vq.codebook.clone()
    assert vq.dead_codes().tolist() == dead
    refreshed = vq.refresh()
    assert refreshed.tolist() == dead
    torch.testing.assert_close(vq.codebook[alive], before[alive])
    recent = vq.recent_inputs()
    for i in dead:
        assert not torch.equal(vq.codebook[i], before[i])
        assert (recent == vq.codebook[i]).all(1).any()  # seeded from a recent input
    assert len({tuple(vq.codebook[i].tolist()) for i in dead}) == len(dead)
    assert vq.usage_counts()[dead].sum() == 0
    # the EMA restarts from the new position
    torch.testing.assert_close(vq.embed_sum[dead], vq.codebook[dead])
    torch.testing.assert_close(vq.cluster_size[dead], torch.ones(len(dead)))


def test_refresh_with_nothing_dead_changes_nothing() -> None:
    vq = VectorQuantizer(2, 4)
    vq(torch.randn(400, 2))
    before = vq.codebook.clone()
    assert vq.refresh().numel() == 0
    assert torch.equal(vq.codebook, before)


def test_refresh_threshold_and_explicit_samples() -> None:
    vq = VectorQuantizer(1, 3, kmeans_init=False, decay=1.0)
    _set_codebook(vq, torch.tensor([[0.0], [10.0], [20.0]]))
    vq(torch.tensor([[0.0]] * 5 + [[10.0]] * 2 + [[20.0]] * 9))
    samples = torch.tensor([[100.0], [200.0]])
    assert vq.refresh(threshold=3.0, samples=samples).tolist() == [1]
    assert vq.codebook[1].item() in (100.0, 200.0)


def test_refresh_without_recent_inputs_warns_and_skips(caplog: pytest.LogCaptureFixture) -> None:
    vq = VectorQuantizer(2, 4, kmeans_init=False)
    before = vq.codebook.clone()
    assert vq.refresh().numel() == 0
    assert torch.equal(vq.codebook, before)
    assert "no recent inputs" in caplog.text


def test_recent_inputs_are_bounded() -> None:
    vq = VectorQuantizer(2, 4, recent=100)
    for _ in range(10):
        vq(torch.randn(30, 2))
    assert vq.recent_inputs().shape == (100, 2)


# -- checkpoints ---------------------------------------------------------------------------------
def test_state_dict_round_trip_restores_progress() -> None:
    vq = VectorQuantizer(2, 4)
    for _ in range(3):
        vq(torch.randn(64, 2))
    state = vq.state_dict()
    fresh = VectorQuantizer(2, 4)
    fresh.load_state_dict(state)
    assert fresh.tracked_steps == 3
    assert fresh._initialized
    z = torch.randn(64, 2)
    before = fresh.codebook.clone()
    fresh.decay = 1.0
    fresh(z)  # no k-means re-seeding after a resume
    torch.testing.assert_close(fresh.codebook, before)
    torch.testing.assert_close(fresh.usage_counts()[:], (vq.usage_counts() + fresh.usage[3]))


def test_bad_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="distance"):
        VectorQuantizer(2, 4, distance="manhattan")
    with pytest.raises(ValueError, match="relaxation"):
        VectorQuantizer(2, 4, relaxation="hard")  # type: ignore[arg-type]
    assert VectorQuantizer(2, 4, relaxation=None).relaxation == "sample"  # None: the default


def test_recent_inputs_ring_keeps_the_newest_rows_and_survives_a_checkpoint() -> None:
    vq = VectorQuantizer(1, 2, kmeans_init=False, recent=5)
    vq(torch.tensor([[1.0], [2.0], [3.0]]))
    assert vq.recent_inputs()[:, 0].tolist() == [1.0, 2.0, 3.0]
    vq(torch.tensor([[4.0], [5.0], [6.0], [7.0]]))  # wraps around
    assert sorted(vq.recent_inputs()[:, 0].tolist()) == [3.0, 4.0, 5.0, 6.0, 7.0]
    vq(torch.arange(10.0, 22.0)[:, None])  # more rows than the ring holds: the newest 5
    assert sorted(vq.recent_inputs()[:, 0].tolist()) == [17.0, 18.0, 19.0, 20.0, 21.0]
    fresh = VectorQuantizer(1, 2, kmeans_init=False, recent=5)
    fresh.load_state_dict(vq.state_dict())
    assert torch.equal(fresh.recent_inputs(), vq.recent_inputs())
    vq(torch.tensor([[30.0]]))
    fresh(torch.tensor([[30.0]]))
    assert torch.equal(fresh.recent_inputs(), vq.recent_inputs())


def test_draw_never_picks_a_code_far_below_the_peak(monkeypatch: pytest.MonkeyPatch) -> None:
    """Log-weights under −80 are floored (fast ``exp``) but still never drawn, even when the
    uniform comes out as exactly 0."""
    log_weights = torch.full((3, 6), -1e4)
    log_weights[:, 4] = 0.0
    log_weights[2, :4] = -79.0
    assert torch.equal(draw(log_weights.clone()), torch.tensor([4, 4, 4]))
    monkeypatch.setattr(torch, "rand", lambda *shape, **kw: torch.zeros(*shape, **kw))
    assert torch.equal(draw(log_weights.clone()), torch.tensor([4, 4, 4]))

from __future__ import annotations

import io

import pytest
import torch

from ex_color.model import ColorMLP
from ex_color.regularizers import (
    Anchor,
    Separate,
    planarity,
    reconstruction,
    unitarity,
)
from mini.training.result import Result

from .conftest import make_event


def latents(*rows: list[float]) -> Result:
    z = torch.tensor(rows, dtype=torch.float32, requires_grad=True)
    return Result(outputs=torch.zeros(len(rows), 3), latents=z)


# -- reconstruction --------------------------------------------------------------------------------
def test_reconstruction_is_mse_against_the_inputs():
    x = torch.tensor([[0.0, 0.5, 1.0], [1.0, 1.0, 1.0]])
    out = torch.tensor([[0.0, 0.5, 0.0], [1.0, 0.0, 1.0]])
    res = Result(outputs=out)
    assert reconstruction(x, res).item() == pytest.approx(2 / 6)
    assert reconstruction((x,), res).item() == pytest.approx(2 / 6)
    assert reconstruction(x, Result(outputs=x.clone())).item() == 0.0


# -- unitarity -------------------------------------------------------------------------------------
def test_unitarity_zero_on_the_unit_sphere():
    res = latents([1, 0, 0, 0], [0, 0.6, 0.8, 0], [0.5, 0.5, 0.5, 0.5])
    assert unitarity(None, res).item() == pytest.approx(0.0, abs=1e-12)


def test_unitarity_values_and_gradient():
    res = latents([2, 0, 0, 0], [0, 0, 0, 0.5])
    loss = unitarity(None, res)
    assert loss.item() == pytest.approx((1.0**2 + 0.5**2) / 2)
    loss.backward()
    g = res.latents.grad
    assert g[0, 0] > 0  # too long: shrink
    assert g[1, 3] < 0  # too short: grow


# -- planarity -------------------------------------------------------------------------------------
def test_planarity_zero_in_the_plane_and_mean_of_extra_dims():
    assert planarity(None, latents([3, -4, 0, 0], [0.1, 9, 0, 0])).item() == 0.0
    res = latents([0, 0, 1, 0], [5, 5, 0, 2])
    assert planarity(None, res).item() == pytest.approx((1 + 4) / 4)
    res.latents.grad = None
    planarity(None, res).backward()
    assert (res.latents.grad[:, :2] == 0).all()


def test_planarity_of_2d_latents_is_zero():
    assert planarity(None, latents([1, 2], [3, 4])).item() == 0.0


# -- Separate --------------------------------------------------------------------------------------
def test_separate_two_points_inverse_square():
    eps = 1e-6
    res = latents([0, 0, 7, 7], [2, 0, -7, 3])
    loss = Separate((0, 1), epsilon=eps)(None, res)
    assert loss.item() == pytest.approx(1 / (4 + eps))


def test_separate_excludes_the_diagonal():
    # Three points at pairwise distances 1, 1, 2: mean over the 6 ordered off-diagonal pairs.
    res = latents([0, 0], [1, 0], [2, 0])
    loss = Separate((0, 1), epsilon=0.0)(None, res)
    assert loss.item() == pytest.approx((1 + 1 + 0.25) * 2 / 6)
    # One point has no pairs at all.
    assert Separate((0, 1))(None, latents([1, 1])).item() == 0.0


def test_separate_uses_only_its_channels():
    a = latents([0, 0, 0, 0], [1, 0, 0, 0])
    b = latents([0, 0, 5, 0], [1, 0, -5, 3])
    sep = Separate((0, 1))
    assert sep(None, a).item() == pytest.approx(sep(None, b).item())
    assert Separate((2,))(None, b).item() == pytest.approx(1 / (100 + 1e-6))


def test_separate_pushes_points_apart_and_survives_duplicates():
    res = latents([0, 0], [0.5, 0], [0.5, 0])  # a duplicate, as sampling with replacement makes
    loss = Separate((0, 1))(None, res)
    assert torch.isfinite(loss)
    loss.backward()
    g = res.latents.grad
    assert torch.isfinite(g).all()
    assert g[0, 0] > 0  # descending the loss moves point 0 to the left, away from the others
    assert g[1, 0] < 0


# -- Anchor ----------------------------------------------------------------------------------------
def tiny_model(seed: int = 0) -> ColorMLP:
    torch.manual_seed(seed)
    return ColorMLP()


REF = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])


def test_anchor_is_zero_before_capture(fake_trainer):
    model = tiny_model()
    anchor = Anchor(REF)
    assert anchor.anchors is None
    assert anchor(model, fake_trainer(model)).item() == 0.0


def test_anchor_captures_on_the_anchor_action(fake_trainer):
    model = tiny_model()
    trainer = fake_trainer(model)
    anchor = Anchor(REF)
    anchor.attach(trainer)
    assert list(trainer.handlers) == ["action:anchor"]
    trainer.current_step = 42
    trainer.emit("action:anchor", action="anchor")
    torch.testing.assert_close(anchor.anchors, model(REF).latents.detach())
    assert anchor.captured_at == 42
    assert not anchor.anchors.requires_grad
    assert anchor(model, trainer).item() == pytest.approx(0.0, abs=1e-12)


def test_anchor_penalises_drift_with_gradient():
    model = tiny_model()
    anchor = Anchor(REF)
    anchor.capture(model)
    before = anchor.anchors.clone()
    with torch.no_grad():
        model.encoder[-1].bias += torch.tensor([0.1, 0.0, -0.2, 0.0])
    loss = anchor(model)
    assert loss.item() == pytest.approx((0.1**2 + 0.2**2) / 4, rel=1e-4)
    loss.backward()
    assert model.encoder[-1].bias.grad.abs().sum() > 0
    assert torch.equal(anchor.anchors, before)  # the anchors themselves do not move


def test_anchor_state_round_trip():
    model = tiny_model()
    anchor = Anchor(REF)
    anchor.capture(model, step=3000)
    buf = io.BytesIO()
    torch.save(anchor.state_dict(), buf)
    buf.seek(0)
    restored = Anchor(REF)
    restored.load_state_dict(torch.load(buf, weights_only=True))
    assert torch.equal(restored.anchors, anchor.anchors)
    assert restored.captured_at == 3000
    other = tiny_model(seed=1)
    assert restored(other).item() == pytest.approx(anchor(other).item())
    # An un-captured anchor round-trips as un-captured.
    empty = Anchor(REF)
    empty.load_state_dict(Anchor(REF).state_dict())
    assert empty.anchors is None


def test_anchor_on_anchor_reads_the_event(fake_trainer):
    model = tiny_model()
    anchor = Anchor(REF)
    anchor.on_anchor(make_event("action:anchor", fake_trainer(model), step=7, action="anchor"))
    assert anchor.captured_at == 7
    assert anchor.anchors.shape == (3, 4)


def test_anchor_fused_forward_matches_separate_forward():
    x = torch.rand(16, 3)
    results = []
    for fused in (False, True):
        model = tiny_model()
        anchor = Anchor(REF.clone())
        anchor.capture(model)
        with torch.no_grad():
            model.encoder[0].weight.mul_(1.1)
        res = anchor.forward(model, x) if fused else model(x)
        assert res.outputs.shape == (16, 3)
        assert res.latents.shape == (16, 4)
        loss = reconstruction(x, res) + anchor(model) * 0.5
        loss.backward()
        results.append((loss.detach(), [p.grad.clone() for p in model.parameters()]))
    (l0, g0), (l1, g1) = results
    torch.testing.assert_close(l0, l1)
    for a, b in zip(g0, g1, strict=True):
        torch.testing.assert_close(a, b)


def test_anchor_fused_forward_is_plain_before_capture_and_without_grad():
    model = tiny_model()
    anchor = Anchor(REF)
    x = torch.rand(4, 3)
    assert anchor.forward(model, x).latents.shape == (4, 4)
    anchor.capture(model)
    with torch.no_grad():
        res = anchor.forward(model, (x,))
    assert res.outputs.shape == (4, 3)
    # Nothing from the gradient-free pass leaks into the loss: it still has a gradient.
    loss = anchor(model)
    assert loss.requires_grad
    loss.backward()

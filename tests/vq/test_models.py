"""VQAutoencoder, the digits models and data, and the loss criteria."""

from __future__ import annotations

import pytest
import torch

from mini.training.result import Result
from vq import (
    Batches,
    ResidualVQ,
    VectorQuantizer,
    VQAutoencoder,
    digits_vqvae_2d,
    digits_vqvae_large,
    load_digits_split,
    recon_mse,
    vq_loss,
    vq_term,
)


class _Recorder(torch.nn.Module):
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        self.seen = z
        return z.sum(-1, keepdim=True)


def test_autoencoder_result_and_blend() -> None:
    vq = VectorQuantizer(3, 4, decay=1.0)
    decoder = _Recorder()
    model = VQAutoencoder(torch.nn.Identity(), vq, decoder, blend=0.0)
    x = torch.randn(20, 3)
    r = model(x)
    assert isinstance(r, Result)
    assert torch.equal(r.latents, x)
    assert torch.equal(decoder.seen, x)  # blend 0: the decoder sees the raw latents
    q = r.extras["quantized"].detach()
    torch.testing.assert_close(q, vq.codebook[r.extras["codes"]])
    assert set(r.extras) == {"quantized", "codes", "losses", "vq_loss"}
    model.blend = 1.0
    model(x)
    torch.testing.assert_close(decoder.seen.detach(), q)
    model.blend = 0.25
    model(x)
    torch.testing.assert_close(decoder.seen.detach(), x + 0.25 * (q - x))


def test_criteria_read_the_result() -> None:
    vq = VectorQuantizer(3, 4, commitment=0.5, learn="loss")
    model = VQAutoencoder(torch.nn.Identity(), vq, torch.nn.Identity())
    x = torch.randn(10, 3)
    r = model(x)
    batch = (x, torch.zeros(10))
    torch.testing.assert_close(recon_mse(batch, r), ((r.outputs - x) ** 2).mean())
    torch.testing.assert_close(recon_mse(x, r), recon_mse(batch, r))
    torch.testing.assert_close(vq_loss(batch, r), r.extras["vq_loss"])
    c = vq_term("commitment")(batch, r)
    cb = vq_term("codebook")(batch, r)
    torch.testing.assert_close(vq_loss(batch, r), 0.5 * c + cb)


def test_digits_models_train_end_to_end() -> None:
    small = digits_vqvae_2d()
    assert isinstance(small.quantizer, ResidualVQ)
    assert len(small.quantizer) == 2 and small.quantizer.dim == 2
    large = digits_vqvae_large()
    assert isinstance(large.quantizer, VectorQuantizer)
    assert (large.quantizer.dim, large.quantizer.codebook_size) == (16, 256)
    x = torch.rand(256, 64)
    for model in (small, large):
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        r = model(x)
        assert r.outputs.shape == x.shape
        loss = recon_mse(x, r) + vq_loss(x, r)
        loss.backward()
        opt.step()
        assert all(p.grad is not None for p in model.encoder.parameters())
    codes = small(x).extras["codes"]
    assert codes.shape == (256, 2)
    assert small.decode_codes(codes).shape == x.shape


def test_digits_split_is_seeded_and_stratified() -> None:
    a = load_digits_split(seed=1)
    b = load_digits_split(seed=1)
    c = load_digits_split(seed=2)
    assert torch.equal(a.val, b.val) and not torch.equal(a.val, c.val)
    assert len(a.train) + len(a.val) == 1797
    assert len(a.val) == pytest.approx(0.2 * 1797, abs=1)
    assert a.dim == 64 and a.train.dtype == torch.float32
    assert a.train.min() >= 0.0 and a.train.max() <= 1.0
    share = torch.bincount(a.val_labels, minlength=10).float() / len(a.val)
    assert torch.all((share - 0.1).abs() < 0.02)
    with pytest.raises(ValueError, match="val_fraction"):
        load_digits_split(val_fraction=1.0)


def test_batches_are_endless_seeded_permutations() -> None:
    x = torch.arange(10.0)[:, None]
    y = torch.arange(10)
    batches_a = Batches(x, y, batch_size=4, seed=0)
    stream = iter(batches_a)
    batches = [next(stream) for _ in range(6)]  # 2 full batches per pass, 3 passes
    assert all(bx.shape == (4, 1) for bx, _ in batches)
    assert all(torch.equal(bx[:, 0].long(), by) for bx, by in batches)
    for p in range(3):
        one_pass = torch.cat([b[1] for b in batches[2 * p : 2 * p + 2]])
        assert len(set(one_pass.tolist())) == 8  # no repeats within a pass
    assert not torch.equal(batches[0][1], batches[2][1])  # a new permutation each pass
    again = iter(Batches(x, y, batch_size=4, seed=0))
    assert all(torch.equal(next(again)[1], b[1]) for b in batches)
    other_seed = iter(Batches(x, y, batch_size=4, seed=1))
    assert not torch.equal(next(other_seed)[1], batches[0][1])
    with pytest.raises(ValueError, match="batch_size"):
        Batches(x, y, batch_size=11)


def test_batches_resume_from_their_state() -> None:
    x, y = torch.arange(10.0)[:, None], torch.arange(10)
    a = Batches(x, y, batch_size=3, seed=5)
    it = iter(a)
    for _ in range(4):  # into the second pass
        next(it)
    state = a.state_dict()
    expected = [next(it)[1] for _ in range(5)]
    b = Batches(x, y, batch_size=3, seed=5)
    b.load_state_dict(state)
    resumed = iter(b)
    assert all(torch.equal(next(resumed)[1], e) for e in expected)
    b.rewind()
    assert torch.equal(next(iter(b))[1], next(iter(Batches(x, y, 3, seed=5)))[1])

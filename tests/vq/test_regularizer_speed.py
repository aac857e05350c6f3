"""The orthogonality regulariser's hand-written gradient (written for speed) gives the value and
the gradient of autograd through the plain formula, on any batch."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from vq.regularizers import centroid_orthogonality


def plain_formula(inputs: Tensor, codes: Tensor, codebook_size: int) -> Tensor:
    """Mean |cos| between the batch centroids of the used codes, through autograd."""
    sums = inputs.new_zeros(codebook_size, inputs.shape[1]).index_add(0, codes, inputs)
    counts = torch.bincount(codes, minlength=codebook_size).to(inputs.dtype)
    centroids = sums / counts.clamp_min(1.0).unsqueeze(1)
    unit = centroids / centroids.norm(dim=1, keepdim=True).clamp_min(1e-8)
    cos = (unit @ unit.T).abs()
    k = (counts > 0).sum().to(inputs.dtype)
    return (cos.sum() - cos.diagonal().sum()) / (k * (k - 1)).clamp_min(1.0)


def _value_and_grad(fn, x: Tensor, codes: Tensor, k: int, weight: float) -> tuple[Tensor, Tensor]:
    x = x.clone().requires_grad_(True)
    value = fn(x, codes, k)
    (grad,) = torch.autograd.grad(value * weight, x)
    return value.detach(), grad


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 40),
    dim=st.integers(1, 6),
    codebook_size=st.integers(1, 12),
    seed=st.integers(0, 2**31 - 1),
    weight=st.floats(0.01, 10.0),
)
def test_same_value_and_gradient_as_the_plain_formula(
    n: int, dim: int, codebook_size: int, seed: int, weight: float
) -> None:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=gen, dtype=torch.float64)
    codes = torch.randint(0, codebook_size, (n,), generator=gen)
    want, want_grad = _value_and_grad(plain_formula, x, codes, codebook_size, weight)
    got, got_grad = _value_and_grad(centroid_orthogonality, x, codes, codebook_size, weight)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got_grad, want_grad, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("codebook_size", "dim"), [(256, 16), (16, 2)])
def test_the_benchmark_shapes_in_float32(codebook_size: int, dim: int) -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(256, dim, generator=gen)
    codes = torch.randint(0, codebook_size, (256,), generator=gen)
    want, want_grad = _value_and_grad(plain_formula, x, codes, codebook_size, 0.1)
    got, got_grad = _value_and_grad(centroid_orthogonality, x, codes, codebook_size, 0.1)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(got_grad, want_grad)


def test_zero_centroids_and_repeated_backward() -> None:
    # a code whose inputs cancel has a zero centroid (|c| clamped): no gradient through it
    x = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], dtype=torch.float64)
    codes = torch.tensor([0, 0, 1, 2])
    want, want_grad = _value_and_grad(plain_formula, x, codes, 3, 1.0)
    x_ = x.clone().requires_grad_(True)
    value = centroid_orthogonality(x_, codes, 3)
    (first,) = torch.autograd.grad(value, x_, retain_graph=True)
    (second,) = torch.autograd.grad(value, x_)  # the saved tensors are not modified in place
    torch.testing.assert_close(value.detach(), want)
    torch.testing.assert_close(first, want_grad)
    torch.testing.assert_close(second, first)


def test_gradcheck_and_no_silent_second_derivative() -> None:
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(12, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    codes = torch.randint(0, 6, (12,), generator=gen)
    assert torch.autograd.gradcheck(lambda t: centroid_orthogonality(t, codes, 6), (x,))
    (grad,) = torch.autograd.grad(centroid_orthogonality(x, codes, 6), x, create_graph=True)
    with pytest.raises(RuntimeError):
        grad.sum().backward()


@pytest.mark.slow
def test_the_benchmark_breaks_a_step_down_by_contender() -> None:
    pytest.importorskip("vector_quantize_pytorch")
    from benchmarks import vq_vs_vector_quantize_pytorch as bench

    args = ["--step-costs", "5", "--rounds", "1", "--latent-dim", "2", "--codes", "8"]
    costs = bench.step_costs(bench.arguments([*args, "--batch-size", "32"]))
    assert next(iter(costs)) == "encoder + decoder + Adam only"
    assert {"vqp VectorQuantize", "ours VectorQuantizer, no regularisers"} <= set(costs)
    assert len(costs) == 7 and all(ms > 0 for ms in costs.values())

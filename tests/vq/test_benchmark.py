"""benchmarks/vq_vs_vector_quantize_pytorch.py: every contender trains and is measured on the
held-out digits with one definition; without its extra it says so and exits cleanly."""

from __future__ import annotations

import sys

import pytest
import torch

from benchmarks import vq_vs_vector_quantize_pytorch as bench
from vq import load_digits_split

ARGS = ["--steps", "40", "--latent-dim", "2", "--codes", "8", "--chunk", "10", "--levels", "2"]


def test_every_contender_is_measured_on_held_out_digits() -> None:
    pytest.importorskip("vector_quantize_pytorch")
    rows = bench.run(bench.arguments(ARGS))
    names = [r.name for r in rows]
    assert names == [
        "vqp VectorQuantize", "vqp VectorQuantize, expiry 2", "ours VectorQuantizer",
        "vqp ResidualVQ ×2", "ours ResidualVQ ×2",
    ]  # fmt: skip
    for r in rows:
        assert len(r.levels) == (2 if "Residual" in r.name else 1), r.name
        assert 0 < r.utilization <= 1 and 1 <= r.perplexity <= 8, r.name
        assert r.recon_quality < 1 and -1 <= r.topographic_correlation <= 1
        assert r.steps_per_second > 0
        active = sum(lv["active"] for lv in r.levels)
        assert r.utilization == pytest.approx(active / (8 * len(r.levels)))


def test_evaluation_counts_the_codes_held_out_digits_choose() -> None:
    """A contender whose quantizer sends every held-out digit to code 3 uses 1 of 8 codes."""
    data = load_digits_split(seed=0)
    enc, dec = bench._autoencoder(2, 0)
    codebook = torch.randn(8, 2)

    def quantize(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        codes = torch.full((len(z), 1), 3)
        return codebook[codes[:, 0]], codes

    c = bench.Contender("fixed", enc, dec, torch.nn.Identity(), lambda x, i: None, quantize,
                        lambda: [codebook])  # fmt: skip
    figures = bench.evaluate(c, data.val)
    assert figures["utilization"] == pytest.approx(1 / 8)
    assert figures["perplexity"] == pytest.approx(1.0)
    assert figures["levels"] == [
        {"active": 1, "orthogonality": pytest.approx(float("nan"), nan_ok=True)}
    ]


def test_main_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("vector_quantize_pytorch")
    assert bench.main(ARGS) == 0
    out = capsys.readouterr().out
    assert "40 steps" in out and "held-out" in out
    assert "ours ResidualVQ ×2" in out and "vqp ResidualVQ ×2" in out


def test_without_vector_quantize_pytorch_it_says_so_and_exits_cleanly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "vector_quantize_pytorch", None)  # import raises
    assert bench.main(["--steps", "10"]) == 0
    err = capsys.readouterr().err
    assert "vector-quantize-pytorch is not installed" in err and "bench" in err

"""benchmarks/vq_vs_vector_quantize_pytorch.py runs, prints one table, and needs its extra."""

from __future__ import annotations

import sys

import pytest

from benchmarks import vq_vs_vector_quantize_pytorch as bench


def test_prints_one_row_per_contender(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("vector_quantize_pytorch")
    args = ["--steps", "40", "--latent-dim", "2", "--codes", "8", "--chunk", "10"]
    assert bench.main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line[:32].strip(): line[32:].split() for line in lines[2:]}
    assert set(rows) == {"vqp defaults", "vqp dead-code expiry (2)", "ours + dopesheet"}
    for name, (util, ppl, quality, sps, _ratio) in rows.items():
        assert 0 < float(util) <= 1 and 1 <= float(ppl) <= 8, name
        assert float(quality) < 1 and float(sps) > 0
    assert rows["vqp defaults"][4] == "1.00"
    assert "40 steps" in lines[0]


def test_without_vector_quantize_pytorch_it_says_so_and_exits_cleanly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "vector_quantize_pytorch", None)  # import raises
    assert bench.main(["--steps", "10"]) == 0
    err = capsys.readouterr().err
    assert "vector-quantize-pytorch is not installed" in err and "bench" in err

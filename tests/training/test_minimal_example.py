"""The 20-line user script runs and learns."""

from __future__ import annotations

import json

from examples import minimal


def test_minimal_example_trains_and_writes_outputs(tmp_path, capsys):
    mse = minimal.main(str(tmp_path))
    assert mse < 0.2  # sin(2x) has variance 0.5: the model learned most of it
    assert "validation mse" in capsys.readouterr().out
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 601
    assert json.loads(lines[-1])["phase"] == "main"
    assert (tmp_path / "checkpoints").is_dir()

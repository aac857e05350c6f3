"""benchmarks/categorical_speed.py runs both loops on the same work and prints the ratio."""

from __future__ import annotations

import pytest

from benchmarks import categorical_speed as bench


def test_prints_the_ratio_and_steps_per_second(capsys: pytest.CaptureFixture[str]) -> None:
    out = bench.main(["--steps", "30", "--rounds", "1", "--eval-every", "10"])
    text = capsys.readouterr().out
    assert "ratio trainer/bare" in text and "static" in text
    assert out["ratio"] > 0 and out["bare_sps"] > 0 and out["static_sps"] > 0


def test_the_bare_loop_trains_the_same_model_as_the_trainer(tmp_path) -> None:
    """Same schedule, data and seed: the two loops end with the same weights."""
    import torch

    from mini.temporal import Dopesheet, Timeline

    ds = Dopesheet.from_csv(bench.SCHEDULE).scaled(30)
    captured = {}
    original = bench.fresh_run

    def keep(mode, eval_every):
        run = original(mode, eval_every)
        captured.setdefault("runs", []).append(run)
        return run

    bench.fresh_run = keep
    try:
        bench.bare_loop(ds, 10)
        torch.manual_seed(0)
        run = original("learnable", 10)
        run.trainer(Timeline(ds), out_dir=tmp_path, progress=False, seed=None).fit()
    finally:
        bench.fresh_run = original
    bare = captured["runs"][0].model.state_dict()
    ours = run.model.state_dict()
    for key in bare:
        torch.testing.assert_close(bare[key], ours[key], msg=key)

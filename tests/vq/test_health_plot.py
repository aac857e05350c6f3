"""plot_codebook_health draws held-out curves solid and the training window dashed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from vq.viz.plots import plot_codebook_health


def _history(prefixes: tuple[str, ...]) -> pd.DataFrame:
    step = np.arange(0, 100, 10)
    df = pd.DataFrame({"step": step})
    for p, base in zip(prefixes, (10.0, 16.0), strict=False):
        for i in range(2):
            df[f"extras.{p}l{i}/active"] = base - i
            df[f"extras.{p}l{i}/perplexity"] = base - i - 0.5
    return df


def test_held_out_solid_and_training_window_dashed() -> None:
    fig = plot_codebook_health(_history(("vq/", "vq/train/")), [16, 16])
    ax_active, _ = fig.axes
    lines = {line.get_label(): line for line in ax_active.get_lines()}
    assert lines["level 0"].get_linestyle() == "-"
    assert lines["level 0, training window"].get_linestyle() == "--"
    assert np.array_equal(lines["level 1"].get_ydata(), np.full(10, 9.0))  # held-out values
    assert np.array_equal(lines["level 1, training window"].get_ydata(), np.full(10, 15.0))
    assert "held-out" in ax_active.get_ylabel()


def test_training_window_alone_when_there_was_no_validation_split() -> None:
    fig = plot_codebook_health(_history(("vq/train/",)), [16, 16])
    ax_active, _ = fig.axes
    labels = [line.get_label() for line in ax_active.get_lines() if "level" in line.get_label()]
    assert labels == ["level 0", "level 1"]
    assert "training window" in ax_active.get_ylabel()

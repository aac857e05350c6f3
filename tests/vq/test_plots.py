"""vq.viz.plots: the codebook-health and reconstruction figures (the video: test_video.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from vq.viz.plots import class_examples, plot_codebook_health, plot_reconstructions


def _history(levels: int = 2, steps: int = 100, every: int = 10) -> pd.DataFrame:
    step = np.arange(steps)
    df = pd.DataFrame({"step": step, "losses.recon": np.linspace(1.0, 0.1, steps)})
    logged = step % every == 0
    for i in range(levels):
        df[f"extras.vq/l{i}/active"] = np.where(logged, 16 - i - step // 50, np.nan)
        df[f"extras.vq/l{i}/perplexity"] = np.where(logged, 10.0 + i, np.nan)
    return df


def test_health_plot_draws_active_and_perplexity_per_level() -> None:
    fig = plot_codebook_health(
        _history(), [16, 16], phase_starts=[(0, "A"), (50, "B")], refresh_steps=[50]
    )
    ax_active, ax_ppl = fig.axes
    for ax, key in ((ax_active, "active"), (ax_ppl, "perplexity")):
        curves = [line for line in ax.get_lines() if line.get_label().startswith("level")]
        assert [c.get_label() for c in curves] == ["level 0", "level 1"]
        x, y = curves[1].get_data()
        assert list(x) == list(range(0, 100, 10))  # only the logged steps
        expected = _history()[f"extras.vq/l1/{key}"].dropna().to_numpy()
        assert np.array_equal(y, expected)


def test_health_plot_needs_monitor_columns_and_matching_sizes() -> None:
    with pytest.raises(ValueError, match="HealthMonitor"):
        plot_codebook_health(pd.DataFrame({"step": [0, 1]}), [16])
    with pytest.raises(ValueError, match="1 codebook sizes for 2 levels"):
        plot_codebook_health(_history(), [16])


def test_reconstructions_grid_alternates_input_and_output_rows() -> None:
    x = torch.rand(12, 64)
    y = 1 - x
    fig = plot_reconstructions(x, y, columns=5)
    axes = np.array(fig.axes).reshape(6, 5)  # 3 pairs of rows for 12 images
    first_input = axes[0, 0].get_images()[0].get_array()
    first_recon = axes[1, 0].get_images()[0].get_array()
    assert np.allclose(first_input, x[0].reshape(8, 8).numpy())
    assert np.allclose(first_recon, y[0].reshape(8, 8).numpy())
    third_pair = axes[4, 1].get_images()[0].get_array()  # image 11 = row pair 2, column 1
    assert np.allclose(third_pair, x[11].reshape(8, 8).numpy())
    assert not axes[4, 2].get_images()  # only 12 images
    with pytest.raises(ValueError, match="reconstructions"):
        plot_reconstructions(x, y[:5])


def test_class_examples_orders_by_round_then_class() -> None:
    labels = torch.tensor([1, 0, 1, 2, 0, 2, 1])
    assert class_examples(labels, per_class=2).tolist() == [1, 0, 3, 4, 2, 5]
    assert class_examples(labels, per_class=1).tolist() == [1, 0, 3]

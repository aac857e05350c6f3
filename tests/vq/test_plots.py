"""vq.plots and vq.video: health and reconstruction figures, projection and composite codes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mini.render import LatentAnimation
from mini.temporal import Dopesheet, realize
from vq.plots import class_examples, plot_codebook_health, plot_reconstructions
from vq.video import codebook_animation, composite_codes, projection, view_limits


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


def test_projection_is_identity_in_2d_and_principal_axes_otherwise() -> None:
    pts = np.random.default_rng(0).normal(size=(50, 2))
    mean, axes = projection(pts)
    assert np.array_equal((pts - mean) @ axes, pts)
    rng = np.random.default_rng(1)
    wide = rng.normal(size=(400, 6)) * np.array([5.0, 0.1, 3.0, 0.1, 0.1, 0.1]) + 7.0
    mean, axes = projection(wide)
    assert axes.shape == (6, 2)
    assert np.allclose(axes.T @ axes, np.eye(2), atol=1e-9)
    assert abs(axes[0, 0]) > 0.99 and abs(axes[2, 1]) > 0.99  # the two widest directions
    flat = (wide - mean) @ axes
    assert np.allclose(flat.mean(0), 0, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 3))
def test_composite_point_i_k1_plus_j_is_code_i_plus_code_j(k0: int, k1: int, frames: int) -> None:
    rng = np.random.default_rng(k0 * 31 + k1)
    a, b = rng.normal(size=(frames, k0, 3)), rng.normal(size=(frames, k1, 3))
    c = composite_codes(a, b)
    assert c.shape == (frames, k0 * k1, 3)
    for i in range(k0):
        for j in range(k1):
            assert np.allclose(c[:, i * k1 + j], a[:, i] + b[:, j])


def test_view_limits_ignore_rare_outliers_and_non_finite_points() -> None:
    rng = np.random.default_rng(0)
    pts = rng.uniform(-1, 1, size=(20, 100, 2))
    pts[0, 0] = (1e6, -1e6)
    pts[1, 1] = (np.nan, np.inf)
    (x0, x1), (y0, y1) = view_limits(pts)
    assert -1.5 < x0 < -0.9 and 0.9 < x1 < 1.5
    assert -1.5 < y0 < -0.9 and 0.9 < y1 < 1.5


def _frames(n_frames: int, levels: int, dim: int, k: int = 4, p: int = 30) -> dict:
    g = torch.Generator().manual_seed(0)
    out = {
        "latents": torch.randn(n_frames, p, dim, generator=g),
        "codes": torch.randint(0, k, (n_frames, p, levels), generator=g).float(),
    }
    for i in range(levels):
        out[f"codebook/{i}"] = torch.randn(n_frames, k, dim, generator=g)
        active = torch.ones(n_frames, k)
        active[:, 0] = 0.0  # code 0 of every level dead
        out[f"active/{i}"] = active
    return out


SHEET = """STEP,PHASE,lr:log,recon,vq-blend,temperature:log
0,Warm-up,1e-3,1,0,1
50,Soft,,,1,1e-4
99,,1e-4,,,
"""


def test_codebook_animation_layers_mark_dead_codes_hollow_and_hide_their_composites() -> None:
    ds = Dopesheet.from_text(SHEET)
    steps = np.array([0, 10, 50, 99])
    frames = _frames(len(steps), levels=2, dim=2)
    labels = torch.arange(30) % 10
    anim = codebook_animation(steps, frames, labels, realize(ds), _history(2), ds, title="t")
    assert isinstance(anim, LatentAnimation)
    points, composites, codes = anim.layers
    assert np.allclose(points.positions, frames["latents"].numpy())
    assert np.allclose(codes.positions, frames["codebook/0"].numpy())
    assert codes.filled.tolist() == [[False, True, True, True]] * 4
    assert composites.positions.shape == (4, 16, 2)
    assert composites.filled[0].tolist() == [False, True, True, True] * 4  # level-1 code 0 dead
    assert composites.visible[0].tolist() == [False] * 4 + [True] * 12  # level-0 code 0 dead
    titles = [p.title for p in anim.panels]
    assert titles == ["lr", "temperature", "knobs", "active codes",
                      "loss (smoothed)"]  # fmt: skip
    assert [c.label for c in anim.panels[3].curves] == ["level 0", "level 1"]


def test_codebook_animation_projects_wide_latents_and_single_levels() -> None:
    ds = Dopesheet.from_text(SHEET)
    steps = np.array([0, 99])
    frames = _frames(2, levels=1, dim=5)
    anim = codebook_animation(steps, frames, torch.arange(30) % 10, realize(ds), _history(1), ds)
    assert len(anim.layers) == 2  # points and level-0 codes, no composites
    mean, axes = projection(frames["latents"][-1].numpy())
    assert np.allclose(anim.layers[1].positions, (frames["codebook/0"].numpy() - mean) @ axes)
    assert anim.xlabel == "PC 1"
    _, update = anim.figure(animated=False)
    assert update(1)  # draws without error


def test_large_codebooks_draw_only_the_composites_the_probe_uses() -> None:
    ds = Dopesheet.from_text(SHEET)
    steps = np.array([0, 50, 99])
    frames = _frames(len(steps), levels=2, dim=2, k=6)
    frames["codes"][0] = float("nan")  # a frame a resumed run never recorded
    labels = torch.arange(30) % 10
    anim = codebook_animation(
        steps, frames, labels, realize(ds), _history(2), ds, max_composites=35
    )
    composites = anim.layers[1]
    assert composites.positions.shape == (3, 30, 2)  # one per probe point, not 36 pairs
    c = frames["codes"][2].long()
    expected = frames["codebook/0"][2][c[:, 0]] + frames["codebook/1"][2][c[:, 1]]
    assert np.allclose(composites.positions[2], expected.numpy())
    assert composites.filled[2].tolist() == (c[:, 1] != 0).tolist()  # level-1 code 0 is dead
    assert composites.visible[:, 0].tolist() == [False, True, True]
    full = codebook_animation(steps, frames, labels, realize(ds), _history(2), ds)
    assert full.layers[1].positions.shape == (3, 36, 2)

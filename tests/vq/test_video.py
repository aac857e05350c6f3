"""vq.viz.video: projection, composite codes, layers, metric panels and the rendered codebook video."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from mini.render import FollowView, LatentAnimation
from mini.render.stamps import StampedText
from mini.temporal import Dopesheet, realize
from vq.viz.video import codebook_animation, composite_codes, metric_panels, projection

SHEET = """STEP,PHASE,lr:log,recon,vq-blend,temperature:log
0,Warm-up,1e-3,1,0,1
50,Soft,,,1,1e-4
99,,1e-4,,,
"""


def _history(levels: int = 2, steps: int = 100, every: int = 10, *, held_out: bool = True):
    """A metrics history as the trainer returns it: health-monitor extras every ``every``."""
    step = np.arange(steps)
    df = pd.DataFrame({"step": step, "losses.recon": np.linspace(1.0, 0.1, steps)})
    logged = step % every == 0

    def at(values: np.ndarray | float) -> np.ndarray:
        return np.where(logged, values, np.nan)

    for i in range(levels):
        df[f"extras.vq/l{i}/active"] = at(16 - i - step // 50)
        df[f"extras.vq/l{i}/perplexity"] = at(10.0 + i)
        if held_out:
            df[f"extras.vq/l{i}/utilization"] = at((16 - i - step // 50) / 16)
    if held_out:  # as the monitor logs them: plain names held-out, training under vq/train/
        df["extras.vq/train/utilization"] = at(1.0)
        df["extras.vq/utilization"] = at(0.9)
        df["extras.vq/recon_quality"] = at(np.linspace(-1.0, 0.95, steps))
        df["extras.vq/topographic"] = at(0.8)
        df["extras.vq/orthogonality"] = at(0.3)
    return df


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


def _animation(frames: dict, steps: np.ndarray, levels: int = 2, **kwargs) -> LatentAnimation:
    ds = Dopesheet.from_text(SHEET)
    labels = torch.arange(frames["latents"].shape[1]) % 10
    return codebook_animation(
        steps, frames, labels, realize(ds), _history(levels), ds, title="t", **kwargs
    )


def _notes(anim: LatentAnimation) -> list[str]:
    """The latent panel's corner note in every frame (drawn through a full redraw)."""
    fig, update = anim.figure(animated=False)
    ax = fig.axes[0]
    (note,) = [a for a in ax.artists if isinstance(a, StampedText)]
    out = []
    for i in range(len(anim)):
        update(i)
        out.append(note.get_text() if note.get_visible() else "")
    return out


# -- projection -----------------------------------------------------------------------------------


def test_projection_is_identity_in_2d_and_principal_axes_otherwise() -> None:
    pts = np.random.default_rng(0).normal(size=(50, 2))
    mean, axes = projection(pts, np.ones((4, 2)))
    assert np.array_equal((pts - mean) @ axes, pts)
    rng = np.random.default_rng(1)
    wide = rng.normal(size=(400, 6)) * np.array([5.0, 0.1, 3.0, 0.1, 0.1, 0.1]) + 7.0
    mean, axes = projection(wide)
    assert axes.shape == (6, 2)
    assert np.allclose(axes.T @ axes, np.eye(2), atol=1e-9)
    assert abs(axes[0, 0]) > 0.99 and abs(axes[2, 1]) > 0.99  # the two widest directions
    flat = (wide - mean) @ axes
    assert np.allclose(flat.mean(0), 0, atol=1e-9)


def test_dead_codes_off_the_digits_plane_are_not_projected_onto_them() -> None:
    """A collapse as the hard-codes run has it: the digits spread in a plane, 200 dead codes
    shrunk to one spot far off that plane. Fitted on the digits alone, the spot projects into
    the middle of the digits; fitted on both, it lands where it is: far from them."""
    rng = np.random.default_rng(0)
    digits = np.zeros((300, 8))
    digits[:, :2] = rng.normal(size=(300, 2))
    digits[:, 5] = 3.0  # the digits sit 3 units along dim 5 ...
    dead = rng.normal(scale=0.01, size=(200, 8))  # ... the dead codes near the origin
    true_gap = np.linalg.norm(digits.mean(0) - dead.mean(0))

    def gap(mean: np.ndarray, axes: np.ndarray) -> float:
        return float(
            np.linalg.norm(((digits - mean) @ axes).mean(0) - ((dead - mean) @ axes).mean(0))
        )

    assert gap(*projection(digits)) < 0.1 * true_gap  # squashed onto the digits
    assert gap(*projection(digits, dead)) > 0.9 * true_gap  # drawn where they are
    # Dead codes spread along a direction the digits do not use keep their spread.
    spread = np.zeros((50, 8))
    spread[:, 6] = np.linspace(-4, 4, 50)
    mean, axes = projection(digits, spread)
    assert np.ptp((spread - mean) @ axes, axis=0).max() > 0.9 * 8


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


# -- layers ---------------------------------------------------------------------------------------


def test_layers_split_codes_in_use_and_dead_and_hide_dead_composites() -> None:
    steps = np.array([0, 10, 50, 99])
    frames = _frames(len(steps), levels=2, dim=2)
    anim = _animation(frames, steps)
    digits, composites, in_use, dead = anim.layers
    assert np.allclose(digits.positions, frames["latents"].numpy())
    assert np.allclose(in_use.positions, frames["codebook/0"].numpy())
    assert np.array_equal(dead.positions, in_use.positions)
    assert in_use.visible.tolist() == [[False, True, True, True]] * 4
    assert dead.visible.tolist() == [[True, False, False, False]] * 4
    assert dead.filled is False and "dead" in dead.offscreen
    assert composites.positions.shape == (4, 16, 2)
    assert composites.filled[0].tolist() == [False, True, True, True] * 4  # level-1 code 0 dead
    assert composites.visible[0].tolist() == [False] * 4 + [True] * 12  # level-0 code 0 dead
    # Codes are drawn over the digits but smaller, so the digits stay visible.
    assert min(digits.zorder, 10) < composites.zorder < in_use.zorder
    assert composites.size < digits.size and in_use.size < 40
    assert _notes(anim)[0].startswith("level 0: 3 of 4 codes in use,\n1 dead (training usage")


def test_wide_latents_are_projected_and_single_levels_have_no_composites() -> None:
    steps = np.array([0, 99])
    frames = _frames(2, levels=1, dim=5)
    anim = _animation(frames, steps, levels=1)
    assert len(anim.layers) == 3  # digits, codes in use, dead codes
    mean, axes = projection(frames["latents"][-1].numpy(), frames["codebook/0"][-1].numpy())
    assert np.allclose(anim.layers[1].positions, (frames["codebook/0"].numpy() - mean) @ axes)
    assert anim.xlabel.startswith("PC 1")
    _, update = anim.figure(animated=False)
    assert update(1)  # draws without error


def test_large_codebooks_draw_only_the_composites_the_probe_uses() -> None:
    steps = np.array([0, 50, 99])
    frames = _frames(len(steps), levels=2, dim=2, k=6)
    frames["codes"][0] = float("nan")  # a frame a resumed run never recorded
    anim = _animation(frames, steps, max_composites=35)
    composites = anim.layers[1]
    assert composites.positions.shape == (3, 30, 2)  # one per probe point, not 36 pairs
    c = frames["codes"][2].long()
    expected = frames["codebook/0"][2][c[:, 0]] + frames["codebook/1"][2][c[:, 1]]
    assert np.allclose(composites.positions[2], expected.numpy())
    assert composites.filled[2].tolist() == (c[:, 1] != 0).tolist()  # level-1 code 0 is dead
    assert composites.visible[:, 0].tolist() == [False, True, True]
    full = _animation(frames, steps)
    assert full.layers[1].positions.shape == (3, 36, 2)


# -- the view -------------------------------------------------------------------------------------


def test_axes_follow_the_digits_and_far_dead_codes_are_counted_off_screen() -> None:
    """The digits grow from a tiny blob and drift; a clump of dead codes sits beside them, three
    more far away: the view follows the digits (not one box for the whole run), keeps the
    clump in the picture and counts the far ones."""
    n, p = 40, 60
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, n)[:, None, None]
    latents = rng.normal(size=(1, p, 2)) * (0.01 + t) + np.array([4.0, 1.0]) * t
    codebook = np.zeros((n, 12, 2))
    codebook[:, :1] = latents[:, :1]  # code 0 in use, on a digit
    scale = 0.01 + t  # the digits' spread per frame: the clump sits just beside them
    codebook[:, 1:9] = latents.mean(1, keepdims=True) + scale * np.array([3.5, 0.0])
    codebook[:, 9:] = np.array([[500.0, 0.0], [0.0, -500.0], [-500.0, 500.0]])
    active = np.zeros((n, 12))
    active[:, 0] = 1.0
    frames = {
        "latents": torch.tensor(latents, dtype=torch.float32),
        "codes": torch.zeros(n, p, 1),
        "codebook/0": torch.tensor(codebook, dtype=torch.float32),
        "active/0": torch.tensor(active, dtype=torch.float32),
    }
    anim = _animation(frames, np.arange(n) * 2, levels=1)
    assert isinstance(anim.view, FollowView)
    fig, update = anim.figure(animated=False)
    ax = fig.axes[0]
    widths = []
    for i in range(n):
        update(i)
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        widths.append(x1 - x0)
        pts = latents[i]
        inside = (pts[:, 0] >= x0) & (pts[:, 0] <= x1) & (pts[:, 1] >= y0) & (pts[:, 1] <= y1)
        assert inside.mean() >= 0.95, f"frame {i}: digits out of view"
        assert np.all(codebook[i, 1:9] >= (x0, y0)) and np.all(codebook[i, 1:9] <= (x1, y1))
    assert widths[0] < widths[-1] / 4  # zoomed in on the early blob
    notes = _notes(anim)
    assert all(note.endswith("3 dead codes off-screen") for note in notes)


def test_metric_panels_are_picked_from_the_history_columns() -> None:
    panels = metric_panels(_history(2))
    assert [p.title for p in panels] == [
        "quality (held-out)", "utilization (held-out)", "perplexity (held-out)",
    ]  # fmt: skip
    quality, utilization, perplexity = panels
    assert [c.label for c in quality.curves] == ["reconstruction", "topographic", "orthogonality"]
    assert [c.label for c in utilization.curves] == ["all levels", "level 0", "level 1"]
    assert [c.label for c in perplexity.curves] == ["level 0", "level 1"]
    assert quality.ylim == utilization.ylim == (-0.05, 1.05)
    assert list(quality.curves[0].x) == list(range(0, 100, 10))  # only the logged steps
    # An older run: its plain names were training values; codes in use but no utilization.
    old = metric_panels(_history(2, held_out=False))
    assert [p.title for p in old] == ["perplexity (training)", "codes in use (training)"]
    # Columns that are missing, or present but never logged, get no panel.
    empty = _history(1)
    empty["extras.vq/orthogonality"] = np.nan
    empty = empty.drop(columns=["extras.vq/l0/perplexity", "extras.vq/topographic"])
    panels = metric_panels(empty)
    assert [p.title for p in panels] == ["quality (held-out)", "utilization (held-out)"]
    assert [c.label for c in panels[0].curves] == ["reconstruction"]
    assert metric_panels(pd.DataFrame({"step": [0, 1]})) == []


def test_video_panels_include_the_metrics_and_the_schedule() -> None:
    anim = _animation(_frames(3, levels=2, dim=2), np.array([0, 50, 99]))
    assert [p.title for p in anim.panels] == [
        "lr", "temperature", "knobs", "quality (held-out)", "utilization (held-out)",
        "perplexity (held-out)", "train loss (smoothed)",
    ]  # fmt: skip


@pytest.mark.slow
def test_rendered_video_and_last_frame_png(tmp_path: Path) -> None:
    steps = np.array([0, 10, 50, 99])
    anim = _animation(_frames(len(steps), levels=2, dim=3), steps)
    stats = anim.render(
        tmp_path / "codebook.mp4", progress=False, last_frame=tmp_path / "latest.png"
    )
    assert stats.frames == len(steps)
    image = Image.open(tmp_path / "latest.png")
    assert image.size == anim.size and image.mode == "RGB"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["codebook.mp4", "latest.png"]

"""The following view: per-frame limits that keep the points in sight and move smoothly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mini.render import FollowView, follow_limits, within_reach


def cloud(centres: np.ndarray, scales: np.ndarray, n: int = 200, seed: int = 0) -> np.ndarray:
    """``(frames, n, 2)``: a Gaussian cloud per frame around ``centres`` with ``scales``."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 2))
    return centres[:, None, :] + scales[:, None, None] * base[None]


def sizes(limits: np.ndarray) -> np.ndarray:
    return limits[..., 1] - limits[..., 0]  # (frames, 2)


def centres(limits: np.ndarray) -> np.ndarray:
    return limits.mean(axis=-1)


def test_limits_follow_a_moving_growing_cloud_without_jumps() -> None:
    n = 120
    t = np.linspace(0, 1, n)
    path = np.stack([10 * t**2, -5 * t**3], axis=1)  # slow early, like training
    pts = cloud(path, 0.02 + 3 * t**2)
    view = FollowView()
    lim = follow_limits([pts], [None], view)
    assert lim.shape == (n, 2, 2)
    for i in range(n):
        inside = ((pts[i] >= lim[i, :, 0]) & (pts[i] <= lim[i, :, 1])).all(axis=1)
        assert inside.mean() >= 0.97, f"frame {i}: only {inside.mean():.0%} of the cloud in view"
    size = sizes(lim)
    ratio = size[1:] / size[:-1]
    assert np.all(ratio <= view.max_zoom + 1e-9) and np.all(ratio >= 1 / view.max_zoom - 1e-9)
    pan = np.abs(np.diff(centres(lim), axis=0)) / size[1:]
    assert pan.max() <= view.max_pan + 1e-9
    # The early, tiny cloud fills the view instead of being a blob in the late, huge box.
    spread0 = np.ptp(pts[0], axis=0)
    assert np.all(size[0] < 6 * spread0)
    assert np.all(size[-1] > 0.8 * np.ptp(pts[-1], axis=0))


def test_a_teleporting_cloud_gives_a_smooth_view() -> None:
    n = 80
    where = np.where(np.arange(n)[:, None] < 40, [[0.0, 0.0]], [[50.0, 20.0]])
    pts = cloud(where, np.ones(n))
    view = FollowView(quantile=0.0)
    lim = follow_limits([pts], [None], view)
    size = sizes(lim)
    assert np.all(size[1:] / size[:-1] <= view.max_zoom + 1e-9)
    assert np.all(np.abs(np.diff(centres(lim), axis=0)) <= view.max_pan * size[1:] + 1e-9)
    # quantile 0: every point of every frame is in view
    for i in range(n):
        assert np.all(pts[i] >= lim[i, :, 0]) and np.all(pts[i] <= lim[i, :, 1])
    # Far from the jump the view settles back on the cloud (not a box around both places).
    assert np.all(size[5] < 2 * (1 + 2 * view.margin) * np.ptp(pts[5], axis=0))


def test_only_followed_points_steer_the_view() -> None:
    n = 10
    near = cloud(np.zeros((n, 2)), np.ones(n))
    far = np.full((n, 3, 2), 1000.0)
    follow_near = [None, np.zeros(3, dtype=bool)]
    lim = follow_limits([near, far], follow_near, FollowView())
    assert np.all(lim[..., 1] < 100)
    per_frame = np.zeros((n, 3), dtype=bool)
    per_frame[5:] = True  # the far points count from frame 5 on
    lim = follow_limits([near, far], [None, per_frame], FollowView(quantile=0.0))
    assert np.all(lim[5:, :, 1] >= 1000)
    assert np.all(lim[0, :, 1] < 1000)  # zoomed out ahead of time, but not all the way


def test_equal_aspect_and_frames_with_nothing_to_follow() -> None:
    n = 6
    pts = cloud(np.zeros((n, 2)), np.ones(n)) * np.array([4.0, 1.0])
    pts[2] = np.nan  # nothing recorded in frame 2
    lim = follow_limits([pts], [None], FollowView(), aspect=0.5)
    size = sizes(lim)
    assert size[:, 1] / size[:, 0] == pytest.approx(np.full(n, 0.5))
    assert np.all(np.isfinite(lim))
    none = follow_limits([pts], [np.zeros((n, 200), dtype=bool)], FollowView())
    assert np.all(np.isfinite(none)) and np.all(sizes(none) > 0)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(-100, 100), st.floats(-100, 100), st.floats(1e-3, 50), st.integers(1, 30)
        ),
        min_size=2,
        max_size=30,
    )
)
def test_views_never_jump_and_always_cover_the_points(
    frames: list[tuple[float, float, float, int]],
) -> None:
    """Random clouds (any centre, scale and point count per frame): zoom and pan per frame stay
    bounded and with ``quantile=0`` every point is in view."""
    rng = np.random.default_rng(len(frames))
    n_points = max(k for *_, k in frames)
    pts = np.full((len(frames), n_points, 2), np.nan)
    for i, (x, y, scale, k) in enumerate(frames):
        pts[i, :k] = np.array([x, y]) + scale * rng.normal(size=(k, 2))
    view = FollowView(quantile=0.0)
    lim = follow_limits([pts], [None], view)
    size = sizes(lim)
    assert np.all(size > 0)
    assert np.all(size[1:] / size[:-1] <= view.max_zoom * (1 + 1e-9))
    assert np.all(size[1:] / size[:-1] >= 1 / view.max_zoom * (1 - 1e-9))
    pan = np.abs(np.diff(centres(lim), axis=0))
    assert np.all(pan <= view.max_pan * np.minimum(size[1:], size[:-1]) * (1 + 1e-9) + 1e-12)
    for i in range(len(frames)):
        p = pts[i][np.isfinite(pts[i]).all(axis=1)]
        assert np.all(p >= lim[i, :, 0] - 1e-9) and np.all(p <= lim[i, :, 1] + 1e-9)


@pytest.mark.parametrize(
    "kwargs", [{"quantile": 0.5}, {"max_zoom": 1.0}, {"margin": -1}, {"max_pan": 0}]
)
def test_rejects_bad_settings(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        FollowView(**kwargs)


def test_within_reach_marks_points_near_the_reference_box() -> None:
    reference = cloud(np.zeros((2, 2)), np.array([1.0, 10.0]))  # box ≈ ±2.3, then ±23
    points = np.broadcast_to(np.array([[0.0, 0.0], [5.0, 0.0], [40.0, 0.0]]), (2, 3, 2))
    near = within_reach(points, reference, reach=1.0)
    assert near.tolist() == [[True, True, False], [True, True, True]]
    assert within_reach(points, reference, reach=0.0)[0].tolist() == [True, False, False]
    nothing = np.full((2, 5, 2), np.nan)  # no reference points recorded: nothing is near
    assert not within_reach(points, nothing).any()

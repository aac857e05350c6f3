"""A camera for the latent panel: per-frame axis limits that follow the points smoothly.

A fixed box sized for the whole run shows an early, small cloud as one blob and a late, wide one
cropped. Following the raw per-frame bounding box instead makes the picture jump. The camera
here takes a robust box per frame (quantiles of the points it follows), smooths its centre over
time, and lets its size change by at most a set factor per frame while still always covering
what it must (the tightest such envelope, then softened). Everything is computed up front from
the recorded positions, so rendering stays a lookup per frame.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FollowView:
    """How the latent panel's limits follow the data (``LatentAnimation(view=FollowView())``).

    Attributes:
        quantile: the box per frame spans the ``quantile`` … ``1 - quantile`` quantiles of the
            followed points on each axis (a few stragglers do not zoom the view out).
        margin: extra room on each side, as a fraction of that box.
        smoothing: the centre's Gaussian smoothing over frames (standard deviation, in frames).
        max_zoom: the view's size changes by at most this factor from one frame to the next.
        max_pan: its centre moves by at most this fraction of its size per frame (the view
            zooms out rather than whip-pan).
        min_size: the smallest width/height shown.
    """

    quantile: float = 0.01
    margin: float = 0.12
    smoothing: float = 4.0
    max_zoom: float = 1.06
    max_pan: float = 0.1
    min_size: float = 1e-3

    def __post_init__(self) -> None:
        if not 0.0 <= self.quantile < 0.5:
            raise ValueError(f"quantile must be in [0, 0.5), got {self.quantile}")
        if self.margin < 0 or self.smoothing < 0 or self.min_size <= 0 or self.max_pan <= 0:
            raise ValueError("margin and smoothing must be >= 0, max_pan and min_size > 0")
        if not self.max_zoom > 1.0:
            raise ValueError(f"max_zoom must be > 1 (the view must be able to grow), got {self}")


def follow_limits(
    positions: Sequence[np.ndarray],
    follow: Sequence[np.ndarray | None],
    view: FollowView,
    *,
    aspect: float | None = None,
) -> np.ndarray:
    """Per-frame limits ``(frames, 2, 2)``: ``[frame, 0] = (x0, x1)``, ``[frame, 1] = (y0, y1)``.

    ``positions``: per layer ``(frames, points, 2)`` (or ``(points, 2)`` for points that do
    not move); ``follow``: per layer a boolean mask ``(frames, points)`` of the points the view
    follows, or ``None`` for all of them. Non-finite points are ignored. With ``aspect``
    (the panel's height / width in pixels) one data unit is as long on both axes.

    Args:
        positions: per layer, ``(frames, points, 2)`` or ``(points, 2)``.
        follow: per layer, a mask ``(frames, points)`` of the followed points (``None``: all).
        view: how the limits follow.
        aspect: the panel's height / width in pixels, for equal data units on both axes.
    """
    n_frames = max((len(p) for p in positions if np.ndim(p) == 3), default=1)
    lo = np.full((n_frames, 2), np.nan)
    hi = np.full((n_frames, 2), np.nan)
    for i in range(n_frames):
        chunks = []
        for pos, mask in zip(positions, follow, strict=True):
            at = pos[i] if np.ndim(pos) == 3 else pos
            keep = np.isfinite(at).all(axis=1)
            if mask is not None:
                keep &= mask[i] if mask.ndim == 2 else mask
            chunks.append(at[keep])
        pts = np.concatenate(chunks) if chunks else np.zeros((0, 2))
        if len(pts):
            lo[i], hi[i] = np.quantile(pts, [view.quantile, 1 - view.quantile], axis=0)
    empty = np.isnan(lo[:, 0])
    if empty.all():
        lo[:], hi[:] = -1.0, 1.0
    elif empty.any():  # frames with nothing to follow keep the nearest frame's box
        idx = np.arange(n_frames)
        full = idx[~empty]
        nearest = full[np.abs(idx[:, None] - full[None, :]).argmin(axis=1)]
        lo, hi = lo[nearest], hi[nearest]

    centre = np.stack([_smooth(c, view.smoothing) for c in ((lo + hi) / 2).T], axis=1)
    # Half-size needed around the smoothed centre (a lagging centre asks for a bigger view).
    need = np.maximum(hi - centre, centre - lo) * (1 + 2 * view.margin)
    need = np.maximum(need, view.min_size / 2)
    # A view of half-size h pans at most max_pan * 2h per frame: fast moves widen the view.
    step = np.abs(np.diff(centre, axis=0)) / (2 * view.max_pan)
    need[1:] = np.maximum(need[1:], step)
    need[:-1] = np.maximum(need[:-1], step)
    rate = float(np.log(view.max_zoom))
    log_half = np.stack([_soft_envelope(np.log(n), rate) for n in need.T], axis=1)
    if aspect is not None:  # equal data units on both axes: widen the narrower side
        log_aspect = float(np.log(aspect))
        x = np.maximum(log_half[:, 0], log_half[:, 1] - log_aspect)
        log_half = np.stack([x, x + log_aspect], axis=1)
    half = np.exp(log_half)
    return np.stack([centre - half, centre + half], axis=2)


def _smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing over frames; the ends are held (no pull towards zero)."""
    if sigma <= 0 or len(values) < 2:
        return values.astype(float)
    radius = int(np.ceil(3 * sigma))
    t = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (t / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(values.astype(float), radius, mode="edge")
    return np.convolve(padded, kernel, mode="valid")


def _envelope(values: np.ndarray, rate: float) -> np.ndarray:
    """The smallest curve ``>= values`` that changes by at most ``rate`` per frame."""
    out = values.astype(float).copy()
    for i in range(1, len(out)):
        out[i] = max(out[i], out[i - 1] - rate)
    for i in range(len(out) - 2, -1, -1):
        out[i] = max(out[i], out[i + 1] - rate)
    return out


def _soft_envelope(values: np.ndarray, rate: float) -> np.ndarray:
    """:func:`_envelope` with its corners rounded: a moving average keeps the rate bound, and
    starting from ``values`` raised by the average's worst dip keeps it above ``values``."""
    width = 5
    envelope = _envelope(values, rate)
    # A moving average of a rate-bounded curve is rate-bounded, and at most rate times the mean
    # distance to the window's centre below it: lift it by that much.
    lifted = envelope + rate * float(np.abs(np.arange(width) - width // 2).mean())
    padded = np.pad(lifted, width // 2, mode="edge")
    return np.convolve(padded, np.ones(width) / width, mode="valid")


def within_reach(
    points: np.ndarray, reference: np.ndarray, reach: float = 1.0, quantile: float = 0.01
) -> np.ndarray:
    """Which of ``points`` ``(frames, n, 2)`` lie, per frame, within ``reach`` box-sizes of the
    ``quantile`` box of ``reference`` ``(frames, m, 2)``: a ``(frames, n)`` mask for a layer's
    ``follow``, so that secondary points near the main ones widen the view a little but far
    stragglers do not (they are counted off-screen instead).

    Args:
        points: ``(frames, n, 2)``.
        reference: ``(frames, m, 2)``, the main points.
        reach: in sizes of the reference's box.
        quantile: the reference box's quantile.
    """
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a frame with no reference points
        lo = np.nanquantile(reference, quantile, axis=1)  # (frames, 2); NaN if none recorded
        hi = np.nanquantile(reference, 1 - quantile, axis=1)
    room = reach * (hi - lo)
    lo, hi = (lo - room)[:, None, :], (hi + room)[:, None, :]
    with np.errstate(invalid="ignore"):
        return ((points >= lo) & (points <= hi)).all(axis=-1)

"""Summary figures of a trained colour autoencoder, each a small function on colours/latents.

These define the quality numbers in ``summary.json``: reconstruction error on the RGB grid, the
hue order of the primaries and secondaries around the origin of dims 0/1, how close the hue ring
lies to the unit circle, and how far the anchored colours drifted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

HUE_GAP_MIN_DEG = 30.0
HUE_GAP_MAX_DEG = 90.0


def recon_mse(inputs: Tensor, outputs: Tensor) -> float:
    """Mean squared error over every colour and channel.

    Args:
        inputs: the colours.
        outputs: their reconstructions.
    """
    return float(torch.mean((outputs.detach().float() - inputs.detach().float()) ** 2))


@dataclass(frozen=True)
class HueOrder:
    """Angle gaps (degrees) between consecutive hues, in the direction that winds once around
    the origin; ``ok`` when every gap is within [30°, 90°] (six hues, ideally 60° apart).

    Attributes:
        gaps_deg: the angle gaps, in degrees.
        ok: every gap is within [30°, 90°].
    """

    gaps_deg: tuple[float, ...]
    ok: bool


def hue_order(
    latents: Tensor | np.ndarray,
    dims: tuple[int, int] = (0, 1),
    min_gap: float = HUE_GAP_MIN_DEG,
    max_gap: float = HUE_GAP_MAX_DEG,
) -> HueOrder:
    """Are the colours, given in hue order (red, yellow, green, cyan, blue, magenta), laid out
    in that order around the origin of ``dims``, clockwise or anticlockwise?

    Gaps are (θᵢ₊₁ − θᵢ) mod 360 going round the list and back to the first colour; the mirrored
    direction uses 360 − gap. The direction whose gaps sum to one lap is reported (forward on a
    tie); gaps of a point at the origin are undefined and make ``ok`` false.

    Args:
        latents: the six hues' latents, in hue order.
        dims: the two latent dims to look at.
        min_gap: the smallest acceptable gap, in degrees.
        max_gap: the largest.
    """
    z = np.asarray(latents.detach().cpu() if isinstance(latents, Tensor) else latents, float)
    x, y = z[:, dims[0]], z[:, dims[1]]
    theta = np.degrees(np.arctan2(y, x))
    forward = np.mod(np.roll(theta, -1) - theta, 360.0)
    backward = np.mod(-(np.roll(theta, -1) - theta), 360.0)
    gaps = forward if forward.sum() <= backward.sum() + 1e-9 else backward
    at_origin = bool(np.any(np.hypot(x, y) < 1e-12))
    ok = not at_origin and bool(np.all((gaps >= min_gap) & (gaps <= max_gap)))
    return HueOrder(tuple(float(g) for g in gaps), ok)


def ring_norm_error(latents: Tensor) -> float:
    """Mean |‖z‖ − 1| of the given latents (those of the hue ring: pure, bright hues).

    Args:
        latents: the hue ring's latents.
    """
    norms = torch.linalg.vector_norm(latents.detach().float(), dim=-1)
    return float(torch.mean(torch.abs(norms - 1.0)))


def anchor_drift(captured: Tensor, final: Tensor) -> float:
    """Mean Euclidean distance between the anchored latents and the same colours' latents now.

    Args:
        captured: the latents when the anchors were captured.
        final: the same colours' latents now.
    """
    d = torch.linalg.vector_norm(final.detach().float() - captured.detach().float(), dim=-1)
    return float(d.mean())

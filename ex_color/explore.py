"""Live-explorer panels for the colour autoencoder (see :mod:`mini.explore.panel`).

- :class:`LatentPanel`: latent dims 0/1 of the 10×10×10 RGB grid, each point in its own
  colour, the six primaries/secondaries ringed, over the unit circle the hue wheel should
  settle on.
- :class:`HueMetricsPanel`: the summary figures of ``summary.json`` as training goes: hue order
  and gaps of the primaries/secondaries, how far the hue ring is from the unit circle, the
  reconstruction error on the grid and, once anchored, the anchors' drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import Tensor

from ex_color.experiment import hue_ring, primaries, rgb_validation_grid
from ex_color.metrics import (
    HUE_GAP_MAX_DEG,
    HUE_GAP_MIN_DEG,
    anchor_drift,
    hue_order,
    recon_mse,
    ring_norm_error,
)
from ex_color.regularizers import Anchor
from mini.explore.svg import Points, esc, limits, scatter_chart

__all__ = ["HueMetricsPanel", "LatentPanel", "panels"]


def _hex(rgb: np.ndarray) -> list[str]:
    c = np.clip(np.round(np.asarray(rgb) * 255), 0, 255).astype(int)
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in c]


@dataclass(frozen=True)
class LatentView:
    grid: np.ndarray  # (N, 2)
    primaries: np.ndarray  # (6, 2)


class LatentPanel:
    """Where the model puts every colour (latent dims 0/1)."""

    title = "latent space: dims 0/1 of the RGB grid"

    def __init__(self, grid: Tensor | None = None):
        self.grid = rgb_validation_grid() if grid is None else grid
        self.colors = _hex(self.grid.numpy())
        self.prims = primaries()
        self.prim_colors = _hex(self.prims.numpy())

    def capture(self, trainer: Any) -> LatentView:
        model = trainer.model
        z = model(self.grid).latents[:, :2].cpu().numpy()
        p = model(self.prims).latents[:, :2].cpu().numpy()
        return LatentView(z.astype(np.float64), p.astype(np.float64))

    def render(self, v: LatentView) -> str:
        unit = np.array([[-1.05, -1.05], [1.05, 1.05]])
        xlim, ylim = limits(unit, v.grid, v.primaries)
        chart = scatter_chart(
            [
                Points(v.grid[:, 0], v.grid[:, 1], self.colors, radius=2.4, opacity=0.9),
                Points(v.primaries[:, 0], v.primaries[:, 1], self.prim_colors, radius=6, outline="#111827"),
            ],
            xlim=xlim, ylim=ylim, width=340, height=340, label=self.title, rings=(1.0,),
        )  # fmt: skip
        return (
            '<div class="mx-sub">ringed: the primaries and secondaries · dashed: unit circle</div>'
            + chart
        )


@dataclass(frozen=True)
class HueMetrics:
    gaps: tuple[float, ...]
    ordered: bool
    ring_error: float
    recon: float
    drift: float | None
    anchored_at: int | None


class HueMetricsPanel:
    """The hue-wheel metrics (``ex_color.metrics``) of the model now."""

    title = "hue wheel"

    def __init__(self, anchor: Anchor | None = None, grid: Tensor | None = None):
        self.anchor = anchor
        self.grid = rgb_validation_grid() if grid is None else grid
        self.prims, self.ring = primaries(), hue_ring()

    def capture(self, trainer: Any) -> HueMetrics:
        model = trainer.model
        order = hue_order(model(self.prims).latents)
        out = model(self.grid).outputs
        drift = None
        a = self.anchor
        if a is not None and a.anchors is not None:
            drift = anchor_drift(a.anchors, model(a.ref_data).latents)
        return HueMetrics(
            order.gaps_deg, order.ok, ring_norm_error(model(self.ring).latents),
            recon_mse(self.grid, out), drift, None if a is None else a.captured_at,
        )  # fmt: skip

    def render(self, m: HueMetrics) -> str:
        ok = '<span class="mx-ok">in order</span>' if m.ordered else '<span class="mx-bad">not in order</span>'  # fmt: skip
        bars = []
        for name, gap in zip(("R→Y", "Y→G", "G→C", "C→B", "B→M", "M→R"), m.gaps, strict=False):
            good = HUE_GAP_MIN_DEG <= gap <= HUE_GAP_MAX_DEG
            width = min(gap / 120.0, 1.0) * 100
            cls = "" if good else ' class="mx-off"'
            bars.append(
                f'<div class="mx-gap"><span>{name}</span><i class="mx-bar"><b{cls} style="width:'
                f'{width:.1f}%"></b></i><span>{gap:.0f}°</span></div>'
            )
        drift = (
            "not anchored yet"
            if m.drift is None
            else f"{m.drift:.4f} (anchored at step {m.anchored_at:,})"
        )
        rows = [
            ("primaries/secondaries", ok),
            ("hue ring: mean |‖z‖ − 1|", f"{m.ring_error:.4f}"),
            ("reconstruction MSE, RGB grid", f"{m.recon:.2e}"),
            ("anchor drift", esc(drift)),
        ]
        table = "".join(
            f'<div class="mx-row mx-row2"><span>{k}</span><span>{v}</span></div>' for k, v in rows
        )
        note = (
            '<div class="mx-sub">gaps between consecutive hues (60° ideal, 30°–90° in order)</div>'
        )
        return f'<div class="mx-metrics">{table}</div>{note}{"".join(bars)}'


def panels(anchor: Anchor | None = None) -> list[Any]:
    """The colour explorer's panels (pass the experiment's anchor to see its drift)."""
    return [LatentPanel(), HueMetricsPanel(anchor)]

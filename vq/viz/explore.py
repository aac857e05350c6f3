"""Live-explorer panels for a VQ autoencoder (see :mod:`mini.explore.panel` for the protocol).

- :class:`CodebookPanel` (one per level): the level's codes — ● active, ○ dead — over what
  the level quantizes (level 0: the encoder outputs; level i: the residuals left by levels
  < i), coloured by digit; 2-D latents as they are, wider ones on their first two principal
  axes; the axes follow the data.
- :class:`ReconstructionPanel`: 8 held-out digits above their reconstructions.
- :class:`HealthPanel`: per level "a/n active" and the perplexity of code use.

A code is dead when it got under 1% of its level's assignments over the quantizer's usage
window (the last 100 training batches by default); for codebooks of more than 25 codes, under
a quarter of the uniform share (1% would call every code of a uniform 256-code book dead).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from mini.explore.svg import PALETTE, Points, esc, image_strip, legend, limits, scatter_chart
from vq.metrics import perplexity
from vq.residual import quantizer_levels
from vq.train.experiment import codebook_probe

__all__ = ["CodebookPanel", "HealthPanel", "Probe", "ReconstructionPanel", "active_codes", "panels"]


def active_codes(counts: Tensor) -> np.ndarray:
    """Which codes are alive: their share of the window's assignments is at least
    ``min(1%, 1 / (4K))``; none before anything was counted."""
    counts = counts.detach().float().cpu()
    total = float(counts.sum())
    if total <= 0:
        return np.zeros(len(counts), dtype=bool)
    floor = min(0.01, 0.25 / len(counts))
    return (counts / total >= floor).numpy()


def _plane(points: np.ndarray, basis: np.ndarray | None) -> np.ndarray:
    return points[:, :2] if basis is None else points @ basis


def _principal_axes(z: np.ndarray) -> np.ndarray | None:
    """The first two principal axes of ``z`` (``None`` for a 2-D latent: drawn as it is)."""
    if z.shape[1] <= 2:
        return None
    _, _, vt = np.linalg.svd(z - z.mean(0), full_matrices=False)
    return vt[:2].T


@dataclass(frozen=True)
class CodebookView:
    points: np.ndarray  # (P, 2) what the level quantizes, projected
    labels: np.ndarray
    codes: np.ndarray  # (K, 2)
    active: np.ndarray  # (K,) bool
    projected: bool


class Probe:
    """:func:`codebook_probe` of the probe digits, shared by every level's panel: the panels of
    one capture round (same trainer and step, within ``fresh_s``) compute it once."""

    def __init__(self, digits: Tensor, fresh_s: float = 0.05):
        self.digits, self.fresh_s = digits, fresh_s
        self._key: tuple[int, int] | None = None
        self._at = -1e9
        self._out: dict[str, Tensor] = {}

    def __call__(self, trainer: Any) -> dict[str, Tensor]:
        key, now = (id(trainer), trainer.current_step), time.perf_counter()
        if key != self._key or now - self._at > self.fresh_s:
            model = trainer.model
            self._out = codebook_probe(model, self.digits.to(next(model.parameters()).device))
            self._key, self._at = key, now
        return self._out


class CodebookPanel:
    """Level ``level``'s codebook over the probe digits' inputs to that level."""

    def __init__(self, probe: Tensor | Probe, labels: Tensor, level: int = 0):
        self.probe = probe if isinstance(probe, Probe) else Probe(probe)
        self.labels, self.level = labels.cpu().numpy(), level
        self.title = f"level {level} codebook"

    def capture(self, trainer: Any) -> CodebookView:
        model = trainer.model
        out = self.probe(trainer)
        z = out["latents"].reshape(len(self.labels), -1)
        residual = z.clone()
        for j in range(self.level):
            residual -= out[f"codebook/{j}"][out["codes"][:, j]]
        level = quantizer_levels(model.quantizer)[self.level]
        r = residual.cpu().numpy().astype(np.float64)
        codes = out[f"codebook/{self.level}"].cpu().numpy().astype(np.float64)
        basis = _principal_axes(r)
        return CodebookView(
            _plane(r - (0 if basis is None else r.mean(0)), basis),
            self.labels,
            _plane(codes - (0 if basis is None else r.mean(0)), basis),
            active_codes(level.usage_counts()),
            basis is not None,
        )

    def render(self, v: CodebookView) -> str:
        xlim, ylim = limits(v.codes, v.points)
        colors = [PALETTE[int(c) % len(PALETTE)] for c in v.labels]
        chart = scatter_chart(
            [
                Points(v.points[:, 0], v.points[:, 1], colors, radius=2.2, opacity=0.7),
                Points(v.codes[~v.active, 0], v.codes[~v.active, 1], "#334155", radius=4.5, hollow=True),
                Points(v.codes[v.active, 0], v.codes[v.active, 1], "#111827", radius=4.5, outline="white"),
            ],
            xlim=xlim, ylim=ylim, label=self.title,
        )  # fmt: skip
        what = "encoder outputs" if self.level == 0 else f"residuals after level {self.level - 1}"
        axes = " · first two principal axes" if v.projected else ""
        n, a = len(v.active), int(v.active.sum())
        sub = f'<div class="mx-sub">{a}/{n} active · {esc(what)} by digit{axes}</div>'
        keys = legend(
            [(str(d), PALETTE[d]) for d in range(10)]
            + [("active", "#111827"), ("dead", "#334155")],
            hollow=[False] * 11 + [True],
        )
        return sub + chart + keys


class ReconstructionPanel:
    """Held-out digits (top) and what the model makes of them (bottom)."""

    title = "held-out digits → reconstructions"

    def __init__(self, digits: Tensor, side: int = 8):
        self.digits, self.side = digits, side

    def capture(self, trainer: Any) -> np.ndarray:
        model = trainer.model
        x = self.digits.to(next(model.parameters()).device)
        recon = model(x).outputs.reshape(len(x), -1)
        both = torch.cat([x.reshape(len(x), -1), recon]).clamp(0, 1).cpu().numpy()
        return both.reshape(-1, self.side, self.side)

    def render(self, images: np.ndarray) -> str:
        return image_strip(images, columns=len(images) // 2, scale=5)


@dataclass(frozen=True)
class LevelHealth:
    active: int
    codes: int
    perplexity: float


class HealthPanel:
    """Per level: active codes and the perplexity of code use over the usage window."""

    title = "codebook health"

    def capture(self, trainer: Any) -> list[LevelHealth]:
        out = []
        for q in quantizer_levels(trainer.model.quantizer):
            counts = q.usage_counts().detach().float().cpu()
            out.append(
                LevelHealth(int(active_codes(counts).sum()), len(counts), perplexity(counts))
            )
        return out

    def render(self, levels: list[LevelHealth]) -> str:
        rows = []
        for i, h in enumerate(levels):
            share = h.active / max(h.codes, 1)
            cls = "mx-ok" if share >= 0.9 else ("mx-bad" if share < 0.5 else "")
            ppl = "–" if np.isnan(h.perplexity) else f"{h.perplexity:.1f}"
            rows.append(
                f'<div class="mx-row"><span>level {i}</span><span class="{cls}">{h.active}/{h.codes}'
                f" active</span><span>perplexity {ppl}</span>"
                f'<i class="mx-bar"><b style="width:{100 * share:.1f}%"></b></i></div>'
            )
        return f'<div class="mx-metrics">{"".join(rows)}</div>'


def panels(model: Any, val: Tensor, val_labels: Tensor, probe: int = 300, digits: int = 8) -> list[Any]:  # fmt: skip
    """The VQ explorer's panels for ``model`` on held-out digits ``val`` (``probe`` of them
    in the codebook plots; ``digits`` of distinct classes for the reconstructions)."""
    from vq.viz.plots import class_examples

    n = min(probe, len(val))
    picks = class_examples(val_labels, per_class=1)[:digits]
    levels = len(quantizer_levels(model.quantizer))
    shared = Probe(val[:n])
    return [
        *(CodebookPanel(shared, val_labels[:n], level) for level in range(levels)),
        ReconstructionPanel(val[picks]),
        HealthPanel(),
    ]

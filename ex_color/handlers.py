"""Trainer-side glue for the colour curriculum: the ``data-fraction`` setter and the phase plot.

``DataFraction`` is bound to the ``data-fraction`` property (``trainer.bind``) and reshapes the
sampler's focus; ``PhasePlotter`` handles ``phase-end`` events and draws each finished phase's
validation latents in their true colours.
"""

from __future__ import annotations

import logging
import os
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from ex_color.data import DynamicWeightedRandomBatchSampler, levels
from mini.atomic import atomic_write
from mini.training.criteria import batch_inputs

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from mini.training.events import Event

log = logging.getLogger(__name__)

#: At fraction 0 only cells with focus ≥ this are drawn (the purest hues).
VIBRANT_THRESHOLD = 0.99


def fraction_levels(fraction: float) -> tuple[float, float]:
    """``(in_low, out_low)`` for :func:`levels` at a data fraction in [0, 1].

    0 → in_low 0.99: everything below the threshold gets weight 0 (only the most vibrant);
    0.5 → (0, 0): the focus is used as it is; 1 → out_low 1: every weight is 1 (uniform, apart
    from the cube's own bias). In between both move linearly.

    Args:
        fraction: the data fraction in [0, 1].
    """
    f = min(max(float(fraction), 0.0), 1.0)
    in_low = VIBRANT_THRESHOLD * max(0.0, 1.0 - 2.0 * f)
    out_low = max(0.0, 2.0 * f - 1.0)
    return in_low, out_low


class DataFraction:
    """Setter for the ``data-fraction`` property: sampler weights = levels(focus, fraction).

    ``focus`` is per-cell, in [0, 1] (e.g. :func:`~ex_color.data.vibrancy` of the HSV cube).
    Calling it with the value it last applied returns at once (unless something else, such as
    a restored checkpoint, changed the sampler's distribution since), so binding it every step
    costs nothing while the property holds still.

    While the property moves it runs every step, so it does not recompute levels and a cumsum
    over all cells: with in_high = out_high = 1 the weights are
    ``out_low + c·relu(focus − in_low)``, and for the focus levels above in_low the cumulative
    sums of ``bias``, ``bias·(focus − level)·[focus ≥ level]`` and ``bias·[focus ≥ level]`` are
    precomputed once per distinct level (when levels × cells ≤ ``max_table``; else it uses the
    plain formula), so an update is three vector ops. All terms are non-negative, so the result
    stays exactly monotone.

    Args:
        sampler: the sampler whose weights it sets.
        focus: per-cell focus in [0, 1] (e.g. :func:`~ex_color.data.vibrancy`).
        max_table: precompute one table per level when levels × cells is at most this.
    """

    def __init__(
        self,
        sampler: DynamicWeightedRandomBatchSampler,
        focus: np.ndarray | Tensor,
        max_table: int = 2**20,
    ):
        self.sampler = sampler
        self.focus = torch.as_tensor(focus, dtype=torch.float64).flatten()
        if self.focus.shape != sampler.bias.shape:
            raise ValueError(f"focus has {self.focus.numel()} cells, the sampler {sampler.n_cells}")
        if self.focus.min() < 0 or self.focus.max() > 1:
            raise ValueError("focus must lie in [0, 1]")
        self.value: float | None = None
        self._version = -1
        levels_ = torch.unique(self.focus)
        self._levels: list[float] | None = None
        if len(levels_) * len(self.focus) <= max_table:
            f, b = self.focus, sampler.bias
            above = f.unsqueeze(0) >= levels_.unsqueeze(1)  # [levels, cells]
            self._levels = levels_.tolist()
            # One row per level, kept as separate tensors: indexing a 2-D tensor costs a view.
            excess = torch.cumsum(b * (f - levels_.unsqueeze(1)) * above, dim=1)
            count = torch.cumsum(b * above, dim=1)
            self._excess = list(excess.unbind(0))
            self._count = list(count.unbind(0))
            self._bias = torch.cumsum(b, 0)

    def weights(self, fraction: float) -> Tensor:
        """The focus weights at ``fraction`` (the plain formula, for inspection and tests).

        Args:
            fraction: the data fraction in [0, 1].
        """
        in_low, out_low = fraction_levels(fraction)
        return levels(self.focus, in_low, 1.0, out_low, 1.0)

    def __call__(self, value: float) -> None:
        if value == self.value and self.sampler.version == self._version:
            return
        if self._levels is None:
            self.sampler.weights = self.weights(value)
        else:
            self.sampler.set_cumulative(self._cumulative(value))
        self.value = value
        self._version = self.sampler.version

    def _cumulative(self, fraction: float) -> Tensor:
        in_low, out_low = fraction_levels(fraction)
        c = (1.0 - out_low) / (1.0 - in_low)
        k = bisect_right(self._levels, in_low)  # first level strictly above in_low
        cum = self._bias * out_low
        if k < len(self._levels):
            # Σ b·(f − in_low) over f ≥ level_k = Σ b·(f − level_k) + (level_k − in_low)·Σ b
            cum.add_(self._excess[k], alpha=c)
            cum.add_(self._count[k], alpha=c * (self._levels[k] - in_low))
        return cum


@dataclass(frozen=True, eq=False)
class PhaseSnapshot:
    """One finished phase: its name, last step, and the validation colours and latents."""

    phase: str
    step: int
    colors: np.ndarray
    latents: np.ndarray


class PhasePlotter:
    """``phase-end`` handler: keeps each finished phase's validation latents and draws them.

    The colours of the validation points come from ``colors[phase]`` when given, else from the
    event's batch. ``plot()`` returns a grid (one row per phase, one column per pair of latent
    dims) with the points in their true colours and the unit circle; ``save(path)`` writes it
    atomically.

    Args:
        dim_pairs: the latent dims drawn against each other, one column each.
        colors: phase -> the validation points' colours (default: the event's batch).
    """

    def __init__(
        self,
        dim_pairs: Sequence[tuple[int, int]] = ((0, 1), (0, 2), (0, 3)),
        colors: Mapping[str, Tensor] | None = None,
    ):
        self.dim_pairs = [tuple(p) for p in dim_pairs]
        self.colors = dict(colors or {})
        self.history: list[PhaseSnapshot] = []

    def __call__(self, event: Event) -> None:
        if event.validation is None or event.validation.latents is None:
            raise ValueError(f"phase-end at step {event.step} carries no validation latents")
        phase = event.phase or ""
        colors = self.colors.get(phase)
        if colors is None and event.batch is not None:
            colors = batch_inputs(event.batch)
        if colors is None:
            raise ValueError(f"no validation colours for phase {phase!r}: pass colors={{...}}")
        self.record(phase, event.step, colors, event.validation.latents)

    def record(self, phase: str, step: int, colors: Tensor, latents: Tensor) -> None:
        """Keep a phase's validation latents and their colours for :meth:`plot`.

        Args:
            phase: the phase's name.
            step: its last step.
            colors: RGB of each point, shape ``(n, 3)``.
            latents: the points' latents, shape ``(n, dims)``.
        """
        c = np.asarray(colors.detach().cpu(), dtype=np.float32)
        z = np.asarray(latents.detach().cpu(), dtype=np.float32)
        if len(c) != len(z):
            raise ValueError(f"{len(c)} colours for {len(z)} latents in phase {phase!r}")
        self.history.append(PhaseSnapshot(phase, int(step), c.clip(0, 1), z))
        log.info("phase %r ended at step %d", phase, step)

    def plot(self) -> Figure:
        from matplotlib.figure import Figure
        from matplotlib.patches import Circle

        rows = max(1, len(self.history))
        n_dims = max((s.latents.shape[1] for s in self.history), default=2)
        pairs = [p for p in self.dim_pairs if max(p) < n_dims] or [(0, 1)]
        fig = Figure(figsize=(3.2 * len(pairs), 3.2 * rows), facecolor="#333", layout="constrained")
        axes = fig.subplots(rows, len(pairs), squeeze=False)
        for ax in axes.flat:
            ax.set_facecolor("#222")
            ax.tick_params(colors="#ccc", labelsize=7)
            for spine in ax.spines.values():
                spine.set_color("#666")
        if not self.history:
            axes[0, 0].text(0.5, 0.5, "no phase has ended yet", ha="center", color="#ccc")
        for row, snap in enumerate(self.history):
            for col, (a, b) in enumerate(pairs):
                ax = axes[row, col]
                ax.add_patch(Circle((0, 0), 1, fill=False, ls="--", color="#888", lw=0.8))
                ax.axhline(0, color="#555", lw=0.5)
                ax.axvline(0, color="#555", lw=0.5)
                ax.scatter(snap.latents[:, a], snap.latents[:, b], c=snap.colors, s=12)
                ax.set_aspect("equal", adjustable="datalim")
                ax.set_xlabel(f"dim {a}", color="#ccc", fontsize=8)
                ax.set_ylabel(f"dim {b}", color="#ccc", fontsize=8)
                if col == 0:
                    ax.set_title(f"{snap.phase} (step {snap.step})", color="#eee", fontsize=9)
        return fig

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`plot` to ``path`` (format from the suffix) via a temp file + rename.

        Args:
            path: the image file.
        """
        path = Path(path)
        with atomic_write(path, "wb") as f:
            self.plot().savefig(f, format=path.suffix.lstrip(".") or "png", dpi=100)
        return path

    def state_dict(self) -> dict[str, Any]:
        return {
            "history": [
                {
                    "phase": s.phase,
                    "step": s.step,
                    "colors": torch.from_numpy(s.colors),
                    "latents": torch.from_numpy(s.latents),
                }
                for s in self.history
            ]
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = []
        for s in state["history"]:
            self.record(s["phase"], s["step"], s["colors"], s["latents"])

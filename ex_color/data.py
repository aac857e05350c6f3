"""Colour data: grids of colours (cubes), sampling bias, focus filters and a dynamic sampler.

A :class:`ColorCube` is a regular grid in its canonical space (HSV or RGB) with every cell's RGB
colour and a per-cell sampling ``bias``. The :class:`DynamicWeightedRandomBatchSampler` draws
batches of cell indices with probability ``bias × weights``, where the focus ``weights`` can be
replaced between batches (a curriculum widens the data from vibrant colours to the whole cube).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
from matplotlib.colors import hsv_to_rgb
from torch import Tensor

log = logging.getLogger(__name__)

ArrayOrTensor = TypeVar("ArrayOrTensor", np.ndarray, Tensor, float)


def arange_cyclic(step_size: float, lower: float = 0.0, period: float = 1.0) -> np.ndarray:
    """One lap of a periodic axis (hue) from ``lower`` in steps of ``step_size``, end excluded.

    Unlike ``np.arange(0, 1, step)`` this never returns the wrapped-around duplicate of ``lower``
    when ``period / step_size`` is a whole number up to rounding (``10/360`` gives 36 hues).

    Args:
        step_size: the spacing.
        lower: the first value.
        period: the length of one lap.
    """
    if not 0 < step_size <= period:
        raise ValueError(f"step_size must be in (0, {period}], got {step_size}")
    n = int(np.ceil(period / step_size - 1e-9))
    return (lower + step_size * np.arange(n)) % period


def _grid(*axes: np.ndarray) -> np.ndarray:
    """The cartesian grid of ``axes``: shape ``(len(a0), len(a1), ..., len(axes))``."""
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)


@dataclass(frozen=True, eq=False)
class ColorCube:
    """A grid of colours in its canonical ``space`` (``"hsv"`` or ``"rgb"``).

    ``coordinates`` are the axis values, ``rgb_grid`` (shape ``(*grid, 3)``) every cell's colour
    and ``bias`` (shape ``grid``) the relative probability of sampling each cell.

    Attributes:
        coordinates: the values along each axis.
        space: ``"hsv"`` or ``"rgb"``.
        rgb_grid: every cell's colour, shape ``(*grid, 3)``.
        bias: each cell's relative sampling probability, shape ``grid``.
    """

    coordinates: tuple[np.ndarray, np.ndarray, np.ndarray]
    space: str
    rgb_grid: np.ndarray
    bias: np.ndarray

    def __post_init__(self) -> None:
        shape = tuple(len(c) for c in self.coordinates)
        if self.rgb_grid.shape != (*shape, 3):
            raise ValueError(f"rgb_grid has shape {self.rgb_grid.shape}, expected {(*shape, 3)}")
        if self.bias.shape != shape:
            raise ValueError(f"bias has shape {self.bias.shape}, expected {shape}")

    @classmethod
    def from_hsv(cls, h: np.ndarray, s: np.ndarray, v: np.ndarray) -> ColorCube:
        """A grid over hue ``h`` (cyclic, in [0, 1)), saturation ``s`` and value ``v``.

        The HSV cube crowds colours: every cell with V=0 is the same black and every cell with
        S=0 at one value is the same grey. The bias corrects for it, so that each *distinct*
        colour weighs about as much as one vibrant cell: bilinear in (S, V) with corners
        vibrant (S=V=1) → 1, white (S=0, V=1) → 1/n_hues, black (V=0) → 1/(n_hues·n_sat).

        Args:
            h: hues in [0, 1).
            s: saturations in [0, 1].
            v: values in [0, 1].
        """
        h, s, v = (np.asarray(a, dtype=np.float64) for a in (h, s, v))
        for name, axis in (("h", h), ("s", s), ("v", v)):
            if axis.ndim != 1 or len(axis) == 0 or axis.min() < 0 or axis.max() > 1:
                raise ValueError(f"{name} must be a non-empty 1-D array of values in [0, 1]")
        hsv = _grid(h, s, v)
        rgb = hsv_to_rgb(hsv)
        ss, vv = hsv[..., 1], hsv[..., 2]
        w_black = 1.0 / (len(h) * len(s))
        w_white = 1.0 / len(h)
        bias = w_black * (1 - vv) + w_white * (1 - ss) * vv + ss * vv
        return cls((h, s, v), "hsv", rgb, bias)

    @classmethod
    def from_rgb(cls, r: np.ndarray, g: np.ndarray, b: np.ndarray) -> ColorCube:
        """A grid over red, green and blue; every cell is a distinct colour, so the bias is 1.

        Args:
            r: red levels in [0, 1].
            g: green levels.
            b: blue levels.
        """
        r, g, b = (np.asarray(a, dtype=np.float64) for a in (r, g, b))
        rgb = _grid(r, g, b)
        return cls((r, g, b), "rgb", rgb, np.ones(rgb.shape[:-1]))

    @property
    def shape(self) -> tuple[int, ...]:
        return self.bias.shape

    def coordinate_grid(self) -> np.ndarray:
        """Every cell's coordinates in the cube's own space, shape ``(*grid, 3)``."""
        return _grid(*self.coordinates)

    def colors(self) -> Tensor:
        """The cells' RGB colours as a float32 tensor of shape ``(n_cells, 3)`` (C order)."""
        return torch.tensor(self.rgb_grid.reshape(-1, 3), dtype=torch.float32)


def vibrancy(cube: ColorCube) -> np.ndarray:
    """S·V of every cell of an HSV cube: 1 for pure hues, 0 for black and greys.

    Args:
        cube: an HSV :class:`ColorCube`.
    """
    if cube.space != "hsv":
        raise ValueError(f"vibrancy needs an HSV cube, got a {cube.space!r} cube")
    hsv = cube.coordinate_grid()
    return hsv[..., 1] * hsv[..., 2]


def levels(
    x: ArrayOrTensor,
    in_low: float = 0.0,
    in_high: float = 1.0,
    out_low: float = 0.0,
    out_high: float = 1.0,
) -> ArrayOrTensor:
    """Remap ``[in_low, in_high]`` onto ``[out_low, out_high]``, clamping outside (like the Levels
    filter of an image editor). Works on floats, numpy arrays and tensors.

    With ``in_low == in_high`` it is a threshold: ``out_high`` from ``in_low`` up, else ``out_low``.

    Args:
        x: the values to remap.
        in_low: the input's low end.
        in_high: its high end.
        out_low: what ``in_low`` maps to.
        out_high: what ``in_high`` maps to.
    """
    if in_high < in_low:
        raise ValueError(f"in_high ({in_high}) must be >= in_low ({in_low})")
    if in_high == in_low:
        above = x >= in_low
        if isinstance(above, bool | np.bool_):
            return out_high if above else out_low
        return out_low + above * (out_high - out_low)
    alpha = (x - in_low) / (in_high - in_low)
    alpha = min(max(alpha, 0.0), 1.0) if isinstance(alpha, float) else alpha.clip(0.0, 1.0)
    return out_low + alpha * (out_high - out_low)


class DynamicWeightedRandomBatchSampler:
    """Batches of cell indices drawn with replacement with probability ∝ ``bias × weights``.

    ``weights`` (the focus) may be replaced between batches; the sampler keeps the normalised
    cumulative distribution, so a batch costs one ``rand`` and one ``searchsorted`` (no Python
    loop per item). Each epoch yields ``steps_per_epoch`` batches of ``batch_size`` indices
    (``LongTensor``); it also works as a ``DataLoader`` ``batch_sampler``.
    ``state_dict()`` holds the generator state, the position in the epoch and the weights, so a
    resumed run draws exactly the batches the uninterrupted one would have.

    Args:
        bias: each cell's base probability (the cube's bias).
        batch_size: indices per batch.
        steps_per_epoch: batches per epoch.
        weights: the initial focus (default: all ones).
        seed: seeds the draws.
    """

    def __init__(
        self,
        bias: np.ndarray | Tensor,
        batch_size: int,
        steps_per_epoch: int,
        weights: np.ndarray | Tensor | None = None,
        seed: int = 0,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
        self.bias = torch.as_tensor(bias, dtype=torch.float64).flatten()
        if (self.bias < 0).any() or not torch.isfinite(self.bias).all():
            raise ValueError("bias must be finite and non-negative")
        self.batch_size = batch_size
        self.steps_per_epoch = steps_per_epoch
        self.generator = torch.Generator().manual_seed(seed)
        self.position = 0
        self.version = 0  # counts distribution changes, so setters can tell theirs still holds
        self._u = torch.empty(batch_size, dtype=torch.float64)
        self.weights = torch.ones_like(self.bias) if weights is None else weights

    def __len__(self) -> int:
        return self.steps_per_epoch

    @property
    def n_cells(self) -> int:
        return self.bias.numel()

    @property
    def weights(self) -> Tensor | None:
        """The focus weights last set (flat, float64); ``None`` after :meth:`set_cumulative`."""
        return self._weights

    @weights.setter
    def weights(self, weights: np.ndarray | Tensor) -> None:
        w = torch.as_tensor(weights, dtype=torch.float64).flatten()
        if w.shape != self.bias.shape:
            raise ValueError(f"weights have {w.numel()} cells, the bias has {self.n_cells}")
        self.set_cumulative(torch.cumsum(self.bias * w.clamp(min=0.0), 0))
        self._weights = w

    def set_cumulative(self, cumulative: Tensor) -> None:
        """Set the distribution from ``cumsum(bias × weights)`` (float64, any positive scale),
        for callers that can update it more cheaply than from weights (see ``DataFraction``).
        The sampler takes ownership: it normalises the tensor in place and keeps it.

        Args:
            cumulative: ``cumsum(bias × weights)``, float64.
        """
        if cumulative.shape != self.bias.shape or cumulative.dtype != torch.float64:
            raise ValueError(
                f"cumulative must be float64 with {self.n_cells} cells, got "
                f"{cumulative.dtype} with {cumulative.numel()}"
            )
        total = cumulative[-1].item()
        if not 0 < total < math.inf:
            raise ValueError("bias × weights must be positive somewhere (nothing to sample)")
        # x / x == 1 exactly, so u ∈ [0, 1) never lands past the last cell with weight.
        self._cdf = cumulative.div_(total)
        self._weights = None
        self.version += 1

    @property
    def probabilities(self) -> Tensor:
        """Each cell's probability of being drawn (sums to 1)."""
        return torch.diff(self._cdf, prepend=self._cdf.new_zeros(1))

    def sample(self) -> Tensor:
        """One batch of indices (advances the generator, not the epoch position)."""
        self._u.uniform_(generator=self.generator)
        return torch.searchsorted(self._cdf, self._u, right=True)

    def __iter__(self) -> Iterator[Tensor]:
        if self.position >= self.steps_per_epoch:
            self.position = 0
        while self.position < self.steps_per_epoch:
            self.position += 1
            yield self.sample()
        self.position = 0

    def state_dict(self) -> dict[str, Any]:
        # The cdf is not cloned: it is never changed in place once set (set_cumulative takes a
        # new tensor), so the trainer can snapshot this state every step for free.
        return {
            "generator": self.generator.get_state(),
            "position": self.position,
            "cdf": self._cdf,
            "weights": None if self._weights is None else self._weights.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.position = int(state["position"])
        self.set_cumulative(state["cdf"].to(torch.float64, copy=True))
        self._weights = state["weights"]


@dataclass(eq=False)
class SampledBatches:
    """An iterable of ``data[indices]`` for each batch of indices the sampler draws; it forwards
    ``state_dict``/``load_state_dict`` to the sampler so checkpoints can keep its place.

    Attributes:
        data: the colours, indexed by the sampler's draws.
        sampler: draws each batch's indices.
    """

    data: Tensor
    sampler: DynamicWeightedRandomBatchSampler

    def __post_init__(self) -> None:
        if len(self.data) != self.sampler.n_cells:
            raise ValueError(
                f"data has {len(self.data)} rows but the sampler draws from {self.sampler.n_cells}"
            )

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[Tensor]:
        data = self.data
        for idx in self.sampler:
            yield data.index_select(0, idx)

    def state_dict(self) -> dict[str, Any]:
        return self.sampler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sampler.load_state_dict(state)

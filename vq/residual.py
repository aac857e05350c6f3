"""Residual vector quantization: each level quantizes what the previous levels left over."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from vq.gradients import rotation_trick, straight_through
from vq.metrics import CodebookHealth
from vq.quantizer import QuantizerOutput, VectorQuantizer


@dataclass
class ResidualOutput(QuantizerOutput):
    """A :class:`QuantizerOutput` whose ``codes`` have a trailing level dimension; ``levels``
    holds each level's own output (its ``quantized`` is that level's code vectors).

    Attributes:
        quantized: the summed code vectors.
        codes: code indices with a trailing level dimension.
        loss: the weighted sum of ``losses``.
        losses: the unweighted terms, summed over levels.
        codebook_size: the largest level's number of codes.
        extras: quantizer-specific values.
        levels: each level's own output.
    """

    levels: list[QuantizerOutput] = field(default_factory=list)

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for i, level in enumerate(self.levels):
            out.update({f"{k}/{i}": v for k, v in level.metrics().items()})
        out.update({k: float(v.detach()) for k, v in self.losses.items()})
        return out


class ResidualVQ(nn.Module):
    """A stack of :class:`VectorQuantizer` levels; level ``i`` quantizes
    ``z − (q₀ + … + qᵢ₋₁)`` and the output is ``q₀ + … + q_{L−1}``.

    Each level keeps its own codebook, temperature, usage window and dead-code refresh. The
    encoder receives one gradient estimate for the whole stack (``gradient``: straight-through
    or rotation trick from ``z`` to the summed codes), plus the relaxation gradient of any level
    that is sampling softly. ``temperature``, ``commitment`` and ``decay`` set every level at
    once; set ``rvq.quantizers[i].temperature`` for one level.

    Args:
        levels: number of levels, or ready-made quantizers (then ``dim``/``codebook_size`` and
            the keyword arguments are not used).
        dim: latent size.
        codebook_size: codes per level (one int, or one per level).
        **quantizer_kwargs: passed to every :class:`VectorQuantizer`.
    """

    def __init__(
        self,
        levels: int | Sequence[VectorQuantizer],
        dim: int | None = None,
        codebook_size: int | Sequence[int] | None = None,
        **quantizer_kwargs: object,
    ):
        super().__init__()
        if isinstance(levels, int):
            if dim is None or codebook_size is None:
                raise ValueError("give dim and codebook_size, or a list of quantizers")
            sizes = (
                [codebook_size] * levels
                if isinstance(codebook_size, int)
                else [int(k) for k in codebook_size]
            )
            if len(sizes) != levels:
                raise ValueError(f"{len(sizes)} codebook sizes for {levels} levels")
            quantizers = [VectorQuantizer(dim, k, **quantizer_kwargs) for k in sizes]  # type: ignore[arg-type]
        else:
            quantizers = list(levels)
        if not quantizers:
            raise ValueError("a ResidualVQ needs at least one level")
        dims = {q.dim for q in quantizers}
        if len(dims) != 1:
            raise ValueError(f"all levels must share one dim, got {sorted(dims)}")
        if any(q.distance == "cosine" for q in quantizers):
            raise ValueError("residual levels must be euclidean: residuals are not unit vectors")
        self.quantizers = nn.ModuleList(quantizers)
        self.dim = quantizers[0].dim
        gradient = quantizers[0].gradient
        self._estimator = rotation_trick if gradient == "rotation" else straight_through

    def __len__(self) -> int:
        return len(self.quantizers)

    @property
    def codebook_size(self) -> int:
        return max(q.codebook_size for q in self.quantizers)

    # -- settable knobs, broadcast to every level -----------------------------------------------
    def _get(self, name: str) -> float:
        return getattr(self.quantizers[0], name)

    def _set(self, name: str, value: float) -> None:
        for q in self.quantizers:
            setattr(q, name, value)

    temperature = property(
        lambda self: self._get("temperature"), lambda self, v: self._set("temperature", v)
    )
    commitment = property(
        lambda self: self._get("commitment"), lambda self, v: self._set("commitment", v)
    )
    decay = property(lambda self: self._get("decay"), lambda self, v: self._set("decay", v))

    # -- forward --------------------------------------------------------------------------------
    def forward(self, z: Tensor) -> ResidualOutput:
        """Quantize ``z`` level by level.

        Args:
            z: latents ``(..., dim)``.
        """
        residual = z
        total: Tensor | None = None
        relaxed: Tensor | None = None
        outputs: list[QuantizerOutput] = []
        for q in self.quantizers:
            out = q(residual)
            outputs.append(out)
            value = out.quantized.detach()
            if out.extras.get("relaxed"):
                part = out.quantized - value  # zero forward, the relaxation's gradient
                relaxed = part if relaxed is None else relaxed + part
            residual = residual - value
            total = value if total is None else total + value
        assert total is not None
        quantized = self._estimator(z, total)
        if relaxed is not None:
            quantized = quantized + relaxed
        names = outputs[0].losses.keys()
        losses = {k: torch.stack([o.losses[k] for o in outputs]).sum() for k in names}
        loss = torch.stack([o.loss for o in outputs]).sum()
        codes = torch.stack([o.codes for o in outputs], dim=-1)
        return ResidualOutput(
            quantized, codes, loss, losses, self.codebook_size, extras={}, levels=outputs
        )

    # -- health and refresh, per level ----------------------------------------------------------
    def lookup(self, codes: Tensor) -> Tensor:
        """Sum of each level's code vectors for ``codes`` of shape ``(..., L)``.

        Args:
            codes: ``(..., levels)`` code indices.
        """
        return sum(q.lookup(codes[..., i]) for i, q in enumerate(self.quantizers))  # type: ignore[return-value]

    def health(self, threshold: float | None = None) -> list[CodebookHealth]:
        """Each level's :class:`CodebookHealth` over its usage window.

        Args:
            threshold: uses for a code to count as active (default: each level's
                ``dead_threshold``).
        """
        return [q.health(threshold) for q in self.quantizers]

    def refresh(
        self, threshold: float | None = None, generator: torch.Generator | None = None
    ) -> list[Tensor]:
        """Refresh each level's dead codes from that level's recent residuals.

        Args:
            threshold: uses below which a code is dead (default: each level's).
            generator: the random generator (default: torch's global one).
        """
        return [q.refresh(threshold, generator=generator) for q in self.quantizers]

    def initialize(self, samples: Tensor, generator: torch.Generator | None = None) -> None:
        """K-means seed level by level: each level on the residuals the previous ones leave.

        Args:
            samples: latents ``(N, dim)``.
            generator: the random generator (default: torch's global one).
        """
        residual = samples.detach().reshape(-1, self.dim)
        for q in self.quantizers:
            q.initialize(residual, generator)
            with torch.no_grad():
                residual = residual - q.lookup(q.nearest(residual))


def quantizer_levels(quantizer: VectorQuantizer | ResidualVQ) -> list[VectorQuantizer]:
    """The codebooks of a quantizer: one for a :class:`VectorQuantizer`, one per level for a
    :class:`ResidualVQ` (what per-level metrics, bindings and refreshes iterate over).

    Args:
        quantizer: a :class:`VectorQuantizer` or :class:`ResidualVQ`.
    """
    if isinstance(quantizer, ResidualVQ):
        return list(quantizer.quantizers)  # type: ignore[arg-type]
    return [quantizer]

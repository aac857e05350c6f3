"""The colour autoencoder: RGB → small bottleneck → RGB."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mini.training.result import Result


class ColorMLP(nn.Module):
    """3 → 16 → ``bottleneck`` → 16 → 3 with GELU, sigmoid output (RGB stays in [0, 1]).

    The bottleneck is tiny on purpose: with 4 dims the regularisers can make two of them a hue
    wheel. ``normalize=True`` projects latents onto the unit sphere (like nGPT) instead of
    relying on the ``unitarity`` regulariser.

    Args:
        bottleneck: latent dims.
        normalize: project latents onto the unit sphere.
        hidden: width of the hidden layers.
    """

    def __init__(self, bottleneck: int = 4, normalize: bool = False, hidden: int = 16):
        super().__init__()
        self.bottleneck = bottleneck
        self.normalize = normalize
        self.encoder = nn.Sequential(nn.Linear(3, hidden), nn.GELU(), nn.Linear(hidden, bottleneck))
        self.decoder = nn.Sequential(
            nn.Linear(bottleneck, hidden), nn.GELU(), nn.Linear(hidden, 3), nn.Sigmoid()
        )

    def encode(self, rgb: Tensor) -> Tensor:
        """The latents of ``rgb`` (on the unit sphere with ``normalize``).

        Args:
            rgb: colours, shape ``(n, 3)`` in [0, 1].
        """
        z = self.encoder(rgb)
        if self.normalize:
            z = z / (torch.linalg.vector_norm(z, dim=-1, keepdim=True) + 1e-8)
        return z

    def forward(self, rgb: Tensor) -> Result:
        """Reconstruct ``rgb``; the :class:`~mini.training.Result` carries the latents too.

        Args:
            rgb: colours, shape ``(n, 3)`` in [0, 1].
        """
        z = self.encode(rgb)
        return Result(outputs=self.decoder(z), latents=z)

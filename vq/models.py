"""VQ autoencoders: a generic encoder → quantizer → decoder, and ready digits models.

Importing this module costs torch and the quantizers only: the trainer's :class:`Result` type
(whose package loads the whole trainer, rich and pandas) is imported on the first forward pass,
so ``from vq import VQAutoencoder`` stays as light as ``from vq import VectorQuantizer``.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from vq.quantizer import VectorQuantizer
from vq.residual import ResidualVQ

if TYPE_CHECKING:
    from mini.training.result import Result

Quantizer = VectorQuantizer | ResidualVQ


class VQAutoencoder(nn.Module):
    """``decoder(lerp(z, quantizer(z), blend))`` with ``z = encoder(x)``.

    ``blend`` is a plain float (a ``vq-blend`` column): 0 trains a plain autoencoder while the
    quantizer still runs, tracking the latents with its codebook; 1 decodes the quantized
    latents only. Returns ``Result(outputs, latents=z, extras)`` with ``quantized``, ``codes``,
    ``losses`` (unweighted quantizer terms) and ``vq_loss`` (weighted) in ``extras``.

    Args:
        encoder: inputs -> latents.
        quantizer: a :class:`VectorQuantizer` or :class:`ResidualVQ`.
        decoder: latents -> outputs.
        blend: 0: decode the latents; 1: decode the quantized latents (a ``vq-blend`` column).
    """

    def __init__(
        self, encoder: nn.Module, quantizer: Quantizer, decoder: nn.Module, blend: float = 1.0
    ):
        super().__init__()
        self.encoder = encoder
        self.quantizer = quantizer
        self.decoder = decoder
        self.blend = float(blend)

    def forward(self, x: Tensor) -> Result:
        """Encode, quantize, blend and decode ``x``; the :class:`~mini.training.Result` carries the
        latents, codes and quantizer losses.

        Args:
            x: the inputs.
        """
        z = self.encoder(x)
        q = self.quantizer(z)
        blend = self.blend
        if blend >= 1.0:
            decoded_from = q.quantized
        elif blend <= 0.0:
            decoded_from = z
        else:
            decoded_from = torch.lerp(z, q.quantized, blend)
        extras = {"quantized": q.quantized, "codes": q.codes, "losses": q.losses, "vq_loss": q.loss}
        from mini.training.result import Result  # first call only: later ones hit sys.modules

        return Result(self.decoder(decoded_from), z, extras)

    @torch.no_grad()
    def decode_codes(self, codes: Tensor) -> Tensor:
        """Decode integer codes (``(..., L)`` for a residual quantizer) straight to outputs.

        Args:
            codes: integer codes.
        """
        return self.decoder(self.quantizer.lookup(codes))


def mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers with SiLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


def digits_vqvae(
    latent_dim: int = 2,
    codes: int = 16,
    levels: int = 2,
    hidden: Sequence[int] = (256, 128),
    input_dim: int = 64,
    blend: float = 1.0,
    **quantizer_kwargs: object,
) -> VQAutoencoder:
    """An MLP VQ autoencoder for 8×8 digits: ``levels`` residual levels of ``codes`` codes on a
    ``latent_dim`` latent (one level → a plain :class:`VectorQuantizer`).

    Args:
        latent_dim: latent size.
        codes: codes per level.
        levels: residual levels.
        hidden: encoder widths (the decoder mirrors them).
        input_dim: input size.
        blend: the initial ``vq-blend``.
        quantizer_kwargs: passed to every :class:`VectorQuantizer`.
    """
    encoder = mlp([input_dim, *hidden, latent_dim])
    decoder = mlp([latent_dim, *reversed(hidden), input_dim])
    quantizer: Quantizer
    if levels == 1:
        quantizer = VectorQuantizer(latent_dim, codes, **quantizer_kwargs)  # type: ignore[arg-type]
    else:
        quantizer = ResidualVQ(levels, latent_dim, codes, **quantizer_kwargs)
    return VQAutoencoder(encoder, quantizer, decoder, blend)


def digits_vqvae_2d(codes: int = 16, levels: int = 2, **kwargs: object) -> VQAutoencoder:
    """The digits model with a 2-D latent, so codebooks and encoder outputs plot directly.

    Args:
        codes: codes per level.
        levels: residual levels.
        kwargs: passed to :func:`digits_vqvae`.
    """
    return digits_vqvae(2, codes, levels, **kwargs)  # type: ignore[arg-type]


def digits_vqvae_large(latent_dim: int = 16, codes: int = 256, levels: int = 1, **kwargs: object):
    """The digits model with a larger latent and codebook.

    Args:
        latent_dim: latent size.
        codes: codes per level.
        levels: residual levels.
        kwargs: passed to :func:`digits_vqvae`.
    """
    return digits_vqvae(latent_dim, codes, levels, **kwargs)  # type: ignore[arg-type]

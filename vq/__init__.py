"""Vector quantizers, VQ autoencoders, codebook metrics and health handlers.

>>> from vq import VectorQuantizer, ResidualVQ, VQAutoencoder, HealthMonitor, RefreshHandler
"""

from vq.criteria import recon_mse, vq_loss, vq_term
from vq.data import Batches, Digits, load_digits_split
from vq.health import HealthMonitor, RefreshHandler, quantizer_levels
from vq.metrics import (
    CodebookHealth,
    code_counts,
    codebook_health,
    dead_codes,
    effective_rank,
    perplexity,
    reconstruction_quality,
    topographic_correlation,
    utilization,
)
from vq.models import VQAutoencoder, digits_vqvae, digits_vqvae_2d, digits_vqvae_large
from vq.quantizer import QuantizerOutput, VectorQuantizer
from vq.residual import ResidualOutput, ResidualVQ
from vq.wiring import bind_quantizer, quantizer_bindings

__all__ = [
    "Batches",
    "CodebookHealth",
    "Digits",
    "HealthMonitor",
    "QuantizerOutput",
    "RefreshHandler",
    "ResidualOutput",
    "ResidualVQ",
    "VQAutoencoder",
    "VectorQuantizer",
    "bind_quantizer",
    "code_counts",
    "codebook_health",
    "dead_codes",
    "digits_vqvae",
    "digits_vqvae_2d",
    "digits_vqvae_large",
    "effective_rank",
    "load_digits_split",
    "perplexity",
    "quantizer_bindings",
    "quantizer_levels",
    "recon_mse",
    "reconstruction_quality",
    "topographic_correlation",
    "utilization",
    "vq_loss",
    "vq_term",
]

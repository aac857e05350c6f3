"""Vector quantizers, VQ autoencoders, codebook metrics and health handlers.

>>> from vq import VectorQuantizer, ResidualVQ, VQAutoencoder, HealthMonitor, RefreshHandler

Wiring a VQ autoencoder into the trainer (``schedules/vq-curriculum.csv``)::

    model = digits_vqvae_2d()                       # 2 residual levels x 16 codes, 2-D latent
    trainer = Trainer(model, opt, "schedules/vq-curriculum.csv", data,
                      {"recon": recon_mse, "commitment": vq_term("commitment")})
    bind_quantizer(trainer, model)                  # temperature, ema-decay, vq-blend
    trainer.add(RefreshHandler(model.quantizer), HealthMonitor(model.quantizer, every=100))

The curriculum: *Warm-up* trains a plain autoencoder (``vq-blend`` 0, ``commitment`` 0) while
the quantizer already tracks the latents at temperature 1 (sampled codes pull every code
towards the data, so none is stranded as the encoder moves); *Soft-codes* blends quantization
in, ramps ``commitment`` up and anneals ``temperature:log`` 1 → 0.05; *Hard-codes* takes the
temperature to 1e-4 — a log column cannot key 0, and the quantizer treats any temperature at or
below ``hard_below`` (1e-3) as hard nearest-code assignment — and decays ``lr`` 10×.
``refresh`` actions re-seed dead codes at each phase boundary.
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

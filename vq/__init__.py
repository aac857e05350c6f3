"""Vector quantizers, VQ autoencoders, codebook metrics and health handlers.

>>> from vq import VectorQuantizer, ResidualVQ, VQAutoencoder, HealthMonitor, RefreshHandler
>>> from vq import CategoricalVQ, load_table, load_tokenizer   # the categorical tokenizer

Wiring a VQ autoencoder into the trainer (``schedules/vq-curriculum.csv``)::

    model = digits_vqvae_2d()                       # 2 residual levels x 16 codes, 2-D latent
    trainer = Trainer(model, opt, "schedules/vq-curriculum.csv", data,
                      {"recon": recon_mse, "commitment": vq_term("commitment")})
    bind_quantizer(trainer, model)                  # temperature, ema-decay, vq-blend
    trainer.add(RefreshHandler(model.quantizer),
                HealthMonitor(model.quantizer, every=100, validation=held_out_digits))

``HealthMonitor`` records held-out metrics (``vq/utilization``, ``vq/l{i}/orthogonality``,
``vq/recon_quality``, ...) from its ``validation`` batch and the training window under
``vq/train/...``; see ``docs/vq.md`` for every definition.

The curriculum: *Warm-up* trains a plain autoencoder (``vq-blend`` 0, ``commitment`` 0) while
the quantizer already tracks the latents at temperature 1 (sampled codes pull every code
towards the data, so none is stranded as the encoder moves); *Soft-codes* blends quantization
in, ramps ``commitment`` up and anneals ``temperature:log`` 1 → 0.05; *Hard-codes* takes the
temperature to 1e-4 — a log column cannot key 0, and the quantizer treats any temperature at or
below ``hard_below`` (1e-3) as hard nearest-code assignment — and decays ``lr`` 10×.
``refresh`` actions re-seed dead codes at each phase boundary.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name -> submodule. Imported on first use (PEP 562), so `from vq import VectorQuantizer` costs
# torch plus the quantizer (no scikit-learn, pandas, rich or trainer): the data, health and wiring
# modules pull those in only when asked for.
_EXPORTS = {
    "Batches": "vq.train.data",
    "Digits": "vq.train.data",
    "load_digits_split": "vq.train.data",
    "HealthMonitor": "vq.train.health",
    "RefreshHandler": "vq.train.health",
    "HeldOutMetrics": "vq.train.heldout",
    "heldout_metrics": "vq.train.heldout",
    "CodebookHealth": "vq.metrics",
    "code_counts": "vq.metrics",
    "codebook_health": "vq.metrics",
    "codebook_orthogonality": "vq.metrics",
    "cross_orthogonality": "vq.metrics",
    "dead_codes": "vq.metrics",
    "effective_rank": "vq.metrics",
    "perplexity": "vq.metrics",
    "reconstruction_quality": "vq.metrics",
    "topographic_correlation": "vq.metrics",
    "utilization": "vq.metrics",
    "VQAutoencoder": "vq.models",
    "digits_vqvae": "vq.models",
    "digits_vqvae_2d": "vq.models",
    "digits_vqvae_large": "vq.models",
    "QuantizerOutput": "vq.quantizer",
    "VectorQuantizer": "vq.quantizer",
    "orthogonality_penalty": "vq.regularizers",
    "topographic_penalty": "vq.regularizers",
    "ResidualOutput": "vq.residual",
    "ResidualVQ": "vq.residual",
    "quantizer_levels": "vq.residual",
    "recon_mse": "vq.train.criteria",
    "vq_loss": "vq.train.criteria",
    "vq_term": "vq.train.criteria",
    "bind_quantizer": "vq.train.wiring",
    "quantizer_bindings": "vq.train.wiring",
    # the categorical tokenizer (docs/categorical.md)
    "FeatureAssignment": "vq.tokenizer.assignment",
    "assignment_imbalance": "vq.tokenizer.assignment",
    "assignment_overlap": "vq.tokenizer.assignment",
    "near_hard_fraction": "vq.tokenizer.assignment",
    "CategoricalConfig": "vq.tokenizer.model",
    "CategoricalVQ": "vq.tokenizer.model",
    "canonical_correlation": "vq.tokenizer.metrics",
    "inter_category_orthogonality": "vq.tokenizer.metrics",
    "discover_categories": "vq.tokenizer.discovery",
    "synthetic_table": "vq.tokenizer.synthetic",
    "FeatureTable": "vq.tokenizer.tabular",
    "TableError": "vq.tokenizer.tabular",
    "load_table": "vq.tokenizer.table_sources",
    "read_table": "vq.tokenizer.tabular",
    "split_table": "vq.tokenizer.tabular",
    "Tokenizer": "vq.tokenizer.tokens",
    "load_tokenizer": "vq.tokenizer.tokens",
    "save_tokens": "vq.tokenizer.tokens",
}

__all__ = [
    "Batches",
    "CategoricalConfig",
    "CategoricalVQ",
    "CodebookHealth",
    "Digits",
    "FeatureAssignment",
    "FeatureTable",
    "HealthMonitor",
    "HeldOutMetrics",
    "QuantizerOutput",
    "RefreshHandler",
    "ResidualOutput",
    "ResidualVQ",
    "TableError",
    "Tokenizer",
    "VQAutoencoder",
    "VectorQuantizer",
    "assignment_imbalance",
    "assignment_overlap",
    "bind_quantizer",
    "canonical_correlation",
    "code_counts",
    "codebook_health",
    "codebook_orthogonality",
    "cross_orthogonality",
    "dead_codes",
    "digits_vqvae",
    "digits_vqvae_2d",
    "digits_vqvae_large",
    "discover_categories",
    "effective_rank",
    "heldout_metrics",
    "inter_category_orthogonality",
    "load_digits_split",
    "load_table",
    "load_tokenizer",
    "near_hard_fraction",
    "orthogonality_penalty",
    "perplexity",
    "quantizer_bindings",
    "quantizer_levels",
    "read_table",
    "recon_mse",
    "reconstruction_quality",
    "save_tokens",
    "split_table",
    "synthetic_table",
    "topographic_correlation",
    "topographic_penalty",
    "utilization",
    "vq_loss",
    "vq_term",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vq' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from vq.metrics import (
        CodebookHealth,
        code_counts,
        codebook_health,
        codebook_orthogonality,
        cross_orthogonality,
        dead_codes,
        effective_rank,
        perplexity,
        reconstruction_quality,
        topographic_correlation,
        utilization,
    )
    from vq.models import VQAutoencoder, digits_vqvae, digits_vqvae_2d, digits_vqvae_large
    from vq.quantizer import QuantizerOutput, VectorQuantizer
    from vq.regularizers import orthogonality_penalty, topographic_penalty
    from vq.residual import ResidualOutput, ResidualVQ, quantizer_levels
    from vq.tokenizer.assignment import (
        FeatureAssignment,
        assignment_imbalance,
        assignment_overlap,
        near_hard_fraction,
    )
    from vq.tokenizer.discovery import discover_categories
    from vq.tokenizer.metrics import canonical_correlation, inter_category_orthogonality
    from vq.tokenizer.model import CategoricalConfig, CategoricalVQ
    from vq.tokenizer.synthetic import synthetic_table
    from vq.tokenizer.table_sources import load_table
    from vq.tokenizer.tabular import FeatureTable, TableError, read_table, split_table
    from vq.tokenizer.tokens import Tokenizer, load_tokenizer, save_tokens
    from vq.train.criteria import recon_mse, vq_loss, vq_term
    from vq.train.data import Batches, Digits, load_digits_split
    from vq.train.health import HealthMonitor, RefreshHandler
    from vq.train.heldout import HeldOutMetrics, heldout_metrics
    from vq.train.wiring import bind_quantizer, quantizer_bindings

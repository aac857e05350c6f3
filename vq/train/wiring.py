"""Standard dopesheet bindings for a VQ autoencoder: property name → quantizer/model attribute.

>>> bind_quantizer(trainer, model)  # binds what the dopesheet has of the names below

``temperature`` (every level; ``temperature-<i>`` for level ``i`` alone), ``ema-decay`` (EMA
decay, every level), ``vq-blend`` (the autoencoder's quantization blend). ``commitment`` is left
to the criterion route (``criteria={"commitment": vq_term("commitment")}``); pass
``commitment_attribute=True`` to drive the quantizer's own weight instead (with ``vq_loss``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vq.models import VQAutoencoder
from vq.residual import quantizer_levels


def _setter(obj: Any, attr: str) -> Callable[[float], None]:
    def set_value(value: float) -> None:
        setattr(obj, attr, value)

    set_value.__qualname__ = f"set_{attr}"
    return set_value


def quantizer_bindings(
    model: VQAutoencoder, commitment_attribute: bool = False
) -> dict[str, Callable[[float], None]]:
    """Every property a VQ autoencoder can be driven by, with its setter.

    Args:
        model: the VQ autoencoder.
        commitment_attribute: also bind ``commitment`` to the quantizer (when no criterion weights
            it).
    """
    q = model.quantizer
    out: dict[str, Callable[[float], None]] = {
        "temperature": _setter(q, "temperature"),
        "ema-decay": _setter(q, "decay"),
        "vq-blend": _setter(model, "blend"),
    }
    if commitment_attribute:
        out["commitment"] = _setter(q, "commitment")
    levels = quantizer_levels(q)
    if len(levels) > 1:
        for i, level in enumerate(levels):
            out[f"temperature-{i}"] = _setter(level, "temperature")
    return out


def bind_quantizer(
    trainer: Any, model: VQAutoencoder, commitment_attribute: bool = False
) -> list[str]:
    """Bind each of :func:`quantizer_bindings` that the trainer's dopesheet has; returns the
    property names bound.

    Args:
        trainer: the trainer (or an adapter).
        model: the VQ autoencoder.
        commitment_attribute: also bind ``commitment`` to the quantizer.
    """
    specs = trainer.timeline.dopesheet.specs
    bound = []
    for prop, setter in quantizer_bindings(model, commitment_attribute).items():
        if prop in specs:
            trainer.bind(prop, setter)
            bound.append(prop)
    return bound

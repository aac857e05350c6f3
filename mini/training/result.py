"""What a model's forward returns to the trainer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor


@dataclass
class Result:
    """A model's output: reconstructions, the latents (bottleneck / pre-quantization), and
    model-specific extras (e.g. ``codes``, quantizer ``losses``) that criteria and handlers read.
    Models may also return a plain tensor; the trainer wraps it as ``Result(outputs=tensor)``.

    Attributes:
        outputs: the model's outputs (reconstructions, logits).
        latents: the bottleneck (pre-quantization) latents, if any.
        extras: model-specific values criteria and handlers read (``codes``, ``losses``).
    """

    outputs: Tensor
    latents: Tensor | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def detach(self) -> Result:
        """A copy with every tensor detached (what validation hands to handlers)."""
        return Result(
            self.outputs.detach(),
            None if self.latents is None else self.latents.detach(),
            {k: v.detach() if isinstance(v, torch.Tensor) else v for k, v in self.extras.items()},
        )


def as_result(out: Any) -> Result:
    if isinstance(out, Result):
        return out
    if isinstance(out, torch.Tensor):
        return Result(out)
    raise TypeError(
        f"the model returned {type(out).__name__}; return a Result(outputs, latents, extras) "
        "or a tensor"
    )

"""A vector quantizer whose knobs a dopesheet can turn every step.

``temperature``, ``commitment`` and ``decay`` are plain float attributes, so a trainer binding
(``trainer.bind("temperature", lambda v: setattr(vq, "temperature", v))``) costs an attribute
write. The hot path has no Python loop over codes and no host-device synchronisation; usage
statistics are kept on the device and read only by :meth:`VectorQuantizer.health` and
:meth:`VectorQuantizer.refresh`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vq import upkeep
from vq.gradients import rotation_trick, straight_through
from vq.metrics import CodebookHealth, code_counts, codebook_health, perplexity
from vq.sampling import draw, gumbel_sample

Distance = Literal["euclidean", "cosine"]
Learn = Literal["ema", "loss"]
Gradient = Literal["straight-through", "rotation"]
Relaxation = Literal["sample", "gumbel", "soft"]
TemperatureScale = Literal["nearest", "none"]

DISTANCES: tuple[str, ...] = get_args(Distance)
LEARN: tuple[str, ...] = get_args(Learn)
GRADIENTS: tuple[str, ...] = get_args(Gradient)
RELAXATIONS: tuple[str, ...] = get_args(Relaxation)
TEMPERATURE_SCALES: tuple[str, ...] = get_args(TemperatureScale)


@dataclass
class QuantizerOutput:
    """What a quantizer hands back.

    ``quantized`` has the input's shape and carries the gradient estimator's gradient; ``codes``
    has the input's shape without its last dimension. ``losses`` holds the *unweighted* terms
    (``commitment`` and, when the codebook learns by loss, ``codebook``); ``loss`` is their sum
    weighted by the quantizer's ``commitment`` and ``codebook_weight`` attributes. Wire one or the
    other into the trainer, not both (see :mod:`vq.train.criteria`).

    Attributes:
        quantized: the code vectors, in the input's shape.
        codes: code indices (the input's shape without its last dimension).
        loss: the weighted sum of ``losses``.
        losses: the unweighted terms (``commitment``, ``codebook``).
        codebook_size: the number of codes.
        extras: quantizer-specific values (e.g. the soft assignment).
    """

    quantized: Tensor
    codes: Tensor
    loss: Tensor
    losses: dict[str, Tensor]
    codebook_size: int
    extras: dict[str, Any] = field(default_factory=dict)

    def metrics(self) -> dict[str, float]:
        """Batch-level numbers for logging (synchronises; keep it off the hot path)."""
        counts = code_counts(self.codes, self.codebook_size)
        out = {
            "batch_perplexity": perplexity(counts),
            "batch_codes_used": float((counts > 0).sum()),
        }
        out.update({k: float(v.detach()) for k, v in self.losses.items()})
        return out


class VectorQuantizer(nn.Module):
    """Nearest-code vector quantization with a temperature, EMA or loss-learned codebook, usage
    tracking over a rolling window and dead-code refresh.

    Args:
        dim: size of the last input dimension.
        codebook_size: number of codes ``K``.
        distance: ``"euclidean"`` or ``"cosine"`` (inputs and codes are L2-normalised).
        learn: ``"ema"`` (codebook = EMA of the inputs assigned to each code; ``decay``) or
            ``"loss"`` (codebook is a parameter trained by ``codebook_weight * |sg(z) − q|²``).
        decay: EMA decay, settable any step (``ema-decay`` column).
        commitment: weight of ``|z − sg(q)|²`` in ``loss``, settable any step.
        codebook_weight: weight of the codebook term in ``loss`` (``learn="loss"`` only).
        temperature: ``≤ hard_below`` → nearest code; above, training draws codes at random
            (see ``relaxation``). The logits are ``−d / s``: ``d`` the squared distance to each
            code and ``s`` the batch's mean distance to the nearest code when
            ``temperature_scale="nearest"`` (so a temperature means the same at any latent
            scale) or 1 with ``"none"``. Evaluation is always nearest-code.
        hard_below: temperatures at or below this are hard. A log-space dopesheet column cannot
            key 0, so key a tiny value (e.g. ``1e-4``) to end an anneal in hard codes.
        gradient: ``"straight-through"`` or ``"rotation"`` (the rotation trick).
        relaxation: what a temperature above ``hard_below`` does (training only):
            ``"sample"`` (default; ``None`` means the same) draws hard codes from
            ``softmax(logits / temperature)`` and passes ``gradient``'s estimator;
            ``"gumbel"`` is the straight-through Gumbel-softmax (Jang et al. 2017, Maddison et
            al. 2017): the code is ``argmax(logits + g)``, ``g`` i.i.d. Gumbel(0, 1) — a draw
            from ``softmax(logits)``, whatever the temperature — forwarded as the one-hot
            ``y_hard`` times the codebook, and the backward pass goes through
            ``y_soft = softmax((logits + g) / temperature)`` (``y_hard − sg(y_soft) + y_soft``,
            as ``F.gumbel_softmax(hard=True)``); the temperature only sharpens the relaxation.
            ``"soft"`` forwards the expectation ``softmax(logits / temperature) @ codebook``.
        temperature_scale: ``"nearest"`` (divide the distances by the batch's mean distance to
            the nearest code) or ``"none"`` (see ``temperature``).
        kmeans_init: seed the codebook by k-means on the first training batch.
        kmeans_iters: k-means iterations of that seeding.
        window: number of training steps the usage counts cover.
        dead_threshold: a code used fewer times than this in the window is dead.
        recent: how many recent inputs (rows) to keep for :meth:`refresh` (default ``max(1024,
            4K)``), in a ring buffer that checkpoints keep, so resumed runs refresh the same.
        eps: the smallest distance scale and EMA cluster size (keeps divisions finite).
    """

    def __init__(
        self,
        dim: int,
        codebook_size: int,
        *,
        distance: Distance = "euclidean",
        learn: Learn = "ema",
        decay: float = 0.99,
        commitment: float = 0.25,
        codebook_weight: float = 1.0,
        temperature: float = 0.0,
        hard_below: float = 1e-3,
        temperature_scale: TemperatureScale = "nearest",
        gradient: Gradient = "straight-through",
        relaxation: Relaxation | None = "sample",
        kmeans_init: bool = True,
        kmeans_iters: int = 20,
        window: int = 100,
        dead_threshold: float = 1.0,
        recent: int | None = None,
        eps: float = 1e-5,
    ):
        super().__init__()
        relaxation = "sample" if relaxation is None else relaxation
        for name, value, allowed in (
            ("distance", distance, DISTANCES),
            ("learn", learn, LEARN),
            ("gradient", gradient, GRADIENTS),
            ("relaxation", relaxation, RELAXATIONS),
            ("temperature_scale", temperature_scale, TEMPERATURE_SCALES),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if dim < 1 or codebook_size < 1 or window < 1:
            raise ValueError("dim, codebook_size and window must be >= 1")
        self.dim = dim
        self.codebook_size = codebook_size
        self.distance = distance
        self.learn = learn
        self.decay = float(decay)
        self.commitment = float(commitment)
        self.codebook_weight = float(codebook_weight)
        self.temperature = float(temperature)
        self.hard_below = float(hard_below)
        self.temperature_scale = temperature_scale
        self.gradient = gradient
        self.relaxation = relaxation
        self.kmeans_init = kmeans_init
        self.kmeans_iters = kmeans_iters
        self.window = window
        self.dead_threshold = float(dead_threshold)
        self.recent = recent if recent is not None else max(1024, 4 * codebook_size)
        self.eps = eps
        self._cosine = distance == "cosine"
        self._estimator = rotation_trick if gradient == "rotation" else straight_through

        init = torch.randn(codebook_size, dim)
        if self._cosine:
            init = F.normalize(init, dim=-1)
        if learn == "loss":
            self.codebook = nn.Parameter(init)
        else:
            self.register_buffer("codebook", init)
            self.register_buffer("cluster_size", torch.ones(codebook_size))
            self.register_buffer("embed_sum", init.clone())
        self.register_buffer("usage", torch.zeros(window, codebook_size))
        self.register_buffer("recent_buf", torch.zeros(self.recent, dim))
        # Python mirrors of the scalar buffers, so the hot path never reads the device.
        self._steps = 0
        self._initialized = not kmeans_init
        self._recent_next = 0
        self._recent_filled = 0

    # -- forward --------------------------------------------------------------------------------
    def forward(self, z: Tensor) -> QuantizerOutput:
        """Quantize ``z``: nearest codes (or, while training at a temperature, sampled ones), the
        losses, and the usage tracked for the health window.

        Args:
            z: latents ``(..., dim)``.
        """
        if z.shape[-1] != self.dim:
            raise ValueError(f"expected inputs with last dimension {self.dim}, got {z.shape}")
        flat = z.reshape(-1, self.dim)
        if self._cosine:
            flat = F.normalize(flat, dim=-1)
        training = self.training
        if training and not self._initialized:
            self.initialize(flat.detach())
        stochastic = training and self.temperature > self.hard_below
        relax = self.relaxation if stochastic and self.relaxation != "sample" else None
        codebook = self.codebook
        if relax is not None and self.learn == "ema":
            codebook = codebook.clone()  # the EMA update below writes the buffer in place

        weights: Tensor | None = None
        if stochastic and relax is None:
            codes = self._sample(flat.detach(), codebook)
        elif stochastic:
            with torch.set_grad_enabled(torch.is_grad_enabled()):
                logits = self.logits(flat, codebook)
                if relax == "soft":
                    codes = logits.detach().argmax(-1)
                    weights = (logits / self.temperature).softmax(-1)
                elif relax == "gumbel":
                    codes, weights = gumbel_sample(logits, self.temperature)
        else:
            with torch.no_grad():
                codes = self._distances(flat, codebook, full=False).argmin(-1)

        q = F.embedding(codes, codebook)
        if relax == "soft":
            out = weights @ codebook
        elif relax == "gumbel":
            # (y_hard − sg(y_soft) + y_soft) @ codebook, written so the forward value is exactly
            # q: the codebook's gradient comes through the one-hot (q), y_soft's through the mix.
            mix = weights @ codebook.detach()
            out = q + (mix - mix.detach())
        else:
            out = self._estimator(flat, q)

        losses = {"commitment": F.mse_loss(flat, q.detach())}
        loss = self.commitment * losses["commitment"]
        if self.learn == "loss":
            losses["codebook"] = F.mse_loss(q, flat.detach())
            loss = loss + self.codebook_weight * losses["codebook"]

        if training:
            upkeep.track(self, flat.detach(), codes)
        return QuantizerOutput(
            out.reshape(*z.shape[:-1], self.dim),
            codes.reshape(z.shape[:-1]),
            loss,
            losses,
            self.codebook_size,
            extras={"relaxed": relax is not None},
        )

    def logits(self, flat: Tensor, codebook: Tensor | None = None) -> Tensor:
        """Temperature-free code logits ``−d / s`` for flat inputs ``(N, dim)`` (as quantized:
        normalised for cosine); see the ``temperature`` argument for ``s``.

        Args:
            flat: inputs ``(N, dim)``.
            codebook: the codes (default: this quantizer's).
        """
        codebook = self.codebook if codebook is None else codebook
        d = self._distances(flat, codebook, full=True)
        if self.temperature_scale == "nearest":
            return d / -d.detach().min(-1).values.mean().clamp_min(self.eps)
        return -d

    @torch.no_grad()
    def _sample(self, flat: Tensor, codebook: Tensor) -> Tensor:
        """Codes drawn from ``softmax(logits / temperature)`` in place on one ``(N, K)`` buffer:
        the log-weights ``(dₘᵢₙ − d) / (s·T)`` are the logits over ``T`` shifted by a row
        constant (the row's ``|x|²`` cancels out of ``dₘᵢₙ − d``)."""
        d = self._distances(flat, codebook, full=False)
        nearest = d.min(-1, keepdim=True).values
        scale = 1.0 / self.temperature
        if self.temperature_scale == "nearest":
            full = nearest if self._cosine else nearest + (flat * flat).sum(-1, keepdim=True)
            scale = full.clamp_min_(0.0).mean().clamp_min_(self.eps).mul_(self.temperature)
            scale = scale.reciprocal_()
        return draw(torch.sub(nearest, d, out=d).mul_(scale))

    def _distances(self, x: Tensor, codebook: Tensor, full: bool) -> Tensor:
        """Squared distances ``(N, K)``; without ``full`` the per-row constant ``|x|²`` is left
        out (enough for an argmin)."""
        if self._cosine:
            return torch.addmm(x.new_full((1,), 2.0), x, codebook.t(), alpha=-2.0)
        d = torch.addmm((codebook * codebook).sum(-1), x, codebook.t(), alpha=-2.0)
        if full:
            d = (d + (x * x).sum(-1, keepdim=True)).clamp_min(0.0)
        return d

    # -- codebook management --------------------------------------------------------------------
    @torch.no_grad()
    def initialize(self, samples: Tensor, generator: torch.Generator | None = None) -> None:
        """Seed every code by k-means on ``samples`` ``(N, dim)`` (called on the first training
        batch when ``kmeans_init``; call it yourself to seed from more data).

        Args:
            samples: latents ``(N, dim)``.
            generator: the random generator (default: torch's global one).
        """
        upkeep.initialize(self, samples, generator)

    @torch.no_grad()
    def nearest(self, x: Tensor) -> Tensor:
        """Nearest-code indices for ``x`` ``(..., dim)`` (deterministic; no tracking).

        Args:
            x: latents ``(..., dim)``.
        """
        flat = x.reshape(-1, self.dim)
        if self._cosine:
            flat = F.normalize(flat, dim=-1)
        return self._distances(flat, self.codebook, full=False).argmin(-1).reshape(x.shape[:-1])

    def lookup(self, codes: Tensor) -> Tensor:
        """Code vectors for integer ``codes`` (decoding from indices).

        Args:
            codes: integer code indices.
        """
        return F.embedding(codes, self.codebook)

    @property
    def tracked_steps(self) -> int:
        """Training steps seen so far (the usage window is full once this reaches ``window``)."""
        return self._steps

    def usage_counts(self) -> Tensor:
        """How often each code was chosen during the last ``window`` training steps."""
        return self.usage.sum(0)

    def health(self, threshold: float | None = None) -> CodebookHealth:
        """Active/dead codes, utilization and perplexity over the usage window.

        Args:
            threshold: uses for a code to count as active (default ``dead_threshold``).
        """
        thr = self.dead_threshold if threshold is None else threshold
        return codebook_health(self.usage_counts(), thr)

    def dead_codes(self, threshold: float | None = None) -> Tensor:
        """Indices of codes used fewer than ``threshold`` times in the window.

        Args:
            threshold: uses below which a code is dead (default ``dead_threshold``).
        """
        thr = self.dead_threshold if threshold is None else threshold
        return (self.usage_counts() < thr).nonzero().squeeze(1)

    def recent_inputs(self) -> Tensor:
        """The most recent training inputs (as quantized: normalised for cosine), ``(M, dim)``."""
        return self.recent_buf[: self._recent_filled]

    @torch.no_grad()
    def refresh(
        self,
        threshold: float | None = None,
        samples: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Re-seed every dead code from recent inputs (or ``samples``) and return their indices.

        Seeds are drawn without replacement with probability proportional to their squared
        distance to the nearest live code (k-means++ style), so new codes go where the live
        codebook serves the data worst. Live codes are untouched; the refreshed codes' usage
        counts restart from zero.

        Args:
            threshold: uses below which a code is dead (default ``dead_threshold``).
            samples: seeds to draw from (default: the recent inputs).
            generator: the random generator (default: torch's global one).
        """
        return upkeep.refresh(self, threshold, samples, generator)

    # -- checkpoints ----------------------------------------------------------------------------
    def get_extra_state(self) -> dict[str, int]:
        """The counters kept as Python ints (so the hot path never reads the device), saved in
        ``state_dict()`` as the module's extra state (torch's own protocol, so a trainer can
        snapshot them without a full ``state_dict()``)."""
        return {
            "steps": self._steps,
            "initialized": int(self._initialized),
            "recent_next": self._recent_next,
            "recent_filled": self._recent_filled,
        }

    def set_extra_state(self, state: dict[str, int]) -> None:
        self._steps = int(state["steps"])
        self._initialized = bool(state["initialized"])
        self._recent_next = int(state["recent_next"])
        self._recent_filled = int(state["recent_filled"])

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, codebook_size={self.codebook_size}, distance={self.distance}, "
            f"learn={self.learn}, gradient={self.gradient}, relaxation={self.relaxation}"
        )

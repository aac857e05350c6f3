"""The categorical VQ-VAE tokenizer: per-category encoders → residual quantizers → decoders.

A sample ``x`` of ``F`` features becomes ``K × L`` tokens: category ``k`` encodes the features it
owns (``x ⊙ A[:, k]``, ``A`` the :class:`~vq.tokenizer.assignment.FeatureAssignment`) into a
``latent_dim`` vector, its own :class:`~vq.residual.ResidualVQ` quantizes that with ``L``
levels, and its own decoder reconstructs its features; the reconstruction of feature ``f`` is
``Σ_k A_fk · decoder_k(q_k)_f``. With a hard assignment the tokens of category ``k`` describe
exactly the features of category ``k`` — what makes the tokens readable.

The ``K`` encoders and decoders are evaluated together as grouped matrix products
(:class:`GroupedLinear`), so a step costs a few kernels however many categories there are; only
the quantizers run one per category (they keep per-category usage windows and refresh).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mini.training.result import Result
from vq.residual import ResidualVQ
from vq.tokenizer.assignment import FeatureAssignment


@dataclass(frozen=True)
class CategoricalConfig:
    """The shape of a :class:`CategoricalVQ` (kept in checkpoints to rebuild it).

    Attributes:
        n_features: input features ``F``.
        n_categories: categories ``K``.
        latent_dim: latent size per category.
        levels: residual levels per category.
        codes: codes per level.
        hidden: width of each category's encoder and decoder.
    """

    n_features: int
    n_categories: int
    latent_dim: int = 3
    levels: int = 3
    codes: int = 16
    hidden: int = 32

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class GroupedLinear(nn.Module):
    """``K`` independent linear layers applied to ``(B, K, in)`` at once: ``(B, K, out)``."""

    def __init__(
        self, groups: int, d_in: int, d_out: int, generator: torch.Generator | None = None
    ):
        super().__init__()
        bound = 1.0 / math.sqrt(d_in)
        w = (torch.rand(groups, d_in, d_out, generator=generator) * 2 - 1) * bound
        b = (torch.rand(groups, d_out, generator=generator) * 2 - 1) * bound
        self.weight = nn.Parameter(w)
        self.bias = nn.Parameter(b)

    def forward(self, x: Tensor) -> Tensor:
        return torch.baddbmm(self.bias.unsqueeze(1), x.transpose(0, 1), self.weight).transpose(0, 1)

    def select(self, keep: Tensor) -> GroupedLinear:
        """A copy holding only the groups ``keep``."""
        out = GroupedLinear.__new__(GroupedLinear)
        nn.Module.__init__(out)
        out.weight = nn.Parameter(self.weight.detach()[keep].clone())
        out.bias = nn.Parameter(self.bias.detach()[keep].clone())
        return out


class CategoricalVQ(nn.Module):
    """``F`` features → ``K`` categories × ``L`` residual levels of tokens → ``F`` features.

    ``forward(x)`` (``x`` normalised, ``(B, F)``) returns a :class:`Result` with the
    reconstruction in ``outputs``, the quantized latents of all categories side by side in
    ``latents`` ``(B, K·latent_dim)`` and in ``extras``: ``z`` (pre-quantization, ``(B, K, D)``),
    ``quantized`` ``(B, K, D)``, ``codes`` ``(B, K, L)``, ``commitment`` (summed over
    categories) and ``assignment`` (``A``).

    ``leak_noise`` (the ``assign-noise`` column) closes the back door of a soft assignment:
    an encoder can undo any gate ``A_fk > 0`` by scaling its weights, so a feature assigned
    3% to a category would still be fully visible to it. With ``leak_noise = σ`` the gated
    input is ``A_fk·x_f + σ·√(1 − A_fk²)·ε`` (``ε ~ N(0, 1)``, features normalised to unit
    variance): what a category can read of a feature is limited by how much it owns it, so
    the soft model already behaves like the hard tokenizer it will become. In eval mode the
    noise is drawn from a fixed seed, so validation figures are reproducible.

    Args:
        config: the shape.
        fixed: a fixed category per feature (static mode; ``None``: learned).
        initial: a starting category per feature for the learned assignment.
        seed: seeds the weights.
        quantizer_kwargs: passed to every :class:`VectorQuantizer`.
    """

    def __init__(
        self,
        config: CategoricalConfig,
        fixed: Tensor | None = None,
        *,
        initial: Tensor | None = None,
        seed: int = 0,
        **quantizer_kwargs: object,
    ):
        super().__init__()
        self.config = config
        c = config
        gen = torch.Generator().manual_seed(seed)
        self.assignment = FeatureAssignment(
            c.n_features, c.n_categories, fixed=fixed, initial=initial, generator=gen
        )
        self.enc1 = GroupedLinear(c.n_categories, c.n_features, c.hidden, gen)
        self.enc2 = GroupedLinear(c.n_categories, c.hidden, c.latent_dim, gen)
        self.dec1 = GroupedLinear(c.n_categories, c.latent_dim, c.hidden, gen)
        self.dec2 = GroupedLinear(c.n_categories, c.hidden, c.n_features, gen)
        self.quantizer_kwargs = dict(quantizer_kwargs)
        self.leak_noise = 0.0
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.quantizers = nn.ModuleList(
                ResidualVQ(c.levels, c.latent_dim, c.codes, **quantizer_kwargs)  # type: ignore[arg-type]
                for _ in range(c.n_categories)
            )

    @property
    def n_categories(self) -> int:
        return self.config.n_categories

    def encode_latents(self, x: Tensor, a: Tensor) -> Tensor:
        """Pre-quantization latents ``(B, K, D)`` of normalised ``x`` under assignment ``a``.

        Args:
            x: normalised features ``(B, F)``.
            a: the assignment ``(F, K)``.
        """
        w = a.t().unsqueeze(0)  # (1, K, F)
        gated = x.unsqueeze(1) * w
        if not self.assignment.hard and self.leak_noise > 0:
            gen = None if self.training else torch.Generator(x.device).manual_seed(0)
            noise = torch.randn(gated.shape, generator=gen, device=x.device, dtype=x.dtype)
            gated = gated + noise * (
                self.leak_noise * ((1.0 - w * w).clamp_min(1e-6).sqrt() - 1e-3)
            )
        return self.enc2(F.silu(self.enc1(gated)))

    def decode_latents(self, q: Tensor, a: Tensor) -> Tensor:
        """Reconstructed features ``(B, F)`` from quantized latents ``(B, K, D)``.

        Args:
            q: quantized latents ``(B, K, D)``.
            a: the assignment ``(F, K)``.
        """
        per_category = self.dec2(F.silu(self.dec1(q)))  # (B, K, F)
        return torch.einsum("bkf,fk->bf", per_category, a)

    def forward(self, x: Tensor) -> Result:
        """Reconstruct normalised ``x`` through the tokens; see the class docstring for the
        :class:`~mini.training.Result`.

        Args:
            x: normalised features ``(B, F)``.
        """
        a = self.assignment()
        z = self.encode_latents(x, a)
        quantized, codes, commitment = [], [], []
        for k, rvq in enumerate(self.quantizers):
            out = rvq(z[:, k])
            quantized.append(out.quantized)
            codes.append(out.codes)
            commitment.append(out.losses["commitment"])
        q = torch.stack(quantized, 1)
        extras = {
            "z": z,
            "quantized": q,
            "codes": torch.stack(codes, 1),
            "commitment": torch.stack(commitment).sum(),
            "assignment": a,
        }
        return Result(self.decode_latents(q, a), q.flatten(1), extras)

    # -- tokens -----------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, x: Tensor) -> Tensor:
        """Token indices ``(B, K, L)``: nearest codes of each category and level (no tracking,
        whatever the module's train/eval mode).

        Args:
            x: normalised features ``(B, F)``.
        """
        a = self.assignment()
        z = self.encode_latents(x, a)
        out = []
        for k, rvq in enumerate(self.quantizers):
            residual, level_codes = z[:, k], []
            for level in rvq.quantizers:
                idx = level.nearest(residual)
                level_codes.append(idx)
                residual = residual - level.lookup(idx)
            out.append(torch.stack(level_codes, -1))
        return torch.stack(out, 1)

    @torch.no_grad()
    def decode(self, codes: Tensor) -> Tensor:
        """Normalised features ``(B, F)`` from token indices ``(B, K, L)``.

        Args:
            codes: token indices ``(B, K, L)``.
        """
        q = torch.stack([rvq.lookup(codes[:, k]) for k, rvq in enumerate(self.quantizers)], 1)
        return self.decode_latents(q, self.assignment())

    # -- pruning ----------------------------------------------------------------------------------
    def live_categories(self) -> Tensor:
        """Indices of the categories that own at least one feature (by argmax)."""
        owned = torch.bincount(self.assignment.categories(), minlength=self.n_categories)
        return torch.nonzero(owned > 0).squeeze(1)

    def pruned(self) -> tuple[CategoricalVQ, list[int]]:
        """A copy with a hard assignment and without the categories that own no feature (their
        encoders, decoders and codebooks dropped); returns it and the kept categories' original
        indices."""
        keep = self.live_categories()
        remap = torch.full((self.n_categories,), -1, dtype=torch.long)
        remap[keep] = torch.arange(len(keep))
        fixed = remap[self.assignment.categories()]
        config = replace(self.config, n_categories=len(keep))
        out = CategoricalVQ.__new__(CategoricalVQ)
        nn.Module.__init__(out)
        out.config = config
        out.quantizer_kwargs = dict(self.quantizer_kwargs)
        out.assignment = FeatureAssignment(config.n_features, len(keep), fixed=fixed)
        for name in ("enc1", "enc2", "dec1", "dec2"):
            setattr(out, name, getattr(self, name).select(keep))
        out.quantizers = nn.ModuleList(self.quantizers[int(i)] for i in keep)
        out.leak_noise = 0.0
        out.train(self.training)
        return out, [int(i) for i in keep]

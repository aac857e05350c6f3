"""The feature → category assignment: fixed (static mode) or learned (softmax over logits).

``A = softmax(logits / temperature)`` is a ``(features, categories)`` matrix whose rows sum to
1. The dopesheet drives ``temperature`` (``assign-temperature``): soft early, so that every
category sees every feature and gradients can move features between categories; near-hard late,
so that each feature ends up owned by one category. Two losses shape it (each weighted by its
own dopesheet column):

- :func:`assignment_overlap` (``assign-orthogonality``): how much categories share features,
  ``Σ_{k≠l} (AᵀA)_kl / F`` normalised to [0, 1] — 0 when every feature belongs to exactly one
  category (the columns of ``A`` are orthogonal), 1 when every feature is spread evenly.
  Because rows sum to 1 this equals ``1 − mean_f Σ_k A_fk²`` rescaled.
- :func:`assignment_imbalance` (``assign-balance``): how unequal the category sizes
  ``n_k = Σ_f A_fk`` are, ``K/(K−1) · Σ_k (n_k/F − 1/K)²`` — 0 for equal sizes, 1 when all
  features sit in one category. It keeps early training from collapsing into one category; the
  default schedule fades it out so that planted groups of unequal size can form.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def assignment_overlap(a: Tensor) -> Tensor:
    """Off-diagonal mass of ``AᵀA`` per feature, scaled to [0, 1] (see the module docstring).

    Args:
        a: the assignment ``(F, K)``.
    """
    f, k = a.shape
    if k < 2:
        return a.new_zeros(())
    gram = a.t() @ a
    off = gram.sum() - torch.diagonal(gram).sum()
    return off / (f * (1.0 - 1.0 / k))


def assignment_imbalance(a: Tensor) -> Tensor:
    """Spread of category sizes, scaled to [0, 1] (see the module docstring).

    Args:
        a: the assignment ``(F, K)``.
    """
    f, k = a.shape
    if k < 2:
        return a.new_zeros(())
    share = a.sum(0) / f
    return ((share - 1.0 / k) ** 2).sum() * (k / (k - 1.0))


def near_hard_fraction(a: Tensor, threshold: float = 0.9) -> float:
    """Fraction of features whose largest assignment probability is at least ``threshold``.

    Args:
        a: the assignment ``(F, K)``.
        threshold: a row whose largest entry reaches this counts as near-hard.
    """
    return float((a.max(1).values >= threshold).float().mean())


class FeatureAssignment(nn.Module):
    """``(features, categories)`` assignment: learned logits at a settable temperature, or a
    fixed hard matrix (``fixed``: category index per feature; static mode).

    ``hard=True`` (set after training, and always for a fixed assignment) uses the one-hot of
    each row's argmax: the assignment the exported tokenizer uses.

    ``initial`` (a category index per feature, e.g. static discovery's) starts learned logits
    at ``initial_logit`` for that category and 0 elsewhere (plus the ``init_scale`` jitter):
    at temperature 1 with 6 categories a feature starts 60% in its discovered category, so
    training begins from found structure and can still move it (a feature can change
    category, a category can empty — merged, then pruned — or an empty one can fill — a split).

    Args:
        n_features: features ``F``.
        n_categories: categories ``K``.
        temperature: the softmax temperature (an ``assign-temperature`` column).
        fixed: a fixed category per feature (static mode).
        init_scale: the scale of the random initial logits.
        initial: a starting category per feature.
        initial_logit: the logit of that starting category.
        generator: the random generator (default: torch's global one).
    """

    def __init__(
        self,
        n_features: int,
        n_categories: int,
        *,
        temperature: float = 1.0,
        fixed: Tensor | None = None,
        init_scale: float = 0.01,
        initial: Tensor | None = None,
        initial_logit: float = 3.0,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.n_features, self.n_categories = n_features, n_categories
        self.temperature = float(temperature)
        self.learnable = fixed is None
        self.register_buffer("hardened", torch.tensor(not self.learnable))
        self.hard = not self.learnable
        if fixed is not None:
            fixed = torch.as_tensor(fixed, dtype=torch.long)
            if fixed.shape != (n_features,) or fixed.min() < 0 or fixed.max() >= n_categories:
                raise ValueError(f"fixed must be {n_features} category indices < {n_categories}")
            logits = F.one_hot(fixed, n_categories).float()
            self.register_buffer("logits", logits)
        else:
            init = torch.randn(n_features, n_categories, generator=generator) * init_scale
            if initial is not None:
                initial = torch.as_tensor(initial, dtype=torch.long)
                if (
                    initial.shape != (n_features,)
                    or not 0 <= int(initial.min()) <= int(initial.max()) < n_categories
                ):
                    raise ValueError(
                        f"initial must be {n_features} category indices < {n_categories}"
                    )
                init = init + F.one_hot(initial, n_categories).float() * initial_logit
            self.logits = nn.Parameter(init)

    @property
    def hard(self) -> bool:
        """Whether the assignment is the one-hot of its argmax (kept in checkpoints)."""
        return self._hard

    @hard.setter
    def hard(self, value: bool) -> None:
        self._hard = bool(value)
        self.hardened.fill_(self._hard)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[no-untyped-def]
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._hard = bool(self.hardened)

    def soft(self) -> Tensor:
        """``softmax(logits / temperature)`` whether or not the assignment is hard (what the
        near-hard fraction is measured on); a fixed assignment is its one-hot matrix."""
        if not self.learnable:
            return self.logits
        return torch.softmax(self.logits / max(self.temperature, 1e-6), dim=1)

    def forward(self) -> Tensor:
        if self.hard:
            idx = self.logits.detach().argmax(1)
            return F.one_hot(idx, self.n_categories).to(self.logits.dtype)
        return torch.softmax(self.logits / max(self.temperature, 1e-6), dim=1)

    def categories(self) -> Tensor:
        """The category index of each feature (argmax of its row)."""
        return self.logits.detach().argmax(1)

    def extra_repr(self) -> str:
        mode = "learnable" if self.learnable else "fixed"
        return f"features={self.n_features}, categories={self.n_categories}, {mode}"

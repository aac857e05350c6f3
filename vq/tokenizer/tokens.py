"""Tokens out: a trained categorical tokenizer, loaded from a checkpoint alone, turns a table
into one token index per category and residual level for every row — and back.

>>> tok = load_tokenizer("out/categorical_vq/checkpoints/best.pt")  # doctest: +SKIP
>>> codes = tok.encode(table)          # (rows, categories, levels) int64
>>> x = tok.decode(codes)              # (rows, features) in the table's units
>>> save_tokens("tokens.npz", tok, codes)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mini.atomic import atomic_write
from mini.training import load_checkpoint
from mini.training.modes import eval_mode
from vq.tokenizer.model import CategoricalVQ
from vq.tokenizer.run import TokenizerSpec, category_names
from vq.tokenizer.tabular import FeatureTable, TableError


@dataclass(eq=False)
class Tokenizer:
    """A pruned, hard-assignment :class:`CategoricalVQ` with its feature names and the
    normalisation statistics fitted on its training rows.

    Attributes:
        model: the pruned, hard-assignment model.
        spec: feature names and normalisation statistics.
    """

    model: CategoricalVQ
    spec: TokenizerSpec

    @property
    def features(self) -> list[str]:
        return self.spec.features

    @property
    def category_names(self) -> list[str]:
        return category_names(self.model.n_categories)

    def categories(self) -> dict[str, list[str]]:
        """Category name → its feature names."""
        cats = self.model.assignment.categories().tolist()
        return {
            name: [f for f, c in zip(self.features, cats, strict=True) if c == i]
            for i, name in enumerate(self.category_names)
        }

    def normalise(self, values: np.ndarray) -> torch.Tensor:
        """Standardise raw values with the training rows' statistics.

        Args:
            values: ``(rows, features)`` in the table's units.
        """
        v = torch.as_tensor(values, dtype=torch.float64)
        x = v / self.spec.std - self.spec.mean / self.spec.std  # no overflow near 1e308
        return x.float()

    def columns(self, table: FeatureTable) -> np.ndarray:
        """The table's values in the tokenizer's feature order (an error names what is missing).

        Args:
            table: a table with the tokenizer's features.
        """
        missing = [f for f in self.features if f not in table.features]
        if missing:
            raise TableError(
                f"{table.name}: the tokenizer needs column(s) {', '.join(map(repr, missing[:5]))}"
                f"{' ...' if len(missing) > 5 else ''}, which the table lacks"
            )
        idx = [table.features.index(f) for f in self.features]
        values = table.values[:, idx]
        if not np.isfinite(values).all():
            col = int(np.nonzero(~np.isfinite(values).all(0))[0][0])
            raise TableError(f"{table.name}: column {self.features[col]!r} has missing values")
        return values

    def encode(self, table: FeatureTable | np.ndarray) -> np.ndarray:
        """Token indices ``(rows, categories, levels)``.

        Args:
            table: a table, or values ``(rows, features)`` in the tokenizer's order.
        """
        values = self.columns(table) if isinstance(table, FeatureTable) else table
        with eval_mode(self.model):
            return self.model.encode(self.normalise(values)).numpy()

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Features ``(rows, features)`` in the table's units, from token indices.

        Args:
            codes: token indices ``(rows, categories, levels)``.
        """
        with eval_mode(self.model):
            x = self.model.decode(torch.as_tensor(codes, dtype=torch.long)).double()
        return (x * self.spec.std + self.spec.mean).numpy()


def load_tokenizer(path: str | os.PathLike[str]) -> Tokenizer:
    """The tokenizer in a trainer checkpoint (a file, or a run folder's newest), pruned and
    hard: no training data needed.

    Args:
        path: a checkpoint file or run folder.
    """
    ckpt = load_checkpoint(path)
    state = ckpt.get("handlers", {}).get("tokenizer")
    if state is None:
        raise TableError(f"{path}: not a categorical tokenizer checkpoint (no tokenizer state)")
    spec = TokenizerSpec.from_state(state)
    c = spec.config
    fixed = torch.zeros(c.n_features, dtype=torch.long) if spec.mode == "static" else None
    model = CategoricalVQ(c, fixed)
    model.load_state_dict(ckpt["model"])
    model.assignment.hard = True
    pruned, _ = model.pruned()
    pruned.eval()
    return Tokenizer(pruned, spec)


def save_tokens(path: str | os.PathLike[str], tokenizer: Tokenizer, codes: np.ndarray) -> Path:
    """``tokens.npz``: ``tokens`` ``(rows, categories, levels)``, ``categories`` (names),
    ``features`` and ``feature_category`` (each feature's category index), ``codes_per_level``;
    loadable with ``np.load(path)`` (no pickles).

    Args:
        path: the ``.npz`` file.
        tokenizer: the tokenizer that made them.
        codes: the token indices.
    """
    cats = tokenizer.model.assignment.categories().numpy()
    arrays = {
        "tokens": codes.astype(np.int64),
        "categories": np.asarray(tokenizer.category_names),
        "features": np.asarray(tokenizer.features),
        "feature_category": cats.astype(np.int64),
        "codes_per_level": np.asarray(tokenizer.model.config.codes),
    }
    path = Path(path)
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)
    return path
